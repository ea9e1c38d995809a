// Maps a request's method, address and subresources to an S3 operation name: pure data, no I/O.
// Operation names follow the AWS API reference: https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
import { S3Error } from './errors.ts';

export type Operation =
  | 'ListBuckets'
  | 'CreateBucket' | 'HeadBucket' | 'DeleteBucket' | 'GetBucketLocation' | 'GetBucketVersioning'
  | 'ListObjects' | 'ListObjectsV2' | 'ListMultipartUploads' | 'DeleteObjects'
  | 'PutObject' | 'CopyObject' | 'GetObject' | 'HeadObject' | 'DeleteObject'
  | 'GetObjectTagging' | 'PutObjectTagging' | 'DeleteObjectTagging'
  | 'CreateMultipartUpload' | 'UploadPart' | 'UploadPartCopy' | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload' | 'ListParts';

export interface RouteInput {
  method: string;
  bucket?: string;
  key?: string;
  /** Query parameter names present in the request (values are not needed to route). */
  query: ReadonlySet<string>;
  /** True when x-amz-copy-source is present. */
  copySource: boolean;
}

/** Subresources S3 knows that ferry does not serve: answering NotImplemented beats a wrong success. */
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
  ['GET', ['location'], 'GetBucketLocation'],
  ['GET', ['versioning'], 'GetBucketVersioning'],
  ['GET', ['uploads'], 'ListMultipartUploads'],
  ['GET', ['list-type'], 'ListObjectsV2'],
  ['GET', [], 'ListObjects'],
  ['PUT', [], 'CreateBucket'],
  ['HEAD', [], 'HeadBucket'],
  ['DELETE', [], 'DeleteBucket'],
  ['POST', ['delete'], 'DeleteObjects'],
];

const OBJECT: Rule[] = [
  ['GET', ['tagging'], 'GetObjectTagging'],
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
  const unsupported = UNSUPPORTED.find((name) => input.query.has(name));
  if (unsupported) {
    throw new S3Error('NotImplemented', { message: `ferry does not implement the ?${unsupported} subresource.` });
  }
  const rules = input.bucket === undefined ? SERVICE : input.key === undefined ? BUCKET : OBJECT;
  const method = input.method.toUpperCase();
  if (input.bucket !== undefined && input.key === undefined) {
    // Bucket subresources ferry does not serve (?tagging, ?metadataConfiguration, PUT ?versioning...) must never
    // fall through to CreateBucket, DeleteBucket or ListObjects: DELETE /b?tagging would delete the bucket.
    const names = [...input.query].filter((n) => n !== 'x-id');
    const other = method === 'PUT' || method === 'DELETE' ? names[0] : names.find((n) => BUCKET_SUBRESOURCES.has(n));
    if (other !== undefined) throw new S3Error('NotImplemented', { message: `ferry does not implement ${method} on the ?${other} bucket subresource.` });
  }
  if (input.key !== undefined && method === 'PUT' && input.query.has('uploadId') !== input.query.has('partNumber')) {
    throw new S3Error('InvalidArgument', { message: 'An UploadPart request needs both partNumber and uploadId.' });
  }
  for (const [m, needs, op] of rules) {
    if (m !== method || !needs.every((n) => input.query.has(n))) continue;
    return typeof op === 'function' ? op(input) : op;
  }
  if (method === 'POST' && input.bucket !== undefined && input.key === undefined) {
    throw new S3Error('NotImplemented', { message: 'Browser-based POST uploads are not implemented.' });
  }
  if (['GET', 'HEAD', 'PUT', 'POST', 'DELETE'].includes(method)) {
    // A known method on a resource that does not take it (e.g. POST /bucket/key without ?uploads).
    throw new S3Error('MethodNotAllowed');
  }
  throw new S3Error('NotImplemented', { message: `The ${method} method is not implemented.` });
}
