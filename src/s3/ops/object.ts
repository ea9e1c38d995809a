// Object operations: PutObject, GetObject, HeadObject, DeleteObject and the object tagging trio.
import type { ByteRange, ObjectInfo } from '../../store/types.ts';
import type { Handler, S3Context } from '../context.ts';
import { bucketOf, keyOf } from '../context.ts';
import { S3Error } from '../errors.ts';
import { checkReadConditions, parseRange, quoteEtag, readConditionsFrom, writeConditionFrom } from '../conditions.ts';
import { checksumHeaderName } from '../checksums.ts';
import { ingestBody, readSmallBody } from '../ingest.ts';
import { objectHeaders, objectMetaFrom, taggingXml, tagsFromXml } from '../meta.ts';
import { refuseUnsupportedWriteOptions } from '../write-options.ts';

export function checksumMode(ctx: S3Context): boolean {
  return ctx.header('x-amz-checksum-mode')?.toUpperCase() === 'ENABLED';
}

/** Headers that acknowledge a write: ETag and the checksum the object now carries. */
export function writeHeaders(info: { etag: string; checksum?: { algorithm: Parameters<typeof checksumHeaderName>[0]; value: string; type?: string } }): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ETag: quoteEtag(info.etag) };
  if (info.checksum) {
    out[checksumHeaderName(info.checksum.algorithm)] = info.checksum.value;
    if (info.checksum.type) out['x-amz-checksum-type'] = info.checksum.type;
  }
  return out;
}

export const PutObject: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  refuseUnsupportedWriteOptions(ctx.header);
  const meta = objectMetaFrom(ctx.header, ctx.headers);
  const condition = writeConditionFrom(ctx.header);
  const body = ingestBody(ctx.auth, ctx.headers, ctx.incoming, { maxSize: ctx.config.maxObjectSize, requireContentLength: true });
  const info = await ctx.store.putObject(bucket, key, body, meta, condition).catch((err: unknown) => {
    // Refused before or while reading: release the body stream (and any hashing job) at once.
    body.abort();
    throw err;
  });
  return { headers: writeHeaders(info) };
};

type Headers = Record<string, string | number | undefined>;

function readHeaders(ctx: S3Context, info: ObjectInfo): Headers {
  return objectHeaders(info, ctx.query, checksumMode(ctx));
}

/** x-amz-replication-status on a source object. https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html */
async function addReplicationStatus(ctx: S3Context, headers: Headers): Promise<void> {
  const status = await ctx.store.replicationStatus(bucketOf(ctx), keyOf(ctx));
  if (status !== undefined) headers['x-amz-replication-status'] = status;
}

/** Buckets are unversioned: the only version that exists is "null"; any other id must not touch the object. */
export function checkVersionId(version: string | null | undefined): void {
  if (version !== null && version !== undefined && version !== 'null') {
    throw new S3Error('InvalidArgument', { message: 'Invalid version id specified', detail: { ArgumentName: 'versionId', ArgumentValue: version } });
  }
}

const MAX_PART_NUMBER = 10000;

/**
 * GET/HEAD ?partNumber=N: 1..10000, and never together with a Range (a part is a range of its own).
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax
 */
function partNumberOf(ctx: S3Context): number | undefined {
  const raw = ctx.query.get('partNumber');
  if (raw === null) return undefined;
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_PART_NUMBER)) {
    throw new S3Error('InvalidArgument', {
      message: `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
      detail: { ArgumentName: 'partNumber', ArgumentValue: raw },
    });
  }
  if (ctx.header('range') !== undefined) {
    throw new S3Error('InvalidRequest', { message: 'Cannot specify both Range header and partNumber query parameter' });
  }
  return n;
}

function dropChecksums(headers: Headers): void {
  for (const name of Object.keys(headers)) if (name.startsWith('x-amz-checksum-')) delete headers[name];
}

/**
 * The bytes a GET or HEAD answers with, and their headers: the whole object, one part of it, or one Range.
 * A part is answered like a range (206, Content-Range) with the whole object's ETag, plus x-amz-mp-parts-count for a
 * multipart object only. A plain object is one part: partNumber=1 is all of it, as a 206 (ceph s3-tests
 * test_non_multipart_get_part; getmoto/moto#7779 for the status). A part past the last is 416 InvalidPartNumber, as
 * S3 answers (MinIO's error table; Scality cloudserver's getPartSize.js, run against AWS).
 */
function selectBytes(ctx: S3Context, info: ObjectInfo, partNumber: number | undefined, headers: Headers): { status: number; length: number; range?: ByteRange } {
  if (partNumber !== undefined) {
    const sizes = info.partSizes ?? [info.size];
    const size = sizes[partNumber - 1];
    if (size === undefined) {
      throw new S3Error('InvalidPartNumber', { detail: { PartNumberRequested: partNumber, ActualPartCount: sizes.length } });
    }
    if (info.partsCount !== undefined) headers['x-amz-mp-parts-count'] = info.partsCount;
    // The stored checksum covers this part only when the part is the whole object: a plain object, or a single-part
    // FULL_OBJECT upload. A part GET of a multi-part FULL_OBJECT object carries none on S3 either; a COMPOSITE object
    // answers the part's own checksum (localstack/localstack#12842, checked against S3).
    const partChecksum = info.checksum?.type === 'COMPOSITE' ? info.partChecksums?.[partNumber - 1] : undefined;
    if (partChecksum && info.checksum !== undefined && checksumMode(ctx)) headers[checksumHeaderName(info.checksum.algorithm)] = partChecksum;
    else if (info.partsCount !== undefined && !(info.partsCount === 1 && info.checksum?.type === 'FULL_OBJECT')) dropChecksums(headers);
    headers['Content-Length'] = size;
    // Zero bytes cannot be a range (RFC 9110 14.4): an empty part is a plain 200.
    if (size === 0) return { status: 200, length: 0 };
    const start = sizes.slice(0, partNumber - 1).reduce((sum, s) => sum + s, 0);
    const range = { start, end: start + size - 1 };
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
    return { status: 206, length: size, range };
  }
  const range = parseRange(ctx.header('range'), info.size);
  if (range === undefined) {
    headers['Content-Length'] = info.size;
    return { status: 200, length: info.size };
  }
  // A range is not the whole object: its checksum would not match the bytes (AWS omits it too).
  dropChecksums(headers);
  headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
  headers['Content-Length'] = range.end - range.start + 1;
  return { status: 206, length: range.end - range.start + 1, range };
}

export const GetObject: Handler = async (ctx) => {
  const partNumber = partNumberOf(ctx);
  checkVersionId(ctx.query.get('versionId'));
  const reader = await ctx.store.getObject(bucketOf(ctx), keyOf(ctx));
  try {
    const { info } = reader;
    checkReadConditions(readConditionsFrom(ctx.header), info);
    const headers = readHeaders(ctx, info);
    await addReplicationStatus(ctx, headers);
    const { status, length, range } = selectBytes(ctx, info, partNumber, headers);
    if (length === 0) {
      reader.close();
      return { status, headers };
    }
    return { status, headers, body: reader.stream(range) };
  } catch (err) {
    reader.close();
    throw err;
  }
};

export const HeadObject: Handler = async (ctx) => {
  const partNumber = partNumberOf(ctx);
  checkVersionId(ctx.query.get('versionId'));
  const info = await ctx.store.headObject(bucketOf(ctx), keyOf(ctx));
  checkReadConditions(readConditionsFrom(ctx.header), info);
  const headers = readHeaders(ctx, info);
  await addReplicationStatus(ctx, headers);
  const { status } = selectBytes(ctx, info, partNumber, headers);
  return { status, headers };
};

export const DeleteObject: Handler = async (ctx) => {
  const version = ctx.query.get('versionId');
  checkVersionId(version);
  await ctx.store.deleteObject(bucketOf(ctx), keyOf(ctx));
  // Deleting a named version answers its id; deleting "the object" of an unversioned bucket answers none.
  return { status: 204, ...(version === 'null' ? { headers: { 'x-amz-version-id': 'null' } } : {}) };
};

const TAGGING_LIMIT = 64 * 1024;

export const GetObjectTagging: Handler = async (ctx) => {
  const info = await ctx.store.headObject(bucketOf(ctx), keyOf(ctx));
  return {
    xml: taggingXml(info.meta.tags),
  };
};

export const PutObjectTagging: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const { bytes } = await readSmallBody(ctx.auth, ctx.headers, ctx.incoming, TAGGING_LIMIT);
  await ctx.store.putObjectTags(bucket, key, tagsFromXml(bytes));
  return {};
};

export const DeleteObjectTagging: Handler = async (ctx) => {
  await ctx.store.putObjectTags(bucketOf(ctx), keyOf(ctx), []);
  return { status: 204 };
};
