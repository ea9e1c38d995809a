// Writes that ask for storage classes, encryption or Object Lock: stored when ferry can honour them, refused with
// S3's error otherwise, never stored while silently dropping what was asked.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectLegalHoldCommand, GetObjectRetentionCommand,
  HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, PutObjectLegalHoldCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { assertAbsent, assertDataFilesUnchanged, assertS3Error, dataFiles, send } from '../helpers/protocol.ts';

let srv: TestServer;
let s3: S3Client;
const B = 'write-options';

before(async () => {
  srv = await startFerry();
  s3 = srv.client();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'existing', Body: 'kept' }));
});
after(async () => srv.stop());

async function rejects(p: Promise<unknown>, status: number, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof S3ServiceException, String(err));
    assert.equal(err.name, code);
    assert.equal(err.$metadata.httpStatusCode, status);
    return true;
  });
}

test('any storage class S3 knows is stored as STANDARD; an unknown one is InvalidStorageClass', async () => {
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'ia', Body: 'infrequent', StorageClass: 'STANDARD_IA' }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ia' }));
  assert.equal(head.ContentLength, 'infrequent'.length);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'ia' }));
  assert.equal(listed.Contents?.[0]?.StorageClass, 'STANDARD');
  assertS3Error(await send(srv.port, { method: 'PUT', path: `/${B}/bogus`, headers: { 'x-amz-storage-class': 'FLOPPY' }, body: 'x' }), 400, 'InvalidStorageClass');
  await assertAbsent(srv.port, B, 'bogus');
});

test('a copy onto itself that names a storage class is legal', async () => {
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'self', Body: 'me', Metadata: { a: '1' } }));
  await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'self', CopySource: `${B}/self`, StorageClass: 'STANDARD' }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'self' }));
  assert.deepEqual(head.Metadata, { a: '1' });
  await rejects(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'self', CopySource: `${B}/self` })), 400, 'InvalidRequest');
});

test('server-side encryption of any kind is NotImplemented, and nothing is stored', async () => {
  const before = await dataFiles(srv.dataDir);
  await rejects(s3.send(new PutObjectCommand({ Bucket: B, Key: 'sse', Body: 'secret', ServerSideEncryption: 'AES256' })), 501, 'NotImplemented');
  await rejects(s3.send(new PutObjectCommand({ Bucket: B, Key: 'sse', Body: 'secret', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'k' })), 501, 'NotImplemented');
  await rejects(s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'sse', ServerSideEncryption: 'AES256' })), 501, 'NotImplemented');
  await rejects(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'sse', CopySource: `${B}/existing`, ServerSideEncryption: 'AES256' })), 501, 'NotImplemented');
  const ssec = await send(srv.port, {
    method: 'PUT',
    path: `/${B}/sse`,
    headers: {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': Buffer.alloc(32, 7).toString('base64'),
      'x-amz-server-side-encryption-customer-key-md5': 'ignored',
    },
    body: 'secret',
  });
  assertS3Error(ssec, 501, 'NotImplemented', 'PUT');
  await assertAbsent(srv.port, B, 'sse');
  await assertDataFilesUnchanged(srv.dataDir, before);
});

test('Object Lock on a write is refused as on a bucket without Object Lock', async () => {
  const until = new Date(Date.now() + 86_400_000);
  await rejects(s3.send(new PutObjectCommand({ Bucket: B, Key: 'locked', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: until })), 400, 'InvalidRequest');
  await rejects(s3.send(new PutObjectCommand({ Bucket: B, Key: 'locked', Body: 'x', ObjectLockLegalHoldStatus: 'ON' })), 400, 'InvalidRequest');
  await rejects(s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'locked', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until })), 400, 'InvalidRequest');
  await assertAbsent(srv.port, B, 'locked');
});

test('retention and legal-hold calls answer InvalidRequest after NoSuchBucket', async () => {
  await rejects(s3.send(new GetObjectRetentionCommand({ Bucket: B, Key: 'existing' })), 400, 'InvalidRequest');
  await rejects(s3.send(new GetObjectLegalHoldCommand({ Bucket: B, Key: 'existing' })), 400, 'InvalidRequest');
  await rejects(s3.send(new PutObjectLegalHoldCommand({ Bucket: B, Key: 'existing', LegalHold: { Status: 'ON' } })), 400, 'InvalidRequest');
  await rejects(s3.send(new GetObjectRetentionCommand({ Bucket: 'no-such-bucket-here', Key: 'existing' })), 404, 'NoSuchBucket');
  const raw = await send(srv.port, { method: 'GET', path: `/${B}/existing?retention` });
  assertS3Error(raw, 400, 'InvalidRequest');
  assert.match(raw.text, /Bucket is missing Object Lock Configuration/);
});
