// DeleteObjects: up to 1000 keys in one request, each answered on its own; Quiet mode reports only errors.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
import type { Handler } from '../context.ts';
import { bucketOf } from '../context.ts';
import { S3Error, isS3Error } from '../errors.ts';
import { readSmallBody } from '../ingest.ts';
import { parseXml, renderXml } from '../xml.ts';

const MAX_KEYS = 1000;
// 1000 keys of 1024 bytes, escaped, with their markup.
const BODY_LIMIT = 2 * 1024 * 1024;

export const DeleteObjects: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  // S3 requires an integrity header on this request so a corrupted body cannot delete the wrong keys.
  const hasDigest = ctx.header('content-md5') !== undefined || Object.keys(ctx.headers).some((h) => h.startsWith('x-amz-checksum-')) || ctx.header('x-amz-sdk-checksum-algorithm') !== undefined || (ctx.header('x-amz-trailer') ?? '').startsWith('x-amz-checksum-');
  if (!hasDigest) throw new S3Error('InvalidRequest', { message: 'Missing required header for this request: Content-MD5' });
  const { bytes } = await readSmallBody(ctx.auth, ctx.headers, ctx.incoming, BODY_LIMIT);
  const doc = parseXml(bytes, 'Delete', ['Delete.Object']);
  const objects = (doc.Object ?? []) as unknown[];
  if (!Array.isArray(objects) || objects.length === 0 || objects.length > MAX_KEYS) throw new S3Error('MalformedXML');
  const keys = objects.map((o) => {
    const key = (o as { Key?: unknown } | undefined)?.Key;
    if (typeof key !== 'string' || key === '') throw new S3Error('MalformedXML');
    return key;
  });
  const quiet = typeof doc.Quiet === 'string' && doc.Quiet.trim().toLowerCase() === 'true';
  await ctx.store.headBucket(bucket);

  const deleted: Array<{ Key: string }> = [];
  const errors: Array<{ Key: string; Code: string; Message: string }> = [];
  for (const key of keys) {
    try {
      if (Buffer.byteLength(key) > 1024) throw new S3Error('KeyTooLongError');
      await ctx.store.deleteObject(bucket, key);
      deleted.push({ Key: key });
    } catch (err) {
      const e = isS3Error(err) ? err : new S3Error('InternalError', { cause: err });
      if (e.code === 'InternalError') throw e;
      errors.push({ Key: key, Code: e.code, Message: e.message });
    }
  }
  return { xml: renderXml('DeleteResult', { Deleted: quiet ? [] : deleted, Error: errors }) };
};
