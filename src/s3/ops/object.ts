// Object operations: PutObject, GetObject, HeadObject, DeleteObject and the object tagging trio.
import type { ObjectInfo } from '../../store/types.ts';
import type { Handler, S3Context } from '../context.ts';
import { bucketOf, keyOf } from '../context.ts';
import { S3Error } from '../errors.ts';
import { checkReadConditions, parseRange, quoteEtag, readConditionsFrom, writeConditionFrom } from '../conditions.ts';
import { checksumHeaderName } from '../checksums.ts';
import { ingestBody, readSmallBody } from '../ingest.ts';
import { objectHeaders, objectMetaFrom, validateTags } from '../meta.ts';
import { parseXml, renderXml } from '../xml.ts';

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
  const meta = objectMetaFrom(ctx.header, ctx.headers);
  const condition = writeConditionFrom(ctx.header);
  const body = ingestBody(ctx.auth, ctx.headers, ctx.incoming, { maxSize: ctx.config.maxObjectSize, requireContentLength: true });
  const info = await ctx.store.putObject(bucket, key, body, meta, condition).catch((err: unknown) => {
    // Refused before or while reading: release the body stream (and any hashing job) at once.
    body.stream.destroy();
    throw err;
  });
  return { headers: writeHeaders(info) };
};

function readHeaders(ctx: S3Context, info: ObjectInfo): Record<string, string | number | undefined> {
  return objectHeaders(info, ctx.query, checksumMode(ctx));
}

/** x-amz-replication-status on a source object. https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html */
async function addReplicationStatus(ctx: S3Context, headers: Record<string, string | number | undefined>): Promise<void> {
  const status = await ctx.store.replicationStatus(bucketOf(ctx), keyOf(ctx));
  if (status !== undefined) headers['x-amz-replication-status'] = status;
}

function rejectPartNumber(ctx: S3Context): void {
  if (ctx.query.has('partNumber')) throw new S3Error('NotImplemented', { message: 'GET and HEAD by partNumber are not implemented.' });
  checkVersionId(ctx.query.get('versionId'));
}

/** Buckets are unversioned: the only version that exists is "null"; any other id must not touch the object. */
export function checkVersionId(version: string | null | undefined): void {
  if (version !== null && version !== undefined && version !== 'null') {
    throw new S3Error('InvalidArgument', { message: 'Invalid version id specified', detail: { ArgumentName: 'versionId', ArgumentValue: version } });
  }
}

export const GetObject: Handler = async (ctx) => {
  rejectPartNumber(ctx);
  const reader = await ctx.store.getObject(bucketOf(ctx), keyOf(ctx));
  try {
    const { info } = reader;
    checkReadConditions(readConditionsFrom(ctx.header), info);
    const range = parseRange(ctx.header('range'), info.size);
    const headers = readHeaders(ctx, info);
    await addReplicationStatus(ctx, headers);
    if (range) {
      // A range is not the whole object: its checksum would not match the bytes (AWS omits it too).
      for (const name of Object.keys(headers)) if (name.startsWith('x-amz-checksum-')) delete headers[name];
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
      headers['Content-Length'] = range.end - range.start + 1;
      return { status: 206, headers, body: reader.stream(range) };
    }
    headers['Content-Length'] = info.size;
    return { headers, body: reader.stream() };
  } catch (err) {
    reader.close();
    throw err;
  }
};

export const HeadObject: Handler = async (ctx) => {
  rejectPartNumber(ctx);
  const info = await ctx.store.headObject(bucketOf(ctx), keyOf(ctx));
  checkReadConditions(readConditionsFrom(ctx.header), info);
  const headers = readHeaders(ctx, info);
  await addReplicationStatus(ctx, headers);
  const range = parseRange(ctx.header('range'), info.size);
  if (range) {
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
    headers['Content-Length'] = range.end - range.start + 1;
    return { status: 206, headers };
  }
  headers['Content-Length'] = info.size;
  return { headers };
};

export const DeleteObject: Handler = async (ctx) => {
  checkVersionId(ctx.query.get('versionId'));
  await ctx.store.deleteObject(bucketOf(ctx), keyOf(ctx));
  return { status: 204 };
};

const TAGGING_LIMIT = 64 * 1024;

export const GetObjectTagging: Handler = async (ctx) => {
  const info = await ctx.store.headObject(bucketOf(ctx), keyOf(ctx));
  return {
    xml: renderXml('Tagging', { TagSet: { Tag: info.meta.tags.map(([Key, Value]) => ({ Key, Value })) } }),
  };
};

export const PutObjectTagging: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const { bytes } = await readSmallBody(ctx.auth, ctx.headers, ctx.incoming, TAGGING_LIMIT);
  const doc = parseXml(bytes, 'Tagging', ['Tagging.TagSet.Tag']);
  const tagSet = doc.TagSet;
  // An empty <TagSet/> parses as '' (or whitespace); text in it is not a tag set and must not clear the tags.
  if (tagSet === undefined || (typeof tagSet === 'string' && tagSet.trim() !== '')) throw new S3Error('MalformedXML');
  const raw = tagSet && typeof tagSet === 'object' ? ((tagSet as { Tag?: unknown }).Tag ?? []) : [];
  if (!Array.isArray(raw)) throw new S3Error('MalformedXML');
  const tags: Array<[string, string]> = raw.map((t: unknown) => {
    const { Key, Value } = (t ?? {}) as { Key?: unknown; Value?: unknown };
    if (typeof Key !== 'string' || (Value !== undefined && typeof Value !== 'string')) throw new S3Error('MalformedXML');
    return [Key, Value ?? ''];
  });
  await ctx.store.putObjectTags(bucket, key, validateTags(tags));
  return {};
};

export const DeleteObjectTagging: Handler = async (ctx) => {
  await ctx.store.putObjectTags(bucketOf(ctx), keyOf(ctx), []);
  return { status: 204 };
};
