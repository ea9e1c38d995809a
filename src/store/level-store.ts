// The Store on disk: metadata in classic-level under meta/, object bytes in plain files under data/.
import { existsSync } from 'node:fs';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { S3Error } from '../s3/errors.ts';
import type {
  BucketInfo, ByteRange, ChecksumAlgorithm, ChecksumType, CompletePlanner, IncomingBody, ListObjectsInput,
  ListObjectsResult, ListPartsInput, ListPartsResult, ListUploadsInput, ListUploadsResult, ObjectInfo,
  ObjectMeta, ObjectReader, PartInfo, ReplicationStatus, Store, UploadInfo, WriteCondition,
} from './types.ts';
import { checkCondition, del, objectInfo, put, StoreCore } from './core.ts';
import type { BucketRecord, ObjectRecord, Op } from './core.ts';
import { DataFiles } from './files.ts';
import { checkKey, isStorableBucketName } from './keys.ts';
import { listObjects } from './listing.ts';
import { Multipart } from './multipart.ts';
import { recover } from './startup.ts';
import { makeDirsSync } from '../make-dirs.ts';
import { Ballast } from './ballast.ts';
import { isNoSpace } from './journal-guard.ts';

export interface StoreOptions {
  dataDir: string;
  /** Multipart uploads older than this are aborted at startup; default 24 hours. */
  staleUploadAgeMs?: number;
  /** Free bytes data writes must leave on the filesystem (free-space.ts); default 0, no check. */
  minFreeBytes?: number;
  log?: (msg: string) => void;
  /** Runs after recovery, before the store serves: replication installs its commit hooks here. */
  attach?: (core: StoreCore) => Promise<void>;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Enough for LevelDB to flush its 4 MB memtable and write a MANIFEST; never more than the reserve itself. */
const MAX_BALLAST = 8 * 1024 * 1024;

/**
 * A multipart object's part sizes, from its segments: one per part, but an empty part has no file. Only the last
 * part can be empty (every other part is at least 5 MiB, src/s3/ops/multipart.ts), so missing ones are trailing zeros.
 */
function withPartSizes(info: ObjectInfo, record: ObjectRecord): ObjectInfo {
  if (record.partsCount === undefined) return info;
  const sizes = record.segments.map(([, size]) => size);
  while (sizes.length < record.partsCount) sizes.push(0);
  return { ...info, partSizes: sizes, ...(record.partChecksums !== undefined ? { partChecksums: record.partChecksums } : {}) };
}
/** An upload completed or aborted by someone else while the bucket was being deleted is gone either way. */
function ignoreNoSuchUpload(err: unknown): void {
  if (!(err instanceof S3Error && err.code === 'NoSuchUpload')) throw err;
}

/** Present only between a clean close() and the next open: its absence means data/ may hold orphans. */
const CLEAN_MARKER = 'clean-shutdown';

export async function openStore(options: StoreOptions): Promise<Store> {
  const log = options.log ?? (() => {});
  const dataDir = options.dataDir;
  // Private from the start: the metadata holds upstream secret keys (LevelDB itself would create meta/ 0755).
  makeDirsSync(dataDir, 0o700);
  const reserve = options.minFreeBytes ?? 0;
  const files = new DataFiles(dataDir, log, reserve);
  await files.prepare();
  const fresh = !existsSync(join(dataDir, 'meta'));
  if (fresh) await mkdir(join(dataDir, 'meta'), { mode: 0o700 });
  const db = new ClassicLevel<string, unknown>(join(dataDir, 'meta'), { valueEncoding: 'json' });
  const ballast = new Ballast(dataDir, Math.min(reserve, MAX_BALLAST), log);
  try {
    await openLevel(db, ballast);
  } catch (err) {
    // classic-level reports the held lock as the cause of LEVEL_DATABASE_NOT_OPEN.
    const cause = (err as { cause?: { code?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new Error(`${dataDir} is in use by another ferry process (LevelDB lock held)`, { cause: err });
    }
    throw err;
  }
  try {
    if (!(await ballast.ensure())) ballast.restoreLater();
    const clean = await takeCleanMarker(dataDir);
    const core = new StoreCore(db, files, log, { dir: dataDir, ballast });
    const multipart = new Multipart(core);
    await recover(core, multipart, { clean, fresh, staleBefore: Date.now() - (options.staleUploadAgeMs ?? DAY_MS) });
    await options.attach?.(core);
    return new LevelStore(core, multipart, dataDir);
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

/**
 * Opening replays LevelDB's journal into a new table, which needs free space: on a disk something else filled,
 * the ballast makes that room (ballast.ts).
 */
async function openLevel(db: ClassicLevel<string, unknown>, ballast: Ballast): Promise<void> {
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    if (cause?.code !== 'LEVEL_IO_ERROR' || !isNoSpace(cause) || !(await ballast.release())) throw err;
    await db.open();
  }
}

/** Removes the marker durably before anything can change, so a crash from now on counts as unclean. */
async function takeCleanMarker(dataDir: string): Promise<boolean> {
  try {
    await unlink(join(dataDir, CLEAN_MARKER));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await syncDir(dataDir);
  return true;
}

async function writeCleanMarker(dataDir: string): Promise<void> {
  const fh = await open(join(dataDir, CLEAN_MARKER), 'w');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await syncDir(dataDir);
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

class LevelStore implements Store {
  readonly #core: StoreCore;
  readonly #multipart: Multipart;
  readonly #dataDir: string;
  #closed: Promise<void> | undefined;

  constructor(core: StoreCore, multipart: Multipart, dataDir: string) {
    this.#core = core;
    this.#multipart = multipart;
    this.#dataDir = dataDir;
  }

  listBuckets(): Promise<BucketInfo[]> {
    return this.#core.run(async () => [...this.#core.bucketCache.keys()]
      .sort()
      .map((name) => this.#core.requireBucket(name)));
  }

  createBucket(name: string, region: string): Promise<BucketInfo> {
    return this.#core.run(async () => {
      if (!isStorableBucketName(name)) throw new S3Error('InvalidBucketName', { resource: name });
      const core = this.#core;
      const release = await core.bucketLocks.exclusive(name);
      try {
        if (core.bucketCache.has(name)) throw new S3Error('BucketAlreadyOwnedByYou', { resource: name });
        const record = { created: Date.now(), region };
        await core.commit([put(core.buckets, name, record)]);
        core.bucketCache.set(name, record);
        return { name, ...record };
      } finally {
        release();
      }
    });
  }

  headBucket(name: string): Promise<BucketInfo> {
    return this.#core.run(async () => this.#core.requireBucket(name));
  }

  /**
   * Multipart uploads still in progress do not keep a bucket: they are aborted first, as S3 does (a part uploaded
   * meanwhile finds its upload gone). Aborting takes each upload's lock, so it runs before the exclusive bucket lock:
   * a Complete holds its upload's lock while it waits for the shared bucket lock (opposite orders deadlock). Under
   * the exclusive lock nothing can be committed into the bucket; an object or upload that appeared meanwhile (a
   * Complete that won the race) keeps it: BucketNotEmpty.
   */
  deleteBucket(name: string): Promise<void> {
    return this.#core.run(async () => {
      const core = this.#core;
      core.requireBucket(name);
      const [first] = await core.objectsOf(name).keys({ limit: 1 }).all();
      if (first !== undefined) throw new S3Error('BucketNotEmpty', { resource: name });
      for (const upload of await core.uploadsOf(name).values().all()) {
        await this.#multipart.abort(name, upload.key, upload.uploadId).catch(ignoreNoSuchUpload);
      }
      const release = await core.bucketLocks.exclusive(name);
      try {
        core.requireBucket(name);
        const [object] = await core.objectsOf(name).keys({ limit: 1 }).all();
        const [upload] = await core.uploadsOf(name).keys({ limit: 1 }).all();
        if (object !== undefined || upload !== undefined) throw new S3Error('BucketNotEmpty', { resource: name });
        const ops: Op[] = [del(core.buckets, name)];
        const deleted = core.beforeDeleteBucket?.(name, ops);
        await core.commit(ops);
        core.forgetBucket(name);
        deleted?.();
      } finally {
        release();
      }
    });
  }

  /** Exclusive bucket lock: the record cannot change under a concurrent DeleteBucket. */
  putBucketTags(name: string, tags: Array<[string, string]>): Promise<void> {
    return this.#core.run(async () => {
      const core = this.#core;
      const release = await core.bucketLocks.exclusive(name);
      try {
        const current = core.bucketCache.get(name);
        if (current === undefined) throw new S3Error('NoSuchBucket', { resource: name });
        const record: BucketRecord = { created: current.created, region: current.region };
        if (tags.length > 0) record.tags = tags;
        await core.commit([put(core.buckets, name, record)]);
        core.bucketCache.set(name, record);
      } finally {
        release();
      }
    });
  }

  putObject(bucket: string, key: string, body: IncomingBody, meta: ObjectMeta, condition?: WriteCondition): Promise<ObjectInfo> {
    return this.#core.run(async () => {
      checkKey(key);
      const core = this.#core;
      core.requireBucket(bucket);
      const written = await core.writeBody(body, true);
      try {
        const digest = body.digest();
        if (digest.size !== written.size) throw new S3Error('InternalError', { message: `body digest says ${digest.size} bytes, ${written.size} were stored` });
        const info = await core.mutateObject(bucket, key, (current) => {
          checkCondition(current, condition, key);
          const record: ObjectRecord = {
            size: written.size,
            etag: digest.md5,
            lastModified: Date.now(),
            meta,
            segments: written.fileId === undefined ? [] : [[written.fileId, written.size]],
          };
          if (digest.checksum !== undefined) record.checksum = { ...digest.checksum, type: 'FULL_OBJECT' };
          const freed = current?.segments.map(([id]) => id) ?? [];
          const ops: Op[] = [put(core.objectsOf(bucket), key, record), ...core.freeOps(freed)];
          if (written.fileId !== undefined) ops.push(put(core.filesIndex, written.fileId, written.size));
          return { ops, change: { kind: 'put', bucket, key, record }, freed, result: objectInfo(key, record) };
        });
        if (written.fileId !== undefined) core.files.settle(written.fileId);
        return info;
      } catch (err) {
        if (written.fileId !== undefined) await core.files.discard(written.fileId);
        throw err;
      }
    });
  }

  headObject(bucket: string, key: string): Promise<ObjectInfo> {
    return this.#core.run(async () => {
      this.#core.requireBucket(bucket);
      const record = await this.#core.readRecord(bucket, key);
      if (record === undefined) throw new S3Error('NoSuchKey', { resource: key });
      return withPartSizes(objectInfo(key, record), record);
    });
  }

  getObject(bucket: string, key: string): Promise<ObjectReader> {
    return this.#core.run(async () => {
      const files = this.#core.files;
      this.#core.requireBucket(bucket);
      const record = await this.#core.readPinned(bucket, key);
      if (record === undefined) throw new S3Error('NoSuchKey', { resource: key });
      const ids = record.segments.map(([id]) => id);
      let pinned = true;
      let opened = false;
      const release = (): void => {
        if (!pinned) return;
        pinned = false;
        files.unpin(ids);
      };
      return {
        info: withPartSizes(objectInfo(key, record), record),
        stream(range?: ByteRange) {
          if (opened) throw new Error('ObjectReader.stream() may be called once, and not after close()');
          opened = true;
          return files.open(record.segments, range, release);
        },
        close() {
          if (opened) return;
          opened = true;
          release();
        },
      };
    });
  }

  deleteObject(bucket: string, key: string): Promise<boolean> {
    return this.#core.run(async () => {
      const core = this.#core;
      core.requireBucket(bucket);
      return core.mutateObject(bucket, key, (current) => {
        if (current === undefined) return { ops: [], freed: [], result: false };
        const freed = current.segments.map(([id]) => id);
        const ops = [del(core.objectsOf(bucket), key), ...core.freeOps(freed)];
        return { ops, change: { kind: 'delete', bucket, key }, freed, result: true };
      });
    });
  }

  putObjectTags(bucket: string, key: string, tags: Array<[string, string]>): Promise<ObjectInfo> {
    return this.#core.run(async () => {
      const core = this.#core;
      core.requireBucket(bucket);
      return core.mutateObject(bucket, key, (current) => {
        if (current === undefined) throw new S3Error('NoSuchKey', { resource: key });
        // Tagging leaves Last-Modified and the ETag alone. https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectTagging.html
        const record: ObjectRecord = { ...current, meta: { ...current.meta, tags } };
        return { ops: [put(core.objectsOf(bucket), key, record)], change: { kind: 'put', bucket, key, record }, freed: [], result: objectInfo(key, record) };
      });
    });
  }

  listObjects(bucket: string, input: ListObjectsInput): Promise<ListObjectsResult> {
    return this.#core.run(async () => {
      this.#core.requireBucket(bucket);
      return listObjects(this.#core.objectsOf(bucket), input);
    });
  }

  createMultipartUpload(bucket: string, key: string, meta: ObjectMeta, checksum?: { algorithm: ChecksumAlgorithm; type: ChecksumType }): Promise<UploadInfo> {
    return this.#core.run(() => this.#multipart.create(bucket, key, meta, checksum));
  }

  getUpload(bucket: string, key: string, uploadId: string): Promise<UploadInfo> {
    return this.#core.run(() => this.#multipart.get(bucket, key, uploadId));
  }

  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: IncomingBody): Promise<PartInfo> {
    return this.#core.run(() => this.#multipart.uploadPart(bucket, key, uploadId, partNumber, body));
  }

  listParts(bucket: string, key: string, uploadId: string, input: ListPartsInput): Promise<ListPartsResult> {
    return this.#core.run(() => this.#multipart.listParts(bucket, key, uploadId, input));
  }

  completeMultipartUpload(bucket: string, key: string, uploadId: string, plan: CompletePlanner, condition?: WriteCondition): Promise<ObjectInfo> {
    return this.#core.run(() => this.#multipart.complete(bucket, key, uploadId, plan, condition));
  }

  completedUpload(bucket: string, key: string, uploadId: string): Promise<ObjectInfo | undefined> {
    return this.#core.run(() => this.#multipart.completed(bucket, key, uploadId));
  }

  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.#core.run(() => this.#multipart.abort(bucket, key, uploadId));
  }

  listMultipartUploads(bucket: string, input: ListUploadsInput): Promise<ListUploadsResult> {
    return this.#core.run(() => this.#multipart.list(bucket, input));
  }

  replicationStatus(bucket: string, key: string): Promise<ReplicationStatus | undefined> {
    return this.#core.run(async () => this.#core.replicationStatus?.(bucket, key));
  }

  /** Idempotent. Files still pinned by open readers keep their gc entries and are removed at the next open. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#core.close();
      await writeCleanMarker(this.#dataDir);
    })();
    return this.#closed;
  }
}
