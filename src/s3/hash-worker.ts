// Hashes large upload bodies on a worker thread (MD5 for the ETag, SHA-256, CRC32, SHA-1): the event loop only moves bytes.
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { compactHeap } from '../idle-gc.ts';
import { viewsAllOf } from '../release-buffer.ts';
import { S3Error } from './errors.ts';
import { hashThreadMain } from './hash-thread.ts';
import type { HashThreadData } from './hash-thread.ts';
import { MD5_LAYOUT, md5WasmModule } from './md5-wasm.ts';

/** What the worker can compute with built-ins alone: node:crypto hashes and zlib's crc32. */
export type OffloadedHash = 'md5' | 'sha1' | 'sha256' | 'crc32';

/**
 * Bytes gathered into one message: a postMessage per 64 KiB socket read would cost more than it saves, and
 * 1 MiB batches gained nothing over 256 KiB here while holding ~15 MB more at 4 concurrent uploads.
 */
const BATCH_BYTES = 256 * 1024;
/** Batches of one body held by a worker at once; past it the body waits (backpressure, flat memory). */
const MAX_IN_FLIGHT = 2;
/**
 * One worker on small machines: each holds a V8 isolate (~8 MB), and one hashes MD5 at ~600 MB/s, more than two
 * cores shared with the client and the disk take in. Two with cores to spare.
 */
const POOL_SIZE = availableParallelism() > 2 ? 2 : 1;
/** An idle worker is stopped after this long, giving its memory back. */
const IDLE_MS = 5_000;
/** The worker allocates only message envelopes: a small heap keeps its isolate near its ~6 MB floor. */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 };

// Its source text, run with `eval: true`: a single executable has no worker script file to point at.
const WORKER_CODE = `(${hashThreadMain.toString()})();`;

type FromWorker =
  | { op: 'ack'; id: number; bufs: ArrayBuffer[] }
  | { op: 'done'; id: number; digests: Uint8Array[] };

interface JobSink {
  acked(bufs: ArrayBuffer[]): void;
  done(digests: Uint8Array[]): void;
  failed(err: S3Error): void;
}

/**
 * Chunks at least this long that alone hold their memory move to the worker as they are; shorter ones are copied
 * into shared pieces. A body arriving a few bytes per TCP segment would otherwise make a message of tens of
 * thousands of buffers (enough to run the worker out of memory) and as many writes.
 */
const MOVE_MIN_BYTES = 16 * 1024;
/** The pieces short chunks are copied into. */
const COPY_PIECE_BYTES = 64 * 1024;

/**
 * Whether `bytes` alone holds its memory, so that moving it to the worker (which detaches it here) costs no copy
 * and harms no other view. A Buffer from Node's shared pool is never whole, and the pool is marked untransferable.
 */
function ownsItsMemory(bytes: Uint8Array): bytes is Uint8Array<ArrayBuffer> {
  return viewsAllOf(bytes) && !bytes.buffer.resizable && !process.getBuiltinModule('node:worker_threads').isMarkedAsUntransferable(bytes.buffer);
}

/** One worker and the bodies it is hashing; a crash or exit fails every one of them. */
class PoolWorker {
  readonly worker: Worker;
  readonly jobs = new Map<number, JobSink>();
  #idle: NodeJS.Timeout | undefined;
  #gone = false;
  readonly #onGone: (w: PoolWorker) => void;

  constructor(onGone: (w: PoolWorker) => void) {
    this.#onGone = onGone;
    // node:worker_threads loads only when a first worker starts (the first large upload): 0.2 MB of idle RssAnon.
    // The worker's isolate takes ~8 MB: the main heap first gives back what a burst of requests grew it by (the
    // idle collection of idle-gc.ts, run now because large uploads often follow small ones with no pause between).
    // One full collection per worker start, and a worker lives until 5 s without large uploads.
    compactHeap();
    const workerData: HashThreadData = { md5: md5WasmModule(), layout: MD5_LAYOUT };
    this.worker = new (process.getBuiltinModule('node:worker_threads').Worker)(WORKER_CODE, {
      eval: true, name: 'ferry-hash', resourceLimits: WORKER_LIMITS, workerData,
    });
    this.worker.on('message', (m: FromWorker) => {
      const job = this.jobs.get(m.id);
      if (job === undefined) return;
      if (m.op === 'ack') {
        job.acked(m.bufs);
      } else {
        this.remove(m.id);
        job.done(m.digests);
      }
    });
    this.worker.on('error', (err) => this.#fail(err));
    this.worker.on('exit', (code) => this.#fail(new Error(`hash worker exited with code ${code}`)));
  }

  get gone(): boolean {
    return this.#gone;
  }

  add(id: number, job: JobSink): void {
    clearTimeout(this.#idle);
    this.#idle = undefined;
    // Referenced only while it owes a digest: an idle worker never keeps the process alive.
    if (this.jobs.size === 0) this.worker.ref();
    this.jobs.set(id, job);
  }

  remove(id: number): void {
    if (!this.jobs.delete(id) || this.jobs.size > 0 || this.#gone) return;
    this.worker.unref();
    this.#idle = setTimeout(() => this.retire(), IDLE_MS);
    this.#idle.unref();
  }

  /** Leaves the pool first, so no new body is handed to a worker on its way out. */
  retire(): Promise<number> {
    if (!this.#gone) {
      this.#gone = true;
      clearTimeout(this.#idle);
      this.#onGone(this);
    }
    return this.worker.terminate();
  }

  #fail(cause: unknown): void {
    if (!this.#gone) {
      this.#gone = true;
      clearTimeout(this.#idle);
      this.#onGone(this);
    }
    if (this.jobs.size === 0) return;
    const err = new S3Error('InternalError', { cause });
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    for (const job of jobs) job.failed(err);
  }
}

const pool: PoolWorker[] = [];
let nextId = 1;

/** The worker with the fewest bodies, started on first use. */
function pickWorker(): PoolWorker {
  let best: PoolWorker | undefined;
  for (const w of pool) if (best === undefined || w.jobs.size < best.jobs.size) best = w;
  if (best !== undefined && (best.jobs.size === 0 || pool.length >= POOL_SIZE)) return best;
  const w = new PoolWorker((gone) => {
    const at = pool.indexOf(gone);
    if (at !== -1) pool.splice(at, 1);
  });
  pool.push(w);
  return w;
}

/** Stops every hash worker; bodies still being hashed fail with InternalError. For shutdown and tests. */
export async function stopHashWorkers(): Promise<void> {
  await Promise.all([...pool].map((w) => w.retire()));
}

/**
 * The hashes of one body, computed on a worker. update() moves the bytes there (or copies them, see update), and
 * the worker hands them back once hashed, in order, to `onHashed`: a socket's chunks are never copied, and the
 * caller passes them on only once they count in the digests. update() reports whether the caller may go on; when
 * it may not, wait() calls back once a batch comes back. digest() resolves with one digest per name, in order,
 * after every byte given to update() has been handed back.
 */
export class OffloadedHashes {
  readonly #id = nextId++;
  readonly #worker: PoolWorker;
  readonly #onFail: (err: S3Error) => void;
  #batch: ArrayBuffer[] = [];
  #batchBytes = 0;
  /** The piece short chunks are being copied into, and how much of it is filled. */
  #piece: ArrayBuffer | undefined;
  #pieceFilled = 0;
  #inFlight = 0;
  #waiting: ((err?: S3Error) => void) | undefined;
  #result: { resolve: (d: Buffer[]) => void; reject: (err: S3Error) => void } | undefined;
  #error: S3Error | undefined;
  #finished = false;

  /** `onFail` is called once if the worker dies before the digests are out; `onHashed` receives the bytes back. */
  constructor(hashes: readonly OffloadedHash[], onFail: (err: S3Error) => void, onHashed: (bytes: Buffer[]) => void = () => {}) {
    this.#onFail = onFail;
    this.#worker = pickWorker();
    this.#worker.add(this.#id, {
      acked: (bufs) => {
        this.#inFlight--;
        onHashed(bufs.map((buf) => Buffer.from(buf)));
        const waiting = this.#waiting;
        this.#waiting = undefined;
        waiting?.();
      },
      done: (digests) => {
        this.#finished = true;
        this.#result?.resolve(digests.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
      },
      failed: (err) => this.#failed(err),
    });
    this.#worker.worker.postMessage({ op: 'start', id: this.#id, hashes });
  }

  /** Batches currently out at the worker (for tests of the bound). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * With `mayDetach`, bytes that hold their memory alone (and are not short) are moved to the worker, which leaves
   * them empty here: only for bytes nobody else reads again (a socket's chunk). Anything else is copied.
   */
  update(bytes: Uint8Array, mayDetach = false): boolean {
    if (this.#error !== undefined) return false;
    if (mayDetach && bytes.byteLength >= MOVE_MIN_BYTES && ownsItsMemory(bytes)) {
      this.#closePiece();
      this.#add(bytes.buffer);
    } else {
      for (let at = 0; at < bytes.byteLength;) {
        this.#piece ??= new ArrayBuffer(COPY_PIECE_BYTES);
        const n = Math.min(bytes.byteLength - at, COPY_PIECE_BYTES - this.#pieceFilled);
        new Uint8Array(this.#piece, this.#pieceFilled, n).set(bytes.subarray(at, at + n));
        this.#pieceFilled += n;
        at += n;
        if (this.#pieceFilled === COPY_PIECE_BYTES) this.#closePiece();
      }
    }
    return this.#inFlight < MAX_IN_FLIGHT;
  }

  /** Calls back when update() may be called again, or with the worker's failure. */
  wait(callback: (err?: S3Error) => void): void {
    if (this.#error !== undefined) callback(this.#error);
    else if (this.#inFlight < MAX_IN_FLIGHT) callback();
    else this.#waiting = callback;
  }

  digest(): Promise<Buffer[]> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#result = { resolve, reject };
      this.#closePiece();
      if (this.#batch.length > 0) this.#send();
      this.#worker.worker.postMessage({ op: 'end', id: this.#id });
    });
  }

  /** Drops the job (the body failed or was abandoned). */
  abort(): void {
    if (this.#finished || this.#error !== undefined) return;
    this.#finished = true;
    this.#worker.remove(this.#id);
    if (!this.#worker.gone) this.#worker.worker.postMessage({ op: 'abort', id: this.#id });
    this.#batch = [];
    this.#piece = undefined;
    this.#pieceFilled = 0;
  }

  /** Ends the piece being filled (its unfilled end cut off) and adds it to the batch, bytes in order. */
  #closePiece(): void {
    const piece = this.#piece;
    if (piece === undefined || this.#pieceFilled === 0) return;
    this.#piece = undefined;
    const filled = this.#pieceFilled;
    this.#pieceFilled = 0;
    this.#add(filled === piece.byteLength ? piece : piece.transfer(filled));
  }

  #add(buf: ArrayBuffer): void {
    this.#batch.push(buf);
    this.#batchBytes += buf.byteLength;
    if (this.#batchBytes >= BATCH_BYTES) this.#send();
  }

  #send(): void {
    const bufs = this.#batch;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#inFlight++;
    this.#worker.worker.postMessage({ op: 'data', id: this.#id, bufs }, bufs);
  }

  #failed(err: S3Error): void {
    if (this.#finished || this.#error !== undefined) return;
    this.#error = err;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(err);
    const result = this.#result;
    result?.reject(err);
    // Whoever waits hears it from wait() or digest(); otherwise the caller must learn it now, not at the end.
    if (waiting === undefined && result === undefined) this.#onFail(err);
  }
}
