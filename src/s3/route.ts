// Maps a request's method, address and subresources to an S3 operation name: pure data, no I/O.
// Operation names follow the AWS API reference: https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
import { S3Error } from './errors.ts';

export type Operation =
  | 'ListBuckets'
  | 'CreateBucket' | 'HeadBucket' | 'DeleteBucket' | 'GetBucketLocation' | 'GetBucketVersioning'
  | 'ListObjects' | 'ListObjectsV2' | 'ListObjectVersions' | 'ListMultipartUploads' | 'DeleteObjects'
  | 'PutObject' | 'PostObject' | 'CopyObject' | 'GetObject' | 'HeadObject' | 'DeleteObject'
  | 'GetObjectTagging' | 'PutObjectTagging' | 'DeleteObjectTagging'
  | 'CreateMultipartUpload' | 'UploadPart' | 'UploadPartCopy' | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload' | 'ListParts'
  // Subresources answered as AWS does for a bucket with nothing configured (ops/subresources.ts).
  | 'GetBucketAcl' | 'PutBucketAcl' | 'GetObjectAcl' | 'PutObjectAcl'
  | 'GetBucketPolicy' | 'GetBucketPolicyStatus' | 'GetBucketCors' | 'GetBucketLifecycleConfiguration' | 'GetBucketEncryption'
  | 'GetBucketTagging' | 'PutBucketTagging' | 'GetBucketWebsite' | 'GetObjectLockConfiguration' | 'GetBucketReplication' | 'GetPublicAccessBlock'
  | 'GetObjectRetention' | 'PutObjectRetention' | 'GetObjectLegalHold' | 'PutObjectLegalHold'
  | 'GetBucketOwnershipControls' | 'GetBucketLogging' | 'GetBucketNotificationConfiguration'
  | 'GetBucketAccelerateConfiguration' | 'GetBucketRequestPayment'
  | 'DeleteBucketPolicy' | 'DeleteBucketCors' | 'DeleteBucketLifecycle' | 'DeleteBucketEncryption' | 'DeleteBucketTagging'
  | 'DeleteBucketWebsite' | 'DeletePublicAccessBlock' | 'DeleteBucketOwnershipControls' | 'DeleteBucketReplication';

export interface RouteInput {
  method: string;
  bucket?: string;
  key?: string;
  /** Query parameter names present in the request (values are not needed to route). */
  query: ReadonlySet<string>;
  /** True when x-amz-copy-source is present. */
  copySource: boolean;
  /** True for a multipart/form-data body: POST on a bucket is then a browser-form upload (POST Object). */
  form?: boolean;
}

/**
 * Subresources S3 knows that ferry does not fully serve: a request naming one goes only to a rule that names it
 * (the canned GETs and DELETEs below); any other method on it answers NotImplemented, which beats a wrong success.
 */
const UNSUPPORTED = [
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'encryption', 'intelligent-tiering', 'inventory',
  'legal-hold', 'lifecycle', 'logging', 'metadataTable', 'metrics', 'notification', 'object-lock', 'ownershipControls',
  'policy', 'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment', 'restore', 'retention', 'select',
  'session', 'torrent', 'versions', 'website', 'renameObject',
];

/** Bucket-level subresources S3 knows beyond the ones ferry serves (GET location/versioning/uploads, POST delete). */
const BUCKET_SUBRESOURCES = new Set(['tagging', 'metadataConfiguration', 'metadataTable', 'inventory', 'analytics', 'notification', 'website', 'object-lock', 'ownershipControls']);

type Rule = [method: string, needs: string[], op: Operation | ((input: RouteInput) => Operation)];

const SERVICE: Rule[] = [['GET', [], 'ListBuckets']];

const BUCKET: Rule[] = [
  ['GET', ['acl'], 'GetBucketAcl'],
  ['PUT', ['acl'], 'PutBucketAcl'],
  ['GET', ['policy'], 'GetBucketPolicy'],
  ['GET', ['policyStatus'], 'GetBucketPolicyStatus'],
  ['GET', ['cors'], 'GetBucketCors'],
  ['GET', ['lifecycle'], 'GetBucketLifecycleConfiguration'],
  ['GET', ['encryption'], 'GetBucketEncryption'],
  ['GET', ['tagging'], 'GetBucketTagging'],
  ['PUT', ['tagging'], 'PutBucketTagging'],
  ['GET', ['website'], 'GetBucketWebsite'],
  ['GET', ['object-lock'], 'GetObjectLockConfiguration'],
  ['GET', ['replication'], 'GetBucketReplication'],
  ['GET', ['publicAccessBlock'], 'GetPublicAccessBlock'],
  ['GET', ['ownershipControls'], 'GetBucketOwnershipControls'],
  ['GET', ['logging'], 'GetBucketLogging'],
  ['GET', ['notification'], 'GetBucketNotificationConfiguration'],
  ['GET', ['accelerate'], 'GetBucketAccelerateConfiguration'],
  ['GET', ['requestPayment'], 'GetBucketRequestPayment'],
  ['DELETE', ['policy'], 'DeleteBucketPolicy'],
  ['DELETE', ['cors'], 'DeleteBucketCors'],
  ['DELETE', ['lifecycle'], 'DeleteBucketLifecycle'],
  ['DELETE', ['encryption'], 'DeleteBucketEncryption'],
  ['DELETE', ['tagging'], 'DeleteBucketTagging'],
  ['DELETE', ['website'], 'DeleteBucketWebsite'],
  ['DELETE', ['publicAccessBlock'], 'DeletePublicAccessBlock'],
  ['DELETE', ['ownershipControls'], 'DeleteBucketOwnershipControls'],
  ['DELETE', ['replication'], 'DeleteBucketReplication'],
  ['GET', ['location'], 'GetBucketLocation'],
  ['GET', ['versioning'], 'GetBucketVersioning'],
  ['GET', ['uploads'], 'ListMultipartUploads'],
  ['GET', ['versions'], 'ListObjectVersions'],
  ['GET', ['list-type'], 'ListObjectsV2'],
  ['GET', [], 'ListObjects'],
  ['PUT', [], 'CreateBucket'],
  ['HEAD', [], 'HeadBucket'],
  ['DELETE', [], 'DeleteBucket'],
  ['POST', ['delete'], 'DeleteObjects'],
  // https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html: the upload is a form; any other POST body
  // on a bucket names no operation.
  ['POST', [], (i) => {
    if (!i.form) throw new S3Error('NotImplemented', { message: 'POST on a bucket takes only a multipart/form-data upload (POST Object).' });
    return 'PostObject';
  }],
];

const OBJECT: Rule[] = [
  ['GET', ['acl'], 'GetObjectAcl'],
  ['PUT', ['acl'], 'PutObjectAcl'],
  ['GET', ['tagging'], 'GetObjectTagging'],
  ['GET', ['retention'], 'GetObjectRetention'],
  ['PUT', ['retention'], 'PutObjectRetention'],
  ['GET', ['legal-hold'], 'GetObjectLegalHold'],
  ['PUT', ['legal-hold'], 'PutObjectLegalHold'],
  ['GET', ['uploadId'], 'ListParts'],
  ['GET', [], 'GetObject'],
  ['HEAD', [], 'HeadObject'],
  ['PUT', ['tagging'], 'PutObjectTagging'],
  ['PUT', ['partNumber', 'uploadId'], (i) => (i.copySource ? 'UploadPartCopy' : 'UploadPart')],
  ['PUT', [], (i) => (i.copySource ? 'CopyObject' : 'PutObject')],
  ['DELETE', ['tagging'], 'DeleteObjectTagging'],
  ['DELETE', ['uploadId'], 'AbortMultipartUpload'],
  ['DELETE', [], 'DeleteObject'],
  ['POST', ['uploads'], 'CreateMultipartUpload'],
  ['POST', ['uploadId'], 'CompleteMultipartUpload'],
];

export function resolveOperation(input: RouteInput): Operation {
  const rules = input.bucket === undefined ? SERVICE : input.key === undefined ? BUCKET : OBJECT;
  const method = input.method.toUpperCase();
  const has = (name: string): boolean => input.query.has(name);
  const unsupported = UNSUPPORTED.filter(has);
  if (input.key !== undefined && method === 'PUT' && has('uploadId') !== has('partNumber')) {
    throw new S3Error('InvalidArgument', { message: 'An UploadPart request needs both partNumber and uploadId.' });
  }
  // First the rules that name a subresource the request carries; an unsupported one must be among the names.
  for (const [m, needs, op] of rules) {
    if (m !== method || needs.length === 0 || !needs.every(has) || !unsupported.every((n) => needs.includes(n))) continue;
    return typeof op === 'function' ? op(input) : op;
  }
  if (unsupported.length > 0) {
    throw new S3Error('NotImplemented', { message: `ferry does not implement ${method} on the ?${unsupported[0]} subresource.` });
  }
  if (input.bucket !== undefined && input.key === undefined) {
    // Bucket subresources ferry does not serve (PUT ?tagging, ?metadataConfiguration, PUT ?versioning...) must never
    // fall through to CreateBucket, DeleteBucket or ListObjects: DELETE /b?anything would delete the bucket.
    const names = [...input.query].filter((n) => n !== 'x-id');
    const other = method === 'PUT' || method === 'DELETE' ? names[0] : names.find((n) => BUCKET_SUBRESOURCES.has(n));
    if (other !== undefined) throw new S3Error('NotImplemented', { message: `ferry does not implement ${method} on the ?${other} bucket subresource.` });
  }
  for (const [m, needs, op] of rules) {
    if (m !== method || needs.length > 0) continue;
    return typeof op === 'function' ? op(input) : op;
  }
  if (['GET', 'HEAD', 'PUT', 'POST', 'DELETE'].includes(method)) {
    // A known method on a resource that does not take it (e.g. POST /bucket/key without ?uploads).
    throw new S3Error('MethodNotAllowed');
  }
  throw new S3Error('NotImplemented', { message: `The ${method} method is not implemented.` });
}
