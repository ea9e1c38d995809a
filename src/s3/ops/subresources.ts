// Bucket and object subresources ferry has no configuration for: AWS's answers for an unconfigured bucket, and the
// private-only ACL (one account, owner FULL_CONTROL), so that tools reading them as routine (awscli, s3cmd info,
// rclone, terraform, s3-tests, mint) carry on. Cross-checked with MinIO's cmd/dummy-handlers.go and acl-handlers.go.
import type { Handler, S3Context } from '../context.ts';
import { bucketOf, keyOf } from '../context.ts';
import { S3Error, type S3ErrorCode } from '../errors.ts';
import { readSmallBody } from '../ingest.ts';
import { parseXml, renderXml, type XmlNode } from '../xml.ts';
import { checkVersionId } from './object.ts';
import { owner } from './owner.ts';

const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
const ACL_BODY_LIMIT = 64 * 1024;
/** https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#canned-acl: any other name is a bad request. */
const CANNED_ACLS = new Set([
  'private', 'public-read', 'public-read-write', 'aws-exec-read', 'authenticated-read', 'bucket-owner-read',
  'bucket-owner-full-control', 'log-delivery-write',
]);
const GRANT_HEADERS = ['x-amz-grant-full-control', 'x-amz-grant-read', 'x-amz-grant-read-acp', 'x-amz-grant-write', 'x-amz-grant-write-acp'];

/**
 * A configuration GET on a bucket that has none: 404 with the code AWS sends, after NoSuchBucket.
 * Codes and statuses: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html and each API_Get*.html;
 * messages (in errors.ts) as AWS words them on the wire. S3 names the bucket in <BucketName>.
 */
function notConfigured(code: S3ErrorCode): Handler {
  return async (ctx) => {
    const bucket = bucketOf(ctx);
    await ctx.store.headBucket(bucket);
    throw new S3Error(code, { detail: { BucketName: bucket } });
  };
}

/** A configuration GET AWS answers 200 for even when nothing is set: the document with its defaults. */
function defaultDocument(root: string, body: XmlNode = {}): Handler {
  return async (ctx) => {
    await ctx.store.headBucket(bucketOf(ctx));
    return { xml: renderXml(root, body) };
  };
}

/** Deleting a configuration that is not there succeeds: AWS answers 204 (e.g. API_DeleteBucketPolicy.html). */
const nothingToDelete: Handler = async (ctx) => {
  await ctx.store.headBucket(bucketOf(ctx));
  return { status: 204 };
};

export const GetBucketPolicy = notConfigured('NoSuchBucketPolicy');
// No policy means no policy status either: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketPolicyStatus.html
export const GetBucketPolicyStatus = notConfigured('NoSuchBucketPolicy');
export const GetBucketCors = notConfigured('NoSuchCORSConfiguration');
export const GetBucketLifecycleConfiguration = notConfigured('NoSuchLifecycleConfiguration');
export const GetBucketEncryption = notConfigured('ServerSideEncryptionConfigurationNotFoundError');
export const GetBucketWebsite = notConfigured('NoSuchWebsiteConfiguration');
export const GetObjectLockConfiguration = notConfigured('ObjectLockConfigurationNotFoundError');
// ferry's own replication is configured through its admin API, not through S3's ReplicationConfiguration.
export const GetBucketReplication = notConfigured('ReplicationConfigurationNotFoundError');
export const GetPublicAccessBlock = notConfigured('NoSuchPublicAccessBlockConfiguration');
export const GetBucketOwnershipControls = notConfigured('OwnershipControlsNotFoundError');

/**
 * Retention and legal holds exist only in buckets created with Object Lock, which ferry refuses to create: AWS
 * answers these four calls on any other bucket with this InvalidRequest (versitygw and MinIO match it).
 */
const noObjectLock: Handler = async (ctx) => {
  await ctx.store.headBucket(bucketOf(ctx));
  throw new S3Error('InvalidRequest', { message: 'Bucket is missing Object Lock Configuration' });
};
export const GetObjectRetention = noObjectLock;
export const PutObjectRetention = noObjectLock;
export const GetObjectLegalHold = noObjectLock;
export const PutObjectLegalHold = noObjectLock;

// An empty BucketLoggingStatus means logging is off: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLogging.html
export const GetBucketLogging = defaultDocument('BucketLoggingStatus');
// No notification configured: an empty NotificationConfiguration (API_GetBucketNotificationConfiguration.html).
export const GetBucketNotificationConfiguration = defaultDocument('NotificationConfiguration');
// Acceleration never set: no Status element (API_GetBucketAccelerateConfiguration.html).
export const GetBucketAccelerateConfiguration = defaultDocument('AccelerateConfiguration');
// The bucket owner pays unless Requester Pays was set (API_GetBucketRequestPayment.html).
export const GetBucketRequestPayment = defaultDocument('RequestPaymentConfiguration', { Payer: 'BucketOwner' });

export const DeleteBucketPolicy = nothingToDelete;
export const DeleteBucketCors = nothingToDelete;
export const DeleteBucketLifecycle = nothingToDelete;
export const DeleteBucketEncryption = nothingToDelete;
export const DeleteBucketWebsite = nothingToDelete;
export const DeletePublicAccessBlock = nothingToDelete;
export const DeleteBucketOwnershipControls = nothingToDelete;
export const DeleteBucketReplication = nothingToDelete;

/**
 * The one ACL ferry has: the owner with FULL_CONTROL, the "private" canned ACL.
 * Shape: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketAcl.html (Grantee carries xsi:type).
 */
function privateAcl(ctx: S3Context): string {
  const o = owner(ctx);
  return renderXml('AccessControlPolicy', {
    Owner: o,
    AccessControlList: {
      Grant: [{ Grantee: { '@xmlns:xsi': XSI_NS, '@xsi:type': 'CanonicalUser', ...o }, Permission: 'FULL_CONTROL' }],
    },
  });
}

export const GetBucketAcl: Handler = async (ctx) => {
  await ctx.store.headBucket(bucketOf(ctx));
  return { xml: privateAcl(ctx) };
};

export const GetObjectAcl: Handler = async (ctx) => {
  checkVersionId(ctx.query.get('versionId'));
  await ctx.store.headObject(bucketOf(ctx), keyOf(ctx));
  return { xml: privateAcl(ctx) };
};

const notPrivate = (what: string): S3Error =>
  new S3Error('NotImplemented', { message: `ferry only supports the private ACL (the owner with FULL_CONTROL); ${what} cannot be honoured.` });

/**
 * Whether an AccessControlPolicy body grants exactly the owner FULL_CONTROL, i.e. is the private ACL.
 * A body that is not well-formed is MalformedACLError, as S3 answers (ErrorResponses.html).
 */
function isPrivatePolicy(ctx: S3Context, bytes: Buffer): boolean {
  let doc: Record<string, unknown>;
  try {
    doc = parseXml(bytes, 'AccessControlPolicy', ['AccessControlPolicy.AccessControlList.Grant']);
  } catch (cause) {
    throw new S3Error('MalformedACLError', { cause });
  }
  const id = owner(ctx).ID;
  const ownerId = (doc.Owner as { ID?: unknown } | undefined)?.ID;
  if (ownerId !== undefined && ownerId !== id) return false;
  const grants = (doc.AccessControlList as { Grant?: unknown } | undefined)?.Grant;
  if (!Array.isArray(grants) || grants.length !== 1) return false;
  const grant = grants[0] as { Grantee?: { ID?: unknown; URI?: unknown; EmailAddress?: unknown }; Permission?: unknown };
  return grant.Permission === 'FULL_CONTROL' && grant.Grantee?.ID === id && grant.Grantee.URI === undefined && grant.Grantee.EmailAddress === undefined;
}

/**
 * PutBucketAcl/PutObjectAcl: only the private ACL, which is what every bucket and object already has, succeeds;
 * anything else would be a lie and answers NotImplemented (MinIO does the same). The ACL comes as x-amz-acl, as
 * x-amz-grant-* headers, or as a body; "you cannot do both" headers kinds (API_PutBucketAcl.html).
 * `cannedAlso` lists canned ACLs that equal private for this resource.
 */
async function putPrivateAcl(ctx: S3Context, cannedAlso: string[]): Promise<void> {
  const canned = ctx.header('x-amz-acl');
  if (canned !== undefined && !CANNED_ACLS.has(canned)) throw new S3Error('InvalidArgument', { detail: { ArgumentName: 'x-amz-acl', ArgumentValue: canned } });
  const grants = GRANT_HEADERS.filter((name) => ctx.header(name) !== undefined);
  if (canned !== undefined && grants.length > 0) {
    throw new S3Error('InvalidRequest', { message: 'Specifying both Canned ACLs and Header Grants is not allowed' });
  }
  if (grants.length > 0) throw notPrivate(`the ${grants.join(', ')} header`);
  if (canned !== undefined && canned !== 'private' && !cannedAlso.includes(canned)) throw notPrivate(`the "${canned}" canned ACL`);
  const { bytes } = await readSmallBody(ctx.auth, ctx.headers, ctx.incoming, ACL_BODY_LIMIT);
  if (bytes.length === 0) {
    // Neither header nor body: S3 asks for the ACL (MinIO answers the same).
    if (canned === undefined) throw new S3Error('MissingSecurityHeader', { detail: { MissingHeaderName: 'x-amz-acl' } });
    return;
  }
  if (!isPrivatePolicy(ctx, bytes)) throw notPrivate('an access control policy granting anything but the owner FULL_CONTROL');
}

export const PutBucketAcl: Handler = async (ctx) => {
  await ctx.store.headBucket(bucketOf(ctx));
  await putPrivateAcl(ctx, []);
  return {};
};

export const PutObjectAcl: Handler = async (ctx) => {
  checkVersionId(ctx.query.get('versionId'));
  await ctx.store.headObject(bucketOf(ctx), keyOf(ctx));
  // With one account the bucket owner is the object owner: bucket-owner-full-control grants exactly what private
  // does (https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#canned-acl).
  await putPrivateAcl(ctx, ['bucket-owner-full-control']);
  return {};
};
