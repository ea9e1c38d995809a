// One target's worker: drains its queue in seq order with bounded concurrency, backs off on errors, probes a dead link.
import { Readable, pipeline } from 'node:stream';
import { isS3Error } from '../s3/errors.ts';
import type { ObjectReader, Store } from '../store/types.ts';
import { Paused, RetryLater, dropUpload, md5Base64, putMultipart, sweepUploads } from './multipart-up.ts';
import type { UploadContext } from './multipart-up.ts';
import type { Outbox } from './outbox.ts';
import type { QueueEntry } from './queue.ts';
import type { TargetRecord } from './targets.ts';
import { windowDelayMs } from './targets.ts';
import { TokenBucket, throttled } from './throttle.ts';
import { classify, connectUpstream, errorCode, httpStatus } from './upstream.ts';
import type { FailureKind, Upstream } from './upstream.ts';

export type LinkState = 'unknown' | 'up' | 'down';

/** How one entry ended: a failure kind, 'paused' (the window closed between parts), or undefined for done. */
type Outcome = FailureKind | 'paused' | undefined;

export interface WorkerState {
  link: LinkState;
  windowOpen: boolean;
  lastSuccess?: number;
  lastError?: string;
  lastErrorAt?: number;
  /** Upstream UploadPart calls that succeeded since start (tests check that a resumed upload does not restart). */
  partsUploaded: number;
}

export interface WorkerOptions {
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Longest sleep between link probes. */
  maxProbeIntervalMs?: number;
  /** How often a closed window is re-checked (default one minute). */
  windowCheckMs?: number;
  /** The local clock the window follows (tests move it). */
  now?: () => Date;
}

const MAX_BACKOFF_MS = 60_000;
const MIN_PROBE_GAP_MS = 1_000;

/** Full jitter: a random delay up to the exponential bound, so many edges do not retry in step. */
function backoff(failures: number): number {
  const bound = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(failures, 10));
  return bound / 2 + Math.random() * (bound / 2);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export class TargetWorker {
  readonly target: TargetRecord;
  readonly state: WorkerState = { link: 'unknown', windowOpen: true, partsUploaded: 0 };
  readonly #outbox: Outbox;
  readonly #store: Store;
  readonly #log: (line: string) => void;
  readonly #options: WorkerOptions;
  readonly #bucket: TokenBucket | undefined;
  #upstream: Upstream | undefined;
  #stopped = false;
  #woken = false;
  #interrupt: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #swept = false;
  #lastFailureLog: { code: string; at: number; suppressed: number } | undefined;
  /** Called once a draining target (its bucket deleted) has sent everything: the manager removes it. */
  onDrained: () => void = () => {};

  constructor(target: TargetRecord, outbox: Outbox, store: Store, log: (line: string) => void, options: WorkerOptions = {}) {
    this.target = target;
    this.#outbox = outbox;
    this.#store = store;
    this.#log = log;
    this.#options = options;
    this.#bucket = target.bandwidth === undefined ? undefined : new TokenBucket(target.bandwidth);
  }

  start(): void {
    this.#loop ??= this.#run().then((drained) => {
      if (drained) this.onDrained();
    }, (err: unknown) => {
      this.#log(`replication ${this.#name()}: worker stopped on an unexpected error: ${(err as Error).stack ?? String(err)}`);
    });
  }

  /** New queue entries: cut a wait-for-work (or a link probe's sleep) short. */
  wake(): void {
    this.#woken = true;
    this.#interrupt?.();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#interrupt?.();
    // Destroying the client fails in-flight requests at once; their entries stay queued for the next start.
    this.#upstream?.destroy();
    await this.#loop;
  }

  #name(): string {
    return `${this.target.bucket} -> ${this.target.endpoint}/${this.target.targetBucket} (${this.target.id})`;
  }

  /** Sleeps `ms` (Infinity: until woken); a wakeable sleep ends early on wake(); stop() ends any sleep. */
  #sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (wakeable && this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.#interrupt = undefined;
        resolve();
      }
      this.#interrupt = () => {
        if (this.#stopped || wakeable) done();
      };
    }).then(() => {
      if (wakeable) this.#woken = false;
    });
  }

  /**
   * One line per error code per minute: a bad credential refuses every object, and a million objects must not
   * make a million log lines (each key's error stays in the failed list for status).
   */
  #logFailure(key: string, code: string, message: string): void {
    const last = this.#lastFailureLog;
    const now = Date.now();
    if (last !== undefined && last.code === code && now - last.at < 60_000) {
      last.suppressed++;
      return;
    }
    const more = last !== undefined && last.suppressed > 0 ? ` (${last.suppressed} more ${last.code} failures not logged)` : '';
    this.#lastFailureLog = { code, at: now, suppressed: 0 };
    this.#log(`replication ${this.#name()}: ${key} failed: ${message}${more}`);
  }

  #setLink(link: LinkState, reason?: string): void {
    if (this.state.link === link) return;
    const was = this.state.link;
    this.state.link = link;
    // State changes only: a link down for days logs twice, not once per probe.
    if (link === 'down') this.#log(`replication ${this.#name()}: upstream unreachable (${reason ?? 'no answer'}); probing with back-off`);
    else if (link === 'up' && was === 'down') this.#log(`replication ${this.#name()}: upstream reachable again, resuming`);
  }

  /** Resolves true when a draining target's queue is empty (it can go), false when stopped. */
  async #run(): Promise<boolean> {
    let cursor = '';
    let failures = 0;
    const batch = Math.max(16, this.target.concurrency * 8);
    while (!this.#stopped) {
      const closedFor = windowDelayMs(this.target.window, this.#now());
      if (closedFor > 0) {
        if (this.state.windowOpen) this.#log(`replication ${this.#name()}: outside its window, sleeping`);
        this.state.windowOpen = false;
        // Capped so a clock or timezone change is noticed within a minute.
        await this.#sleep(Math.min(closedFor, this.#options.windowCheckMs ?? 60_000), false);
        continue;
      }
      if (!this.state.windowOpen) this.#log(`replication ${this.#name()}: inside its window, sending`);
      this.state.windowOpen = true;
      const entries = await this.#outbox.read(this.target.id, cursor, batch);
      if (entries.length === 0) {
        if (cursor !== '') {
          cursor = '';
          continue;
        }
        // A version the upstream refused is the only copy left of an object deleted here: the target stays (status
        // shows it FAILED) until an operator removes it, instead of freeing that copy by retiring itself.
        if (this.target.draining !== undefined && !(await this.#outbox.retainsAny(this.target))) return true;
        const windowLeft = this.#windowRemainingMs();
        await this.#sleep(windowLeft, true);
        continue;
      }
      cursor = entries.at(-1)!.seqKey;
      const upstream = await this.#connect();
      if (!this.#swept) this.#swept = await sweepUploads(this.#uploadContext(upstream));
      const worst = await this.#drain(entries, upstream);
      if (this.#stopped) break;
      if (worst === 'paused' || !this.#windowOpen()) {
        // Entries after the pause were not tried: the next pass starts over from the oldest.
        cursor = '';
      } else if (worst === 'link') {
        await this.#waitForLink(upstream);
        cursor = '';
        failures = 0;
      } else if (worst === 'transient') {
        // The cursor moves on: one key the upstream keeps refusing with 5xx must not hold back the rest of the
        // queue. What failed stays queued and is retried when the pass wraps around to the start.
        failures++;
        await this.#sleep(backoff(failures), false);
      } else {
        failures = 0;
      }
    }
    return false;
  }

  #windowOpen(): boolean {
    return windowDelayMs(this.target.window, this.#now()) === 0;
  }

  /** How long until the window closes (Infinity without one), so an idle worker re-checks it then. */
  #windowRemainingMs(): number {
    const w = this.target.window;
    if (w === undefined) return Infinity;
    const now = this.#now();
    const minute = now.getHours() * 60 + now.getMinutes();
    return Math.min((((w.end - minute + 1440) % 1440) || 1440) * 60_000, this.#options.windowCheckMs ?? Infinity);
  }

  #now(): Date {
    return this.#options.now?.() ?? new Date();
  }

  async #connect(): Promise<Upstream> {
    this.#upstream ??= await connectUpstream(this.target, {
      ...(this.#options.connectTimeoutMs !== undefined ? { connectMs: this.#options.connectTimeoutMs } : {}),
      ...(this.#options.idleTimeoutMs !== undefined ? { idleMs: this.#options.idleTimeoutMs } : {}),
    });
    return this.#upstream;
  }

  /**
   * Runs the entries `concurrency` at a time; after a link failure, or once the window has closed, no new entry
   * starts (those in flight finish: a multipart upload at its current part). Returns the worst outcome.
   */
  async #drain(entries: QueueEntry[], upstream: Upstream): Promise<Outcome> {
    let next = 0;
    let worst: Outcome;
    const lane = async (): Promise<void> => {
      while (next < entries.length && worst !== 'link' && worst !== 'paused' && !this.#stopped && this.#windowOpen()) {
        const entry = entries[next++]!;
        const outcome = await this.#replicate(entry, upstream);
        if (outcome === 'link' || outcome === 'paused' || (outcome === 'transient' && worst === undefined)) worst = outcome;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.target.concurrency, entries.length) }, lane));
    return worst;
  }

  /**
   * What the key holds now: its current object; for a draining target never (the bucket is gone, and one of the
   * same name may have been re-created); else, for an archive target, the version it kept of a deleted key.
   */
  async #source(key: string): Promise<ObjectReader | undefined> {
    if (this.target.draining === undefined) {
      try {
        return await this.#store.getObject(this.target.bucket, key);
      } catch (err) {
        if (!isS3Error(err) || (err.code !== 'NoSuchKey' && err.code !== 'NoSuchBucket')) throw err;
      }
    }
    return this.target.mode === 'archive' ? this.#outbox.openRetained(this.target, key) : undefined;
  }

  async #replicate(entry: QueueEntry, upstream: Upstream): Promise<Outcome> {
    try {
      if ((await this.#outbox.isCurrent(this.target.id, entry)) === undefined) {
        await this.#outbox.settle(this.target, entry);
        return undefined;
      }
      const reader = await this.#source(entry.key);
      if (reader === undefined) {
        await dropUpload(this.#uploadContext(upstream), entry.key);
        // Deleted here: a mirror deletes upstream too; an archive keeps what it has (nothing was retained to send).
        if (this.target.mode === 'mirror') await upstream.delete(entry.key);
      } else {
        try {
          if (reader.info.size >= this.target.multipartThreshold) await putMultipart(this.#uploadContext(upstream), reader);
          else await this.#putSingle(reader, upstream);
        } finally {
          // Unpins the bytes when an attempt failed before streaming them (a no-op once stream() ran).
          reader.close();
        }
      }
      // Done upstream: settle even when stopping (the store closes only after the workers).
      await this.#outbox.settle(this.target, entry);
      this.state.lastSuccess = Date.now();
      if (this.state.link !== 'up') this.#setLink('up');
      return undefined;
    } catch (err) {
      if (this.#stopped) return 'link';
      if (err instanceof Paused) return 'paused';
      const kind: FailureKind = err instanceof RetryLater || isS3Error(err) ? 'transient' : classify(err);
      const message = `${errorCode(err)}: ${(err as Error).message}`;
      this.state.lastError = `${entry.key}: ${message}`;
      this.state.lastErrorAt = Date.now();
      if (kind === 'link') this.#setLink('down', message);
      else if (httpStatus(err) !== undefined) this.#setLink('up');
      if (kind === 'permanent') {
        this.#logFailure(entry.key, errorCode(err), message);
        await this.#outbox.settle(this.target, entry, message);
      }
      return kind;
    }
  }

  #uploadContext(upstream: Upstream): UploadContext {
    return {
      target: this.target,
      outbox: this.#outbox,
      upstream,
      body: (part) => this.#body(part),
      halted: () => (this.#stopped ? 'stopping' : this.#windowOpen() ? undefined : 'outside the window'),
      onPart: () => {
        this.state.partsUploaded++;
      },
    };
  }

  /** The bandwidth cap sits on every body; without one the body goes as it is. */
  #body(source: Readable | Buffer): Readable {
    // A Buffer body would make the SDK SHA-256 it for the signature over http; as a stream it goes UNSIGNED-PAYLOAD,
    // and Content-MD5 still has the upstream verify every byte.
    const from = Buffer.isBuffer(source) ? Readable.from(chunked(source)) : source;
    if (this.#bucket === undefined) return from;
    return pipeline(from, throttled(this.#bucket), () => {});
  }

  async #putSingle(reader: ObjectReader, upstream: Upstream): Promise<void> {
    const info = reader.info;
    // A single-part ETag is the MD5 of the bytes; a small multipart object has to be read to get one.
    if (info.size === 0) {
      await upstream.put(info, Buffer.alloc(0), md5Base64(Buffer.alloc(0)));
      return;
    }
    if (/^[0-9a-f]{32}$/.test(info.etag)) {
      const stream = reader.stream();
      try {
        await upstream.put(info, this.#body(stream), Buffer.from(info.etag, 'hex').toString('base64'));
      } finally {
        stream.destroy();
      }
      return;
    }
    const bytes = await readAll(reader.stream());
    await upstream.put(info, this.#body(bytes), md5Base64(bytes));
  }

  /** Link down: no queue work, only a HeadBucket now and then, sooner when new work is queued. */
  async #waitForLink(upstream: Upstream): Promise<void> {
    const max = this.#options.maxProbeIntervalMs ?? 60_000;
    let interval = 1_000;
    let lastProbe = Date.now();
    while (!this.#stopped) {
      await this.#sleep(Math.min(max, interval) * (0.75 + Math.random() * 0.5), true);
      const gap = Date.now() - lastProbe;
      if (gap < MIN_PROBE_GAP_MS) await this.#sleep(MIN_PROBE_GAP_MS - gap, false);
      if (this.#stopped) return;
      lastProbe = Date.now();
      try {
        await upstream.probe();
        this.#setLink('up');
        return;
      } catch (err) {
        this.state.lastError = `probe: ${errorCode(err)}: ${(err as Error).message}`;
        this.state.lastErrorAt = Date.now();
        interval *= 2;
      }
    }
  }
}

function* chunked(buffer: Buffer, size = 256 * 1024): Generator<Buffer> {
  for (let offset = 0; offset < buffer.length; offset += size) yield buffer.subarray(offset, offset + size);
}
