// Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, GetBucketVersioning.
import type { Handler, S3Context } from '../context.ts';
import { bucketOf } from '../context.ts';
import { S3Error, isS3Error } from '../errors.ts';
import { isoDate, taggingXml, tagsFromXml } from '../meta.ts';
import { readSmallBody } from '../ingest.ts';
import { parseXml, renderXml } from '../xml.ts';
import { owner } from './owner.ts';

/** https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html */
export function checkBucketName(name: string): void {
  const bad = (message: string) => new S3Error('InvalidBucketName', { message: `The specified bucket is not valid: ${message}`, resource: `/${name}` });
  if (name.length < 3 || name.length > 63) throw bad('bucket names must be between 3 and 63 characters long');
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    throw bad('only lowercase letters, numbers, dots and hyphens, starting and ending with a letter or number');
  }
  if (name.includes('..')) throw bad('bucket names must not contain two adjacent periods');
  // Each dot-separated label is a DNS label: it neither starts nor ends with a hyphen.
  if (name.includes('.-') || name.includes('-.')) throw bad('a hyphen must not be next to a period');
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) throw bad('bucket names must not be formatted as an IP address');
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name) || /(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name)) {
    throw bad('the name uses a prefix or suffix reserved by S3');
  }
}

const BODY_LIMIT = 64 * 1024;

export const ListBuckets: Handler = async (ctx) => {
  const prefix = ctx.query.get('prefix') ?? '';
  const buckets = (await ctx.store.listBuckets()).filter((b) => b.name.startsWith(prefix));
  return {
    xml: renderXml('ListAllMyBucketsResult', {
      Owner: owner(ctx),
      Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: isoDate(b.created), BucketRegion: b.region })) },
      Prefix: ctx.query.has('prefix') ? prefix : undefined,
    }),
  };
};

export const CreateBucket: Handler = async (ctx) => {
  const name = bucketOf(ctx);
  checkBucketName(name);
  if (ctx.header('x-amz-bucket-object-lock-enabled')?.toLowerCase() === 'true') {
    throw new S3Error('NotImplemented', { message: 'Object Lock is not implemented.' });
  }
  const { bytes } = await readSmallBody(ctx.auth, ctx.headers, ctx.incoming, BODY_LIMIT);
  if (bytes.length > 0) {
    const conf = parseXml(bytes, 'CreateBucketConfiguration');
    const constraint = conf.LocationConstraint;
    if (constraint !== undefined && typeof constraint !== 'string') throw new S3Error('MalformedXML');
    // Like MinIO, accept the endpoint's own region spelled out; any other region belongs to another endpoint.
    if (constraint && constraint !== ctx.config.region) {
      throw new S3Error('IllegalLocationConstraintException', {
        message: `The ${constraint} location constraint is incompatible for the region specific endpoint this request was sent to (${ctx.config.region}).`,
      });
    }
  }
  try {
    await ctx.store.createBucket(name, ctx.config.region);
  } catch (err) {
    // "For legacy compatibility, if you re-create an existing bucket that you already own in the North Virginia
    // Region, Amazon S3 returns 200 OK"; every other region answers BucketAlreadyOwnedByYou (API_CreateBucket.html).
    if (!(isS3Error(err) && err.code === 'BucketAlreadyOwnedByYou' && ctx.config.region === 'us-east-1')) throw err;
  }
  return { headers: { Location: `/${name}` } };
};

export const HeadBucket: Handler = async (ctx) => {
  const info = await ctx.store.headBucket(bucketOf(ctx));
  return { headers: { 'x-amz-bucket-region': info.region } };
};

export const DeleteBucket: Handler = async (ctx) => {
  await ctx.store.deleteBucket(bucketOf(ctx));
  return { status: 204 };
};

export const GetBucketLocation: Handler = async (ctx) => {
  const info = await ctx.store.headBucket(bucketOf(ctx));
  // us-east-1 answers an empty LocationConstraint (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html).
  return { xml: renderXml('LocationConstraint', { '#text': info.region === 'us-east-1' ? '' : info.region }) };
};

/** ferry buckets are never versioned: the truthful answer is an empty configuration. */
export const GetBucketVersioning: Handler = async (ctx: S3Context) => {
  await ctx.store.headBucket(bucketOf(ctx));
  return { xml: renderXml('VersioningConfiguration', {}) };
};

/** Bucket tags: up to 50, the same rules as object tags. https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketTagging.html */
export const PutBucketTagging: Handler = async (ctx) => {
  const name = bucketOf(ctx);
  await ctx.store.headBucket(name);
  const { bytes } = await readSmallBody(ctx.auth, ctx.headers, ctx.incoming, BODY_LIMIT);
  await ctx.store.putBucketTags(name, tagsFromXml(bytes, 50, 'Bucket'));
  return { status: 204 };
};

/** A bucket never tagged (or untagged) answers NoSuchTagSet, as S3 does. */
export const GetBucketTagging: Handler = async (ctx) => {
  const name = bucketOf(ctx);
  const info = await ctx.store.headBucket(name);
  if (info.tags === undefined) throw new S3Error('NoSuchTagSet', { detail: { BucketName: name } });
  return { xml: taggingXml(info.tags) };
};

export const DeleteBucketTagging: Handler = async (ctx) => {
  await ctx.store.putBucketTags(bucketOf(ctx), []);
  return { status: 204 };
};
