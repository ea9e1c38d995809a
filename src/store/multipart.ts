// Multipart uploads: parts are data files of their own; completion turns them into the object's segments without copying.
import { S3Error } from '../s3/errors.ts';
import type {
  ChecksumAlgorithm, ChecksumType, CompletePlanner, IncomingBody, ListPartsInput, ListPartsResult,
  ListUploadsInput, ListUploadsResult, ObjectInfo, ObjectMeta, PartInfo, UploadInfo, WriteCondition,
} from './types.ts';
import { checkCondition, del, objectInfo, partInfo, put, uploadInfo } from './core.ts';
import type { ObjectRecord, Op, PartRecord, StoreCore, UploadRecord } from './core.ts';
import { checkKey, isUploadId, newUploadId, partKey, uploadKey } from './keys.ts';
import type { Segment } from './files.ts';
import { listUploads } from './listing.ts';

/** https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html */
const MAX_PART_NUMBER = 10000;

export class Multipart {
  readonly #core: StoreCore;

  constructor(core: StoreCore) {
    this.#core = core;
  }

  async create(bucket: string, key: string, meta: ObjectMeta, checksum?: { algorithm: ChecksumAlgorithm; type: ChecksumType }): Promise<UploadInfo> {
    checkKey(key);
    const core = this.#core;
    const release = await core.bucketLocks.shared(bucket);
    try {
      core.requireBucket(bucket);
      const now = Date.now();
      const record: UploadRecord = { key, uploadId: newUploadId(now), initiated: now, meta };
      if (checksum !== undefined) {
        record.checksumAlgorithm = checksum.algorithm;
        record.checksumType = checksum.type;
      }
      await core.commit([put(core.uploadsOf(bucket), uploadKey(key, record.uploadId), record)]);
      return uploadInfo(bucket, record);
    } finally {
      release();
    }
  }

  async get(bucket: string, key: string, uploadId: string): Promise<UploadInfo> {
    return uploadInfo(bucket, await this.#find(bucket, key, uploadId));
  }

  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: IncomingBody): Promise<PartInfo> {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw new S3Error('InvalidArgument', { message: `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive` });
    }
    await this.#find(bucket, key, uploadId);
    const core = this.#core;
    const written = await core.writeBody(body);
    try {
      const digest = body.digest();
      if (digest.size !== written.size) throw new S3Error('InternalError', { message: `body digest says ${digest.size} bytes, ${written.size} were stored` });
      return await core.uploadLocks.with(uploadId, async () => {
        // Checked again under the lock: the upload may have been completed or aborted while the body streamed.
        await this.#find(bucket, key, uploadId);
        const parts = core.partsOf(uploadId);
        const previous = await parts.get(partKey(partNumber));
        const record: PartRecord = { partNumber, etag: digest.md5, size: written.size, lastModified: Date.now() };
        if (digest.checksum !== undefined) record.checksum = digest.checksum;
        if (written.fileId !== undefined) record.fileId = written.fileId;
        const freed = previous?.fileId === undefined ? [] : [previous.fileId];
        const ops: Op[] = [put(parts, partKey(partNumber), record), ...core.freeOps(freed)];
        if (written.fileId !== undefined) ops.push(put(core.filesIndex, written.fileId, written.size));
        await core.commit(ops);
        core.free(freed);
        return partInfo(record);
      });
    } catch (err) {
      if (written.fileId !== undefined) await core.files.discard(written.fileId);
      throw err;
    }
  }

  async listParts(bucket: string, key: string, uploadId: string, input: ListPartsInput): Promise<ListPartsResult> {
    const upload = await this.#find(bucket, key, uploadId);
    const result: ListPartsResult = { upload: uploadInfo(bucket, upload), parts: [], isTruncated: false };
    if (input.maxParts <= 0) return result;
    const records = await this.#core.uploadLocks.with(uploadId, async () => {
      await this.#find(bucket, key, uploadId);
      return this.#core.partsOf(uploadId).values({ gt: partKey(input.partNumberMarker ?? 0), limit: input.maxParts + 1 }).all();
    });
    result.isTruncated = records.length > input.maxParts;
    result.parts = records.slice(0, input.maxParts).map(partInfo);
    const last = result.parts.at(-1);
    if (last !== undefined) result.nextPartNumberMarker = last.partNumber;
    return result;
  }

  /** Serialised per upload id, so a racing abort or second complete finds no upload and gets NoSuchUpload. */
  async complete(bucket: string, key: string, uploadId: string, plan: CompletePlanner, condition?: WriteCondition): Promise<ObjectInfo> {
    const core = this.#core;
    return core.uploadLocks.with(uploadId, async () => {
      const upload = await this.#find(bucket, key, uploadId);
      const stored = await core.partsOf(uploadId).values().all();
      const chosen = plan(stored.map(partInfo), uploadInfo(bucket, upload));
      const byNumber = new Map(stored.map((part) => [part.partNumber, part]));
      const used = new Set<number>();
      const segments: Segment[] = [];
      let size = 0;
      for (const part of chosen.parts) {
        const record = byNumber.get(part.partNumber);
        if (record === undefined || record.etag !== part.etag || used.has(part.partNumber)) {
          throw new S3Error('InvalidPart', { resource: key, detail: { PartNumber: part.partNumber } });
        }
        used.add(part.partNumber);
        if (record.fileId !== undefined) segments.push([record.fileId, record.size]);
        size += record.size;
      }
      const leftOut = stored.flatMap((part) => (used.has(part.partNumber) || part.fileId === undefined ? [] : [part.fileId]));
      const info = await core.mutateObject(bucket, key, (current) => {
        checkCondition(current, condition, key);
        const record: ObjectRecord = { size, etag: chosen.etag, lastModified: Date.now(), meta: upload.meta, partsCount: chosen.parts.length, completedUpload: uploadId, segments };
        if (chosen.checksum !== undefined) record.checksum = chosen.checksum;
        if (chosen.checksum?.type === 'COMPOSITE') record.partChecksums = chosen.parts.map((part) => byNumber.get(part.partNumber)?.checksum?.value ?? '');
        const freed = [...leftOut, ...(current?.segments.map(([id]) => id) ?? [])];
        const parts = core.partsOf(uploadId);
        const ops: Op[] = [
          put(core.objectsOf(bucket), key, record),
          del(core.uploadsOf(bucket), uploadKey(key, uploadId)),
          ...stored.map((part) => del(parts, partKey(part.partNumber))),
          ...core.freeOps(freed),
        ];
        return { ops, change: { kind: 'put', bucket, key, record }, freed, result: objectInfo(key, record) };
      });
      await core.dropParts(uploadId);
      return info;
    });
  }

  async completed(bucket: string, key: string, uploadId: string): Promise<ObjectInfo | undefined> {
    this.#core.requireBucket(bucket);
    const record = await this.#core.readRecord(bucket, key);
    return record !== undefined && record.completedUpload === uploadId ? objectInfo(key, record) : undefined;
  }

  async abort(bucket: string, key: string, uploadId: string): Promise<void> {
    const core = this.#core;
    await core.uploadLocks.with(uploadId, async () => {
      await this.#find(bucket, key, uploadId);
      const parts = core.partsOf(uploadId);
      const stored = await parts.values().all();
      const freed = stored.flatMap((part) => (part.fileId === undefined ? [] : [part.fileId]));
      await core.commit([
        del(core.uploadsOf(bucket), uploadKey(key, uploadId)),
        ...stored.map((part) => del(parts, partKey(part.partNumber))),
        ...core.freeOps(freed),
      ]);
      core.free(freed);
      await core.dropParts(uploadId);
    });
  }

  async list(bucket: string, input: ListUploadsInput): Promise<ListUploadsResult> {
    this.#core.requireBucket(bucket);
    return listUploads(bucket, this.#core.uploadsOf(bucket), input);
  }

  /** Aborts every upload initiated before `cutoff` (startup sweep); returns how many. */
  async abortStale(cutoff: number): Promise<number> {
    let count = 0;
    for (const bucket of [...this.#core.bucketCache.keys()]) {
      const stale: UploadRecord[] = [];
      for await (const upload of this.#core.uploadsOf(bucket).values()) if (upload.initiated < cutoff) stale.push(upload);
      for (const upload of stale) {
        await this.abort(bucket, upload.key, upload.uploadId);
        count++;
      }
    }
    return count;
  }

  async #find(bucket: string, key: string, uploadId: string): Promise<UploadRecord> {
    this.#core.requireBucket(bucket);
    const record = isUploadId(uploadId) ? await this.#core.uploadsOf(bucket).get(uploadKey(key, uploadId)) : undefined;
    if (record === undefined) throw new S3Error('NoSuchUpload', { resource: key, detail: { UploadId: uploadId } });
    return record;
  }
}
