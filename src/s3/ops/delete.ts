// DeleteObjects: up to 1000 keys in one request, each answered on its own; Quiet mode reports only errors.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
import type { Handler } from '../context.ts';
import { bucketOf } from '../context.ts';
import { S3Error, isS3Error } from '../errors.ts';
import { readSmallBody } from '../ingest.ts';
import { parseXml, renderXml } from '../xml.ts';
import { checkVersionId } from './object.ts';

const MAX_KEYS = 1000;
const CONCURRENCY = 16;
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
  const entries = objects.map((o) => {
    const { Key: key, VersionId: version } = (o ?? {}) as { Key?: unknown; VersionId?: unknown };
    if (typeof key !== 'string' || key === '') throw new S3Error('MalformedXML');
    return { key, version: typeof version === 'string' && version.trim() !== '' ? version.trim() : undefined };
  });
  const quiet = typeof doc.Quiet === 'string' && doc.Quiet.trim().toLowerCase() === 'true';
  await ctx.store.headBucket(bucket);

  // Results keep the request's order; deletes run a few at a time so the store's group commit shares fsyncs.
  // Each entry echoes the version id it named, as S3 does ("null" is the only one there is).
  const results: Array<{ Key: string; VersionId?: string } | { Key: string; VersionId?: string; Code: string; Message: string }> = new Array(entries.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < entries.length; i = next++) {
      const { key, version } = entries[i]!;
      try {
        if (Buffer.byteLength(key) > 1024) throw new S3Error('KeyTooLongError');
        checkVersionId(version);
        await ctx.store.deleteObject(bucket, key);
        results[i] = { Key: key, VersionId: version };
      } catch (err) {
        const e = isS3Error(err) ? err : new S3Error('InternalError', { cause: err });
        if (e.code === 'InternalError') throw e;
        results[i] = { Key: key, VersionId: version, Code: e.code, Message: e.message };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, entries.length) }, worker));
  const deleted = results.filter((r) => !('Code' in r));
  const errors = results.filter((r) => 'Code' in r);
  return { xml: renderXml('DeleteResult', { Deleted: quiet ? [] : deleted, Error: errors }) };
};
