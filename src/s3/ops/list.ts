// ListObjects (v1) and ListObjectsV2: parse paging parameters, ask the store for one page, render.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
import type { ListObjectsResult } from '../../store/types.ts';
import type { Handler, S3Context } from '../context.ts';
import { bucketOf } from '../context.ts';
import { S3Error } from '../errors.ts';
import { isoDate } from '../meta.ts';
import { quoteEtag } from '../conditions.ts';
import { renderXml } from '../xml.ts';
import { owner } from './owner.ts';

/** Parses max-keys / max-uploads / max-parts: S3 caps them at 1000 and refuses junk. */
export function maxParam(ctx: S3Context, name: string, cap = 1000): number {
  const raw = ctx.query.get(name);
  if (raw === null || raw === '') return cap;
  if (!/^\d+$/.test(raw)) throw new S3Error('InvalidArgument', { message: `Provided ${name} not an integer or within integer range`, detail: { ArgumentName: name, ArgumentValue: raw } });
  return Math.min(Number(raw), cap);
}

/** encoding-type=url: keys may hold characters XML 1.0 cannot carry. Spaces as '+', '/' kept, as S3 does. */
export function encoderFor(ctx: S3Context): (s: string | undefined) => string | undefined {
  const type = ctx.query.get('encoding-type');
  if (type === null) return (s) => s;
  if (type !== 'url') throw new S3Error('InvalidArgument', { message: 'Invalid Encoding Method specified in Request', detail: { ArgumentName: 'encoding-type', ArgumentValue: type } });
  return (s) => (s === undefined ? undefined : encodeURIComponent(s).replace(/%2F/g, '/').replace(/%20/g, '+').replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()));
}

function contents(ctx: S3Context, page: ListObjectsResult, enc: (s: string | undefined) => string | undefined, withOwner: boolean) {
  return page.objects.map((o) => ({
    Key: enc(o.key),
    LastModified: isoDate(o.lastModified),
    ETag: quoteEtag(o.etag),
    ChecksumAlgorithm: o.checksum?.algorithm,
    ChecksumType: o.checksum?.type,
    Size: o.size,
    Owner: withOwner ? owner(ctx) : undefined,
    StorageClass: 'STANDARD',
  }));
}

function optional(ctx: S3Context, name: string): string | undefined {
  const v = ctx.query.get(name);
  return v === null || v === '' ? undefined : v;
}

/** One page of a listing, as all three list calls take it: prefix, delimiter, max-keys, resuming after `after`. */
async function listPage(ctx: S3Context, after: string | undefined) {
  const maxKeys = maxParam(ctx, 'max-keys');
  const prefix = optional(ctx, 'prefix');
  const delimiter = optional(ctx, 'delimiter');
  const page = await ctx.store.listObjects(bucketOf(ctx), {
    maxKeys,
    ...(prefix !== undefined ? { prefix } : {}),
    ...(delimiter !== undefined ? { delimiter } : {}),
    ...(after !== undefined ? { after } : {}),
  });
  return { maxKeys, prefix, delimiter, page };
}

export const ListObjects: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const enc = encoderFor(ctx);
  const marker = optional(ctx, 'marker');
  const { maxKeys, prefix, delimiter, page } = await listPage(ctx, marker);
  return {
    xml: renderXml('ListBucketResult', {
      Name: bucket,
      // v1 echoes Prefix as sent even under encoding-type=url: SDKs (botocore's decode_list_object) decode
      // Delimiter, Marker, NextMarker, Key and CommonPrefixes but not this Prefix. ceph s3-tests
      // test_bucket_list_prefix_unreadable, which AWS passes.
      Prefix: prefix ?? '',
      Marker: enc(marker) ?? '',
      // v1 gives NextMarker only with a delimiter; without one, clients page from the last Key.
      NextMarker: page.isTruncated && delimiter !== undefined ? enc(page.lastReturned) : undefined,
      MaxKeys: maxKeys,
      Delimiter: enc(delimiter),
      IsTruncated: page.isTruncated,
      EncodingType: ctx.query.get('encoding-type') ?? undefined,
      Contents: contents(ctx, page, enc, true),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    }),
  };
};

/** Continuation tokens are opaque to clients: the last key returned, base64url. */
function decodeToken(token: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new S3Error('InvalidArgument', { message: 'The continuation token provided is incorrect', detail: { ArgumentName: 'continuation-token' } });
  return Buffer.from(token, 'base64url').toString('utf8');
}

export const ListObjectsV2: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const enc = encoderFor(ctx);
  const startAfter = optional(ctx, 'start-after');
  // An empty token starts from the beginning and is echoed back (as MinIO, and as ceph s3-tests expect of S3).
  const token = ctx.query.get('continuation-token');
  const { maxKeys, prefix, delimiter, page } = await listPage(ctx, token !== null && token !== '' ? decodeToken(token) : startAfter);
  const fetchOwner = ctx.query.get('fetch-owner') === 'true';
  return {
    xml: renderXml('ListBucketResult', {
      Name: bucket,
      Prefix: enc(prefix) ?? '',
      Delimiter: enc(delimiter),
      MaxKeys: maxKeys,
      EncodingType: ctx.query.get('encoding-type') ?? undefined,
      KeyCount: page.objects.length + page.commonPrefixes.length,
      ContinuationToken: token ?? undefined,
      NextContinuationToken: page.isTruncated && page.lastReturned !== undefined ? Buffer.from(page.lastReturned, 'utf8').toString('base64url') : undefined,
      StartAfter: enc(startAfter),
      IsTruncated: page.isTruncated,
      Contents: contents(ctx, page, enc, fetchOwner),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    }),
  };
};

/**
 * ListObjectVersions. Buckets are unversioned, so every object has exactly one version, "null", and it is the
 * latest; there are no delete markers. Tools that empty a bucket (s3-tests, `aws s3 rb --force`, boto3's
 * bucket.object_versions.delete()) list versions even where versioning was never on.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
 */
export const ListObjectVersions: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const enc = encoderFor(ctx);
  const keyMarker = optional(ctx, 'key-marker');
  const versionIdMarker = optional(ctx, 'version-id-marker');
  if (versionIdMarker !== undefined) {
    if (keyMarker === undefined) {
      throw new S3Error('InvalidArgument', { message: 'A version-id marker cannot be specified without a key marker.', detail: { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker } });
    }
    if (versionIdMarker !== 'null') {
      throw new S3Error('InvalidArgument', { message: 'Invalid version id specified', detail: { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker } });
    }
  }
  // A key's only version is "null": whether or not the marker names it, the listing resumes after the key.
  const { maxKeys, prefix, delimiter, page } = await listPage(ctx, keyMarker);
  const last = page.lastReturned;
  // The next version marker belongs to an object; a page that ends on a common prefix has only a key marker.
  const endsOnObject = last !== undefined && page.objects.at(-1)?.key === last;
  return {
    xml: renderXml('ListVersionsResult', {
      Name: bucket,
      Prefix: enc(prefix) ?? '',
      KeyMarker: enc(keyMarker) ?? '',
      VersionIdMarker: versionIdMarker ?? '',
      NextKeyMarker: page.isTruncated ? enc(last) : undefined,
      NextVersionIdMarker: page.isTruncated && endsOnObject ? 'null' : undefined,
      MaxKeys: maxKeys,
      Delimiter: enc(delimiter),
      IsTruncated: page.isTruncated,
      EncodingType: ctx.query.get('encoding-type') ?? undefined,
      Version: page.objects.map((o) => ({
        Key: enc(o.key),
        VersionId: 'null',
        IsLatest: true,
        LastModified: isoDate(o.lastModified),
        ETag: quoteEtag(o.etag),
        ChecksumAlgorithm: o.checksum?.algorithm,
        ChecksumType: o.checksum?.type,
        Size: o.size,
        Owner: owner(ctx),
        StorageClass: 'STANDARD',
      })),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    }),
  };
};
