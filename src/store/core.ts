// Shared state of one open store: LevelDB sublevels, records, locks, the bucket cache and the one commit path.
import { ClassicLevel } from 'classic-level';
import type { AbstractBatchOperation, AbstractSublevel } from 'abstract-level';
import { fromFsError, S3Error } from '../s3/errors.ts';
import type {
  BucketInfo, Checksum, ChecksumAlgorithm, ChecksumType, IncomingBody, ObjectInfo, ObjectMeta, PartInfo, ReplicationStatus, UploadInfo, WriteCondition,
} from './types.ts';
import { DataFiles, readWhole, SHARED_MAX_BYTES } from './files.ts';
import type { Segment, WrittenFile } from './files.ts';
import { KeyedMutex, SharedLock } from './locks.ts';
import { isJournalFailure, JournalGuard } from './journal-guard.ts';
import type { Ballast } from './ballast.ts';

export interface BucketRecord {
  created: number;
  region: string;
  tags?: Array<[string, string]>;
}

/** An object's metadata; its key is the LevelDB key. */
export interface ObjectRecord {
  size: number;
  etag: string;
  lastModified: number;
  meta: ObjectMeta;
  checksum?: Checksum;
  partsCount?: number;
  /** A COMPOSITE multipart object's part checksums, in part order: GET ?partNumber answers the part's own. */
  partChecksums?: string[];
  /** The multipart upload this object completed: a retried Complete of it is answered again (as S3 does). */
  completedUpload?: string;
  segments: Segment[];
}

export interface UploadRecord {
  key: string;
  uploadId: string;
  initiated: number;
  meta: ObjectMeta;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: ChecksumType;
}

export interface PartRecord {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: number;
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
  /** Absent for an empty part. */
  fileId?: string;
}

type Root = ClassicLevel<string, unknown>;
export type Sub<V> = AbstractSublevel<Root, string | Buffer | Uint8Array, string, V>;
export type Op = AbstractBatchOperation<Root, string, unknown>;

/** What a commit did to an object: the replication outbox will record it in the same batch. */
export type ObjectChange =
  | { kind: 'put'; bucket: string; key: string; record: ObjectRecord }
  | { kind: 'delete'; bucket: string; key: string };

/** The result of a read-check-build step run under the object's lock. */
export interface ObjectMutation<T> {
  ops: Op[];
  change?: ObjectChange;
  /** File ids the new metadata no longer references (their gc entries are in `ops`). */
  freed: string[];
  result: T;
}

/**
 * The synchronous half of the replication hook, run just before a mutation's batch is queued: it appends the
 * outbox ops to `mutation.ops` and may take files back from `mutation.freed` (with their gc ops) to keep them.
 * `previous` is the record the mutation replaced. Returns what to undo in memory if the batch fails.
 */
export type CommitHook = (mutation: ObjectMutation<unknown>, previous: ObjectRecord | undefined) => (() => void) | void;

export function put<V>(sublevel: Sub<V>, key: string, value: V): Op {
  return { type: 'put', sublevel, key, value };
}

export function del<V>(sublevel: Sub<V>, key: string): Op {
  return { type: 'del', sublevel, key };
}

export function objectInfo(key: string, record: ObjectRecord): ObjectInfo {
  const info: ObjectInfo = { key, size: record.size, etag: record.etag, lastModified: record.lastModified, meta: record.meta };
  if (record.checksum !== undefined) info.checksum = record.checksum;
  if (record.partsCount !== undefined) info.partsCount = record.partsCount;
  return info;
}

export function uploadInfo(bucket: string, record: UploadRecord): UploadInfo {
  const info: UploadInfo = { bucket, key: record.key, uploadId: record.uploadId, initiated: record.initiated, meta: record.meta };
  if (record.checksumAlgorithm !== undefined) info.checksumAlgorithm = record.checksumAlgorithm;
  if (record.checksumType !== undefined) info.checksumType = record.checksumType;
  return info;
}

export function partInfo(record: PartRecord): PartInfo {
  const info: PartInfo = { partNumber: record.partNumber, etag: record.etag, size: record.size, lastModified: record.lastModified };
  if (record.checksum !== undefined) info.checksum = record.checksum;
  return info;
}

/** Checked inside the key lock, at commit time. https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html */
export function checkCondition(current: ObjectRecord | undefined, condition: WriteCondition | undefined, resource: string): void {
  if (condition === undefined) return;
  if (condition.ifNoneMatch === '*' && current !== undefined) throw new S3Error('PreconditionFailed', { resource });
  if (condition.ifMatch !== undefined) {
    if (current === undefined) throw new S3Error('NoSuchKey', { resource });
    if (condition.ifMatch !== '*' && condition.ifMatch !== current.etag) throw new S3Error('PreconditionFailed', { resource });
  }
}

interface QueuedCommit {
  ops: Op[];
  sync: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** LevelDB's default write_buffer_size (classic-level does not change it): the largest a memtable gets. */
const WRITE_BUFFER = 4 * 1024 * 1024;

export class StoreCore {
  readonly db: Root;
  readonly files: DataFiles;
  readonly log: (msg: string) => void;
  readonly buckets: Sub<BucketRecord>;
  readonly filesIndex: Sub<number>;
  readonly gc: Sub<number>;
  /** In-memory copy of the buckets sublevel: there are few buckets and every request checks one. */
  readonly bucketCache = new Map<string, BucketRecord>();
  readonly keyLocks = new KeyedMutex();
  readonly uploadLocks = new KeyedMutex();
  readonly bucketLocks = new SharedLock();
  /**
   * Replication hook, unset until replication exists: awaited under the object's key lock before the mutation is
   * built (the outbox reads its per-key state there), it returns the synchronous step that puts the outbox entry
   * in the mutation's own atomic batch.
   */
  prepareCommit: ((bucket: string, key: string) => Promise<CommitHook | undefined> | CommitHook | undefined) | undefined;
  /** Replication hook: adds to DeleteBucket's batch (the bucket's targets start draining); returns what to run once durable. */
  beforeDeleteBucket: ((bucket: string, ops: Op[]) => () => void) | undefined;
  /** Called once a commit carrying a change is durable: wakes the replication worker. */
  afterCommit: ((change: ObjectChange) => void) | undefined;
  /** Answers Store.replicationStatus once replication is attached. */
  replicationStatus: ((bucket: string, key: string) => Promise<ReplicationStatus | undefined>) | undefined;

  readonly #objects = new Map<string, Sub<ObjectRecord>>();
  readonly #uploads = new Map<string, Sub<UploadRecord>>();
  readonly #parts = new Map<string, Sub<PartRecord>>();
  /** Metadata reads whose files get pinned when they resolve: frees wait for them (see free()). */
  readonly #pinning = new Set<Promise<unknown>>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #bodies = new Set<IncomingBody>();
  readonly #commitQueue: QueuedCommit[] = [];
  #writing = false;
  #closing = false;
  readonly #journal: JournalGuard;

  /** `space`: the data dir and its ballast, for a broken journal (journal-guard.ts). */
  constructor(db: Root, files: DataFiles, log: (msg: string) => void, space: { dir: string; ballast: Ballast }) {
    this.db = db;
    this.files = files;
    this.log = log;
    this.#journal = new JournalGuard({
      ...space,
      log,
      // Any range: compactRange first flushes the memtable, which switches LevelDB to a new log file.
      rotate: () => this.db.compactRange('\x00', '\x00'),
      // The property counts the block cache too; a memtable holds at most LevelDB's 4 MiB write buffer.
      memtableBytes: () => Math.min(Number(this.db.getProperty('leveldb.approximate-memory-usage')) || WRITE_BUFFER, WRITE_BUFFER),
    });
    this.buckets = db.sublevel<string, BucketRecord>('buckets', { valueEncoding: 'json' });
    this.filesIndex = db.sublevel<string, number>('files', { valueEncoding: 'json' });
    this.gc = db.sublevel<string, number>('gc', { valueEncoding: 'json' });
    files.onUnlinked = async (fileId) => {
      if (this.db.status === 'open') await this.commit([del(this.gc, fileId)], { sync: false });
    };
    files.sharedRefs = (fileId) => this.sharedRefs(fileId);
  }

  objectsOf(bucket: string): Sub<ObjectRecord> {
    let sub = this.#objects.get(bucket);
    if (sub === undefined) {
      sub = this.db.sublevel<string, ObjectRecord>(['objects', bucket], { valueEncoding: 'json' });
      this.#objects.set(bucket, sub);
    }
    return sub;
  }

  uploadsOf(bucket: string): Sub<UploadRecord> {
    let sub = this.#uploads.get(bucket);
    if (sub === undefined) {
      sub = this.db.sublevel<string, UploadRecord>(['uploads', bucket], { valueEncoding: 'json' });
      this.#uploads.set(bucket, sub);
    }
    return sub;
  }

  /**
   * Parts live in a sublevel per upload id (ids are checked by isUploadId before they get here).
   * Use it under the upload's lock only: dropParts() closes it when the upload ends.
   */
  partsOf(uploadId: string): Sub<PartRecord> {
    let sub = this.#parts.get(uploadId);
    if (sub === undefined) {
      sub = this.db.sublevel<string, PartRecord>(['parts', uploadId], { valueEncoding: 'json' });
      this.#parts.set(uploadId, sub);
    }
    return sub;
  }

  /** An opened sublevel stays attached to the root database until closed: release it once its upload is gone. */
  async dropParts(uploadId: string): Promise<void> {
    const sub = this.#parts.get(uploadId);
    this.#parts.delete(uploadId);
    await sub?.close();
  }

  /** The bucket's (empty) sublevel instances stay cached: a request racing the delete can still use them, and a re-created bucket reuses them. */
  forgetBucket(name: string): void {
    this.bucketCache.delete(name);
  }

  requireBucket(name: string): BucketInfo {
    const record = this.bucketCache.get(name);
    if (record === undefined) throw new S3Error('NoSuchBucket', { resource: name });
    return { name, created: record.created, region: record.region, ...(record.tags !== undefined ? { tags: record.tags } : {}) };
  }

  /**
   * Every batch goes through here: one place for durable writes and for the replication outbox.
   * Only housekeeping that startup can redo (dropping gc entries) passes `sync: false`.
   * Group commit: while one LevelDB write is in flight, later commits queue and go out together
   * as one atomic batch with one fsync, each commit still all-or-nothing.
   */
  commit(ops: Op[], options: { change?: ObjectChange; sync?: boolean } = {}): Promise<void> {
    const change = options.change;
    const written = new Promise<void>((resolve, reject) => {
      if (this.#journal.broken !== undefined) return reject(this.#journal.broken);
      this.#commitQueue.push({ ops, sync: options.sync ?? true, resolve, reject });
      if (!this.#writing) void this.#writeQueued();
    });
    return change === undefined ? written : written.then(() => this.afterCommit?.(change));
  }

  async #writeQueued(): Promise<void> {
    this.#writing = true;
    while (this.#commitQueue.length > 0) {
      const group = this.#commitQueue.splice(0);
      // Nothing more goes to a log that failed an append: it may hold a torn record (journal-guard.ts).
      const broken = this.#journal.broken;
      if (broken !== undefined) {
        for (const commit of group) commit.reject(broken);
        continue;
      }
      try {
        await this.db.batch(group.flatMap((commit) => commit.ops), { sync: group.some((commit) => commit.sync) });
        for (const commit of group) commit.resolve();
      } catch (err) {
        const mapped = isJournalFailure(err) ? this.#journal.fail(err) : fromFsError(err);
        for (const commit of group) commit.reject(mapped);
      }
    }
    this.#writing = false;
  }

  /** Ops that stop referencing files: their index entries go, gc entries come, in the commit's batch. */
  freeOps(fileIds: string[]): Op[] {
    const ops: Op[] = [];
    for (const id of fileIds) ops.push(del(this.filesIndex, id), put(this.gc, id, 0));
    return ops;
  }

  /**
   * After a commit that freed files: unlink them once every metadata read that might still have seen
   * them has pinned what it found, so a reader never gets a record whose files are already gone.
   */
  free(fileIds: string[]): void {
    if (fileIds.length === 0) return;
    const reads = [...this.#pinning];
    if (reads.length === 0) this.files.release(fileIds);
    else void Promise.allSettled(reads).then(() => this.files.release(fileIds));
  }

  /**
   * An object's record. A synchronous LevelDB get when the sublevel is open: a point read served from LevelDB's
   * caches or the page cache takes microseconds, while the async form costs a thread-pool round trip, a promise and
   * ~4 KB of garbage per request (~10-20% of a 4 KiB GET or PUT measured). The price is that a read that must go to
   * disk blocks the event loop for that read; metadata is small next to the data, so this is rare.
   */
  readRecord(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const objects = this.objectsOf(bucket);
    // A sublevel opens asynchronously on first use, and getSync refuses until it has.
    if (objects.status !== 'open') return objects.get(key);
    try {
      return Promise.resolve(objects.getSync(key));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Reads an object record and pins its files in the same step. */
  readPinned(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const read = this.readRecord(bucket, key).then((record) => {
      if (record !== undefined) this.files.pin(record.segments.map(([id]) => id));
      return record;
    });
    this.#pinning.add(read);
    const forget = (): void => { this.#pinning.delete(read); };
    read.then(forget, forget);
    return read;
  }

  /**
   * Whether the files index lists any blob of a shared data file (files.ts writeShared): "<file id>:<offset>" keys.
   * When none is left, it first waits for the metadata reads in flight: one that read a neighbour's record before
   * that was freed pins the file when it resolves (free() waits for them the same way).
   */
  async sharedRefs(fileId: string): Promise<boolean> {
    // ':' + 1 is ';': the range holds exactly the file's blob ids.
    if ((await this.filesIndex.keys({ gt: `${fileId}:`, lt: `${fileId};`, limit: 1 }).all()).length > 0) return true;
    if (this.#pinning.size > 0) await Promise.allSettled([...this.#pinning]);
    return false;
  }

  /**
   * Writes a request body to a durable data file; close() aborts bodies still being read. With `share`, a small body
   * may share its file with others written at the same moment: settle its id after the commit (files.ts writeShared).
   */
  async writeBody(body: IncomingBody, share = false): Promise<WrittenFile> {
    this.#bodies.add(body);
    try {
      // A small streamed body (aws-chunked, as SDKs send by default; a copy) is read whole to be shared too.
      const small = share && body.size !== undefined && body.size > 0 && body.size <= SHARED_MAX_BYTES;
      if ('read' in body || small) {
        const chunks = 'read' in body ? await body.read() : await readWhole(body.stream, body.size ?? 0);
        let size = 0;
        for (const chunk of chunks) size += chunk.length;
        if (share && size > 0 && size <= SHARED_MAX_BYTES) return await this.files.writeShared(chunks, size);
        return await this.files.write(chunks, body.size);
      }
      return await this.files.write(body.stream, body.size, body.disposable ?? false);
    } finally {
      this.#bodies.delete(body);
    }
  }

  /**
   * Runs `build` on the key's current record under the bucket (shared) and key locks, commits its ops,
   * then frees the files it released. The bucket lock keeps DeleteBucket from racing the write.
   */
  async mutateObject<T>(bucket: string, key: string, build: (current: ObjectRecord | undefined) => ObjectMutation<T>): Promise<T> {
    const releaseBucket = await this.bucketLocks.shared(bucket);
    try {
      return await this.keyLocks.with(`${bucket}/${key}`, async () => {
        this.requireBucket(bucket);
        // A hook ready at once (no target has state to read for the key) needs no await: the common case stays one read.
        const preparing = this.prepareCommit?.(bucket, key);
        const [current, hook] = preparing instanceof Promise ? await Promise.all([this.readRecord(bucket, key), preparing]) : [await this.readRecord(bucket, key), preparing];
        const mutation = build(current);
        if (mutation.ops.length > 0) {
          const undo = mutation.change !== undefined ? hook?.(mutation, current) : undefined;
          try {
            await this.commit(mutation.ops, { change: mutation.change });
          } catch (err) {
            undo?.();
            throw err;
          }
        }
        this.free(mutation.freed);
        return mutation.result;
      });
    } finally {
      releaseBucket();
    }
  }

  /** Tracks a public operation so close() can wait for it; refuses new ones once closing. */
  run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new S3Error('ServiceUnavailable', { message: 'The store is shutting down.' }));
    const task = operation();
    this.#inflight.add(task);
    const forget = (): void => { this.#inflight.delete(task); };
    task.then(forget, forget);
    return task;
  }

  /** Stops new operations, aborts bodies still streaming, waits for the rest, then closes files and LevelDB. */
  async close(): Promise<void> {
    this.#closing = true;
    const aborted = new S3Error('ServiceUnavailable', { message: 'The store is shutting down.' });
    for (const body of this.#bodies) body.abort(aborted);
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    this.#journal.stop();
    await this.files.close();
    await this.db.close();
  }
}
