// Table tests for the pure routing and request-target parsing, with requests shaped like the AWS API reference examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveOperation, type Operation } from '../../src/s3/route.ts';
import { parseTarget } from '../../src/s3/target.ts';
import { S3Error } from '../../src/s3/errors.ts';

function route(method: string, url: string, copySource = false): Operation {
  const t = parseTarget(url, '127.0.0.1:9000', undefined);
  return resolveOperation({ method, ...(t.bucket ? { bucket: t.bucket } : {}), ...(t.key ? { key: t.key } : {}), query: new Set(t.query.keys()), copySource });
}

const TABLE: Array<[string, string, Operation, boolean?]> = [
  ['GET', '/', 'ListBuckets'],
  ['PUT', '/photos', 'CreateBucket'],
  ['HEAD', '/photos', 'HeadBucket'],
  ['DELETE', '/photos/', 'DeleteBucket'],
  ['GET', '/photos?location', 'GetBucketLocation'],
  ['GET', '/photos?versioning', 'GetBucketVersioning'],
  ['GET', '/photos', 'ListObjects'],
  ['GET', '/photos?prefix=a&marker=b', 'ListObjects'],
  ['GET', '/photos?list-type=2&continuation-token=x', 'ListObjectsV2'],
  ['GET', '/photos?uploads', 'ListMultipartUploads'],
  ['POST', '/photos?delete', 'DeleteObjects'],
  ['PUT', '/photos/2006/a.jpg', 'PutObject'],
  ['PUT', '/photos/a.jpg', 'CopyObject', true],
  ['GET', '/photos/a.jpg', 'GetObject'],
  ['HEAD', '/photos/a.jpg', 'HeadObject'],
  ['DELETE', '/photos/a.jpg', 'DeleteObject'],
  ['GET', '/photos/a.jpg?tagging', 'GetObjectTagging'],
  ['PUT', '/photos/a.jpg?tagging', 'PutObjectTagging'],
  ['DELETE', '/photos/a.jpg?tagging', 'DeleteObjectTagging'],
  ['POST', '/photos/a.jpg?uploads', 'CreateMultipartUpload'],
  ['PUT', '/photos/a.jpg?partNumber=1&uploadId=X', 'UploadPart'],
  ['PUT', '/photos/a.jpg?partNumber=1&uploadId=X', 'UploadPartCopy', true],
  ['POST', '/photos/a.jpg?uploadId=X', 'CompleteMultipartUpload'],
  ['DELETE', '/photos/a.jpg?uploadId=X', 'AbortMultipartUpload'],
  ['GET', '/photos/a.jpg?uploadId=X', 'ListParts'],
];

for (const [method, url, op, copy] of TABLE) {
  test(`${method} ${url}${copy ? ' with x-amz-copy-source' : ''} routes to ${op}`, () => {
    assert.equal(route(method, url, copy), op);
  });
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof S3Error, `expected S3Error, got ${String(err)}`);
    return err.code;
  }
  return 'no error';
}

const SUBRESOURCE_TABLE: Array<[string, string, Operation]> = [
  ['GET', '/photos?acl', 'GetBucketAcl'],
  ['PUT', '/photos?acl', 'PutBucketAcl'],
  ['GET', '/photos/a.jpg?acl', 'GetObjectAcl'],
  ['PUT', '/photos/a.jpg?acl', 'PutObjectAcl'],
  ['GET', '/photos?policy', 'GetBucketPolicy'],
  ['GET', '/photos?policyStatus', 'GetBucketPolicyStatus'],
  ['GET', '/photos?cors', 'GetBucketCors'],
  ['GET', '/photos?lifecycle', 'GetBucketLifecycleConfiguration'],
  ['GET', '/photos?encryption', 'GetBucketEncryption'],
  ['GET', '/photos?tagging', 'GetBucketTagging'],
  ['PUT', '/photos?tagging', 'PutBucketTagging'],
  ['GET', '/photos?website', 'GetBucketWebsite'],
  ['GET', '/photos?object-lock', 'GetObjectLockConfiguration'],
  ['GET', '/photos?replication', 'GetBucketReplication'],
  ['GET', '/photos?publicAccessBlock', 'GetPublicAccessBlock'],
  ['GET', '/photos?ownershipControls', 'GetBucketOwnershipControls'],
  ['GET', '/photos?logging', 'GetBucketLogging'],
  ['GET', '/photos?notification', 'GetBucketNotificationConfiguration'],
  ['GET', '/photos?accelerate', 'GetBucketAccelerateConfiguration'],
  ['GET', '/photos?requestPayment', 'GetBucketRequestPayment'],
  ['DELETE', '/photos?policy', 'DeleteBucketPolicy'],
  ['DELETE', '/photos?cors', 'DeleteBucketCors'],
  ['DELETE', '/photos?lifecycle', 'DeleteBucketLifecycle'],
  ['DELETE', '/photos?encryption', 'DeleteBucketEncryption'],
  ['DELETE', '/photos?tagging', 'DeleteBucketTagging'],
  ['DELETE', '/photos?website', 'DeleteBucketWebsite'],
  ['DELETE', '/photos?publicAccessBlock', 'DeletePublicAccessBlock'],
  ['DELETE', '/photos?ownershipControls', 'DeleteBucketOwnershipControls'],
  ['DELETE', '/photos?replication', 'DeleteBucketReplication'],
];

for (const [method, url, op] of SUBRESOURCE_TABLE) {
  test(`${method} ${url} routes to ${op}`, () => {
    assert.equal(route(method, url), op);
  });
}

test('subresources ferry does not serve answer NotImplemented, never a wrong success', () => {
  for (const url of ['/photos?policy', '/photos?lifecycle', '/photos?cors', '/photos?logging', '/photos?notification', '/photos?versions', '/photos/a?restore']) {
    for (const method of ['GET', 'PUT']) {
      if (method === 'GET' && !/restore/.test(url)) continue;
      assert.equal(codeOf(() => route(method, url)), 'NotImplemented', `${method} ${url}`);
    }
  }
  for (const [method, url] of [['HEAD', '/photos/a?acl'], ['DELETE', '/photos/a?acl'], ['DELETE', '/photos?acl'], ['GET', '/photos/a?policy'], ['DELETE', '/photos/a?cors']]) {
    assert.equal(codeOf(() => route(method!, url!)), 'NotImplemented', `${method} ${url}`);
  }
  // A served subresource next to an unsupported one does not let the unsupported one through.
  assert.equal(codeOf(() => route('GET', '/photos?location&analytics')), 'NotImplemented');
  assert.equal(route('GET', '/photos?versions'), 'ListObjectVersions');
  assert.equal(route('PUT', '/photos/a?retention'), 'PutObjectRetention');
  assert.equal(route('GET', '/photos/a?legal-hold'), 'GetObjectLegalHold');
  assert.equal(codeOf(() => route('DELETE', '/photos/a?retention')), 'NotImplemented');
  assert.equal(codeOf(() => route('PUT', '/photos/a?partNumber=1&uploadId=X&restore')), 'NotImplemented');
});

test('bucket subresources never fall through to bucket operations (DELETE /b?logging must not delete the bucket)', () => {
  for (const [method, url] of [['PUT', '/photos?versioning'], ['GET', '/photos?metadataConfiguration'], ['DELETE', '/photos?anything'], ['DELETE', '/photos?logging'], ['DELETE', '/photos?notification'], ['DELETE', '/photos?versioning'], ['DELETE', '/photos?acl'], ['HEAD', '/photos?tagging']]) {
    assert.equal(codeOf(() => route(method!, url!)), 'NotImplemented', `${method} ${url}`);
  }
  assert.equal(route('DELETE', '/photos?x-id=DeleteBucket'), 'DeleteBucket');
  assert.equal(route('GET', '/photos?list-type=2&x-id=ListObjectsV2'), 'ListObjectsV2');
});

test('a PUT with only one of uploadId and partNumber is InvalidArgument, never a PutObject', () => {
  assert.equal(codeOf(() => route('PUT', '/photos/a?uploadId=X')), 'InvalidArgument');
  assert.equal(codeOf(() => route('PUT', '/photos/a?partNumber=1')), 'InvalidArgument');
});

test('methods a resource does not take answer MethodNotAllowed; unknown methods NotImplemented', () => {
  assert.equal(codeOf(() => route('POST', '/photos/a.jpg')), 'MethodNotAllowed');
  assert.equal(codeOf(() => route('PUT', '/')), 'MethodNotAllowed');
  assert.equal(codeOf(() => route('PATCH', '/photos/a')), 'NotImplemented');
  assert.equal(codeOf(() => route('POST', '/photos')), 'NotImplemented');
});

test('keys are percent-decoded once and keep dots, slashes and trailing slashes', () => {
  assert.deepEqual(parseTarget('/b/..%2F..%2Fetc%2Fpasswd', undefined, undefined).key, '../../etc/passwd');
  assert.deepEqual(parseTarget('/b/a//b/', undefined, undefined).key, 'a//b/');
  assert.deepEqual(parseTarget('/b/%252F', undefined, undefined).key, '%2F');
  assert.deepEqual(parseTarget('/b/caf%C3%A9%20x', undefined, undefined).key, 'café x');
  assert.equal(parseTarget('/b/', undefined, undefined).key, undefined);
  assert.equal(parseTarget('http://h:1/b/k?x=1', undefined, undefined).key, 'k');
});

test('bad percent-encoding is InvalidURI and a key over 1024 bytes is KeyTooLongError', () => {
  assert.equal(codeOf(() => parseTarget('/b/%E0%A4%A', undefined, undefined)), 'InvalidURI');
  assert.equal(codeOf(() => parseTarget('/b/' + 'é'.repeat(513), undefined, undefined)), 'KeyTooLongError');
  assert.equal(parseTarget('/b/' + 'a'.repeat(1024), undefined, undefined).key?.length, 1024);
});

test('virtual-host style takes the bucket from the Host header under FERRY_DOMAIN only', () => {
  const t = parseTarget('/dir/file.txt', 'photos.s3.example.com:9000', 's3.example.com');
  assert.equal(t.bucket, 'photos');
  assert.equal(t.key, 'dir/file.txt');
  const p = parseTarget('/photos/dir', 's3.example.com', 's3.example.com');
  assert.equal(p.bucket, 'photos');
  assert.equal(p.key, 'dir');
  assert.equal(parseTarget('/photos/x', 'photos.s3.example.com', undefined).bucket, 'photos');
});
