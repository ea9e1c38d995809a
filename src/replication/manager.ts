// Replication of one running server: attaches the outbox to the store, runs a worker per target, answers the admin API.
import { S3Error } from '../s3/errors.ts';
import type { StoreCore } from '../store/core.ts';
import type { Store } from '../store/types.ts';
import { Outbox } from './outbox.ts';
import { matches } from './queue.ts';
import type { PublicTarget, TargetRecord } from './targets.ts';
import { formatWindow, publicTarget, targetFromInput } from './targets.ts';
import { connectUpstream } from './upstream.ts';
import type { Upstream } from './upstream.ts';
import { TargetWorker } from './worker.ts';
import type { WorkerOptions, WorkerState } from './worker.ts';

/** One target's line of `ferry replication status`: the admin API's answer, and what the CLI and tests read. */
/** A target's queue figures and its worker's state (link, window, last success and error, parts uploaded). */
export interface TargetStatus extends WorkerState {
  target: PublicTarget;
  window?: string;
  depth: number;
  bytesPending: number;
  /** Age of the oldest pending change (ms), 0 when the queue is empty. */
  lagMs: number;
  failed: number;
}

/** What status says for a target whose worker has not started. */
const NO_WORKER: WorkerState = { link: 'unknown', windowOpen: true, partsUploaded: 0 };

export class Replication {
  readonly #log: (line: string) => void;
  readonly #options: WorkerOptions;
  readonly #workers = new Map<string, TargetWorker>();
  #outbox: Outbox | undefined;
  #store: Store | undefined;

  constructor(log: (line: string) => void, options: WorkerOptions = {}) {
    this.#log = log;
    this.#options = options;
  }

  /** For openStore's `attach`: installs the commit hooks before the store serves its first write. */
  readonly attach = async (core: StoreCore): Promise<void> => {
    const outbox = new Outbox(core);
    await outbox.load();
    outbox.onQueued = (ids) => {
      for (const id of ids) this.#workers.get(id)?.wake();
    };
    outbox.onDraining = (targets) => {
      for (const target of targets) {
        this.#log(`replication: bucket ${target.bucket} deleted; target ${target.id} sends what is queued, then removes itself`);
        this.#workers.get(target.id)?.wake();
      }
    };
    this.#outbox = outbox;
  };

  /** Starts a worker per target. The SDK is loaded only when a worker first has something to send. */
  start(store: Store): void {
    this.#store = store;
    for (const target of this.#requireOutbox().targets()) this.#startWorker(target.id);
  }

  #requireOutbox(): Outbox {
    if (this.#outbox === undefined) throw new Error('replication is not attached to a store');
    return this.#outbox;
  }

  #startWorker(id: string): void {
    const target = this.#requireOutbox().target(id);
    if (target === undefined || this.#store === undefined) return;
    const worker = new TargetWorker(target, this.#requireOutbox(), this.#store, this.#log, this.#options);
    worker.onDrained = () => void this.#retire(id);
    this.#workers.set(id, worker);
    worker.start();
  }

  /** A draining target that sent everything goes, with its queue state. */
  async #retire(id: string): Promise<void> {
    const target = this.#outbox?.target(id);
    try {
      await this.remove(id);
      this.#log(`replication: target ${id} of deleted bucket ${target?.bucket ?? '?'} has sent its queue and is removed`);
    } catch (err) {
      this.#log(`replication: could not remove drained target ${id}: ${(err as Error).message}`);
    }
  }

  async add(bucket: string, input: unknown): Promise<PublicTarget> {
    await this.#requireStore().headBucket(bucket);
    const record = targetFromInput(input, bucket);
    await this.#requireOutbox().addTarget(record);
    this.#startWorker(record.id);
    this.#log(`replication: added target ${record.id} for bucket ${bucket} -> ${record.endpoint}/${record.targetBucket}`);
    return publicTarget(record);
  }

  #requireStore(): Store {
    if (this.#store === undefined) throw new Error('replication is not started');
    return this.#store;
  }

  /** Every target, or the bucket's: draining ones too (they show until they have sent their queue). */
  list(bucket?: string): PublicTarget[] {
    return this.#requireOutbox().targets().filter((t) => bucket === undefined || t.bucket === bucket).map(publicTarget);
  }

  /** The targets an admin request names: one id, or every target of a bucket. */
  select(bucket: string | undefined, id: string | undefined): PublicTarget[] {
    const found = this.list(bucket).filter((t) => id === undefined || t.id === id);
    if (id !== undefined && found.length === 0) throw new S3Error('InvalidArgument', { message: `no replication target ${id}${bucket ? ` for bucket ${bucket}` : ''}` });
    return found;
  }

  async remove(id: string): Promise<void> {
    const outbox = this.#requireOutbox();
    if (outbox.target(id) === undefined) throw new S3Error('InvalidArgument', { message: `no replication target ${id}` });
    const record = outbox.target(id)!;
    await this.#workers.get(id)?.stop();
    this.#workers.delete(id);
    // At most `concurrency` uploads are ever open per target: read them before the queue state goes.
    const open = await outbox.queueOf(id).uploads.iterator().all();
    await outbox.removeTarget(id);
    this.#log(`replication: removed target ${id}`);
    if (open.length > 0) void this.#abortUploads(record, open.map(([key, progress]) => ({ key, uploadId: progress.uploadId })));
  }

  /** Best effort, in the background: parts of an abandoned upload would otherwise be billed upstream forever. */
  async #abortUploads(target: TargetRecord, uploads: Array<{ key: string; uploadId: string }>): Promise<void> {
    let upstream: Upstream | undefined;
    try {
      upstream = await connectUpstream(target);
      for (const { key, uploadId } of uploads) await upstream.abortMultipart(key, uploadId).catch(() => {});
    } catch (err) {
      this.#log(`replication: could not abort ${uploads.length} upstream upload(s) of removed target ${target.id}: ${(err as Error).message}`);
    } finally {
      upstream?.destroy();
    }
  }

  async status(bucket?: string, id?: string): Promise<TargetStatus[]> {
    const outbox = this.#requireOutbox();
    const out: TargetStatus[] = [];
    for (const target of this.select(bucket, id)) {
      const record = outbox.target(target.id)!;
      const stats = await outbox.stats(record);
      const status: TargetStatus = {
        ...(this.#workers.get(target.id)?.state ?? NO_WORKER),
        target,
        depth: stats.depth,
        bytesPending: stats.bytes,
        lagMs: stats.oldestAt === undefined ? 0 : Date.now() - stats.oldestAt,
        failed: stats.failed,
      };
      if (record.window !== undefined) status.window = formatWindow(record.window);
      out.push(status);
    }
    return out;
  }

  /**
   * Queues every object of the bucket (within each selected target's prefix) that exists now, in key order, in
   * pages from LevelDB; `progress` hears the running count after each page.
   */
  async resync(bucket: string, id: string | undefined, progress: (queued: number, scanned: number) => void): Promise<{ queued: number; scanned: number }> {
    const store = this.#requireStore();
    const outbox = this.#requireOutbox();
    const startedAt = Date.now();
    // A draining target belongs to the deleted bucket: objects of a re-created one are not its to send.
    const targets = this.select(bucket, id).map((t) => outbox.target(t.id)!).filter((t) => t.draining === undefined);
    if (id !== undefined && targets.length === 0) throw new S3Error('InvalidArgument', { message: `target ${id} is draining: its bucket was deleted` });
    let queued = 0;
    let scanned = 0;
    let after: string | undefined;
    for (;;) {
      const page = await store.listObjects(bucket, { maxKeys: 1000, ...(after !== undefined ? { after } : {}) });
      // A page at once: the store's group commit turns its thousand small commits into a few fsyncs.
      const work: Array<Promise<boolean>> = [];
      for (const object of page.objects) {
        scanned++;
        for (const target of targets) {
          if (!matches(target, object.key)) continue;
          work.push(outbox.enqueueExisting(target, object.key));
          queued++;
        }
      }
      await Promise.all(work);
      for (const target of targets) this.#workers.get(target.id)?.wake();
      progress(queued, scanned);
      if (!page.isTruncated || page.lastReturned === undefined) break;
      after = page.lastReturned;
    }
    for (const target of targets) {
      // Versions an archive target kept of deleted keys, refused before, get another try.
      if (target.mode === 'archive') queued += await outbox.requeueRetained(target);
      await outbox.markResynced(target, startedAt);
      this.#workers.get(target.id)?.wake();
    }
    return { queued, scanned };
  }

  /** A key-only walk of the bucket, for resync's progress total. */
  async countObjects(bucket: string): Promise<number> {
    await this.#requireStore().headBucket(bucket);
    let count = 0;
    for await (const _ of this.#requireOutbox().core.objectsOf(bucket).keys()) count++;
    return count;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#workers.values()].map((w) => w.stop()));
    this.#workers.clear();
  }
}
