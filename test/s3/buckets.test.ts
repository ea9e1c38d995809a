// Bucket operations through the AWS SDK v3 against a real ferry on port 0.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand, DeleteBucketCommand, GetBucketLocationCommand, GetBucketVersioningCommand, HeadBucketCommand,
  ListBucketsCommand, PutObjectCommand, CreateMultipartUploadCommand, AbortMultipartUploadCommand, DeleteObjectCommand, ListMultipartUploadsCommand, UploadPartCommand, HeadObjectCommand, CompleteMultipartUploadCommand, S3Client,
} from '@aws-sdk/client-s3';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { errorOf } from '../helpers/sdk.ts';
import { rawRequest, signedRequest } from '../helpers/raw.ts';

let srv: TestServer;
let s3: S3Client;

before(async () => {
  srv = await startFerry();
  s3 = srv.client();
});
after(async () => srv.stop());

test('create, head, list and delete a bucket', async () => {
  const created = await s3.send(new CreateBucketCommand({ Bucket: 'alpha' }));
  assert.equal(created.Location, '/alpha');
  await s3.send(new HeadBucketCommand({ Bucket: 'alpha' }));
  const list = await s3.send(new ListBucketsCommand({}));
  assert.deepEqual(list.Buckets?.map((b) => b.Name), ['alpha']);
  assert.ok(list.Buckets?.[0]?.CreationDate instanceof Date);
  assert.ok(list.Owner?.ID);
  await s3.send(new DeleteBucketCommand({ Bucket: 'alpha' }));
  assert.deepEqual(await errorOf(s3.send(new HeadBucketCommand({ Bucket: 'alpha' }))), { name: 'NotFound', status: 404 });
});

test('CreateBucketConfiguration with the endpoint region is accepted, another region refused', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'beta', CreateBucketConfiguration: { LocationConstraint: 'us-east-1' as never } }));
  const loc = await s3.send(new GetBucketLocationCommand({ Bucket: 'beta' }));
  assert.equal(loc.LocationConstraint ?? '', '');
  const err = await errorOf(s3.send(new CreateBucketCommand({ Bucket: 'gamma', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })));
  assert.deepEqual(err, { name: 'IllegalLocationConstraintException', status: 400 });
  const v = await s3.send(new GetBucketVersioningCommand({ Bucket: 'beta' }));
  assert.equal(v.Status, undefined);
});

test('re-creating your own bucket: 200 in us-east-1 (S3\'s legacy answer) with nothing changed, BucketAlreadyOwnedByYou elsewhere', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'delta' }));
  await s3.send(new PutObjectCommand({ Bucket: 'delta', Key: 'kept', Body: 'x' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'delta' }));
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'delta', Key: 'kept' }))).ContentLength, 1);
  const eu = await startFerry({ FERRY_REGION: 'eu-central-1' });
  try {
    const c = eu.client({ region: 'eu-central-1' });
    await c.send(new CreateBucketCommand({ Bucket: 'delta' }));
    assert.deepEqual(await errorOf(c.send(new CreateBucketCommand({ Bucket: 'delta' }))), { name: 'BucketAlreadyOwnedByYou', status: 409 });
  } finally {
    await eu.stop();
  }
});

test('a bucket holding an object cannot be deleted; one holding only uploads in progress can, and they go with it (as S3)', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'epsilon' }));
  await s3.send(new PutObjectCommand({ Bucket: 'epsilon', Key: 'k', Body: 'x' }));
  assert.deepEqual(await errorOf(s3.send(new DeleteBucketCommand({ Bucket: 'epsilon' }))), { name: 'BucketNotEmpty', status: 409 });
  await s3.send(new DeleteObjectCommand({ Bucket: 'epsilon', Key: 'k' }));
  const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'epsilon', Key: 'm' }));
  await s3.send(new UploadPartCommand({ Bucket: 'epsilon', Key: 'm', UploadId: up.UploadId, PartNumber: 1, Body: 'part' }));
  await s3.send(new DeleteBucketCommand({ Bucket: 'epsilon' }));
  assert.deepEqual(await errorOf(s3.send(new HeadBucketCommand({ Bucket: 'epsilon' }))), { name: 'NotFound', status: 404 });
  await s3.send(new CreateBucketCommand({ Bucket: 'epsilon' }));
  assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'epsilon' }))).Uploads, undefined);
  assert.deepEqual(await errorOf(s3.send(new AbortMultipartUploadCommand({ Bucket: 'epsilon', Key: 'm', UploadId: up.UploadId }))), { name: 'NoSuchUpload', status: 404 });
  await s3.send(new DeleteBucketCommand({ Bucket: 'epsilon' }));
});

test('DeleteBucket racing CompleteMultipartUpload: both answer, never a deadlock; the bucket goes only if the upload lost', async () => {
  for (let round = 0; round < 8; round++) {
    const Bucket = `race-${round}`;
    await s3.send(new CreateBucketCommand({ Bucket }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'm' }));
    const part = await s3.send(new UploadPartCommand({ Bucket, Key: 'm', UploadId, PartNumber: 1, Body: 'only part' }));
    const complete = s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'm', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    const remove = s3.send(new DeleteBucketCommand({ Bucket }));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`round ${round}: Complete and DeleteBucket still pending after 10 s`)), 10_000);
    });
    const [completed, removed] = await Promise.race([Promise.allSettled([complete, remove]), deadline]).finally(() => clearTimeout(timer));
    if (completed.status === 'fulfilled') {
      // The object landed first: the bucket is not empty and stays, with the object.
      assert.equal(removed.status, 'rejected');
      assert.deepEqual(await errorOf(remove), { name: 'BucketNotEmpty', status: 409 });
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'm' }))).ContentLength, 'only part'.length);
    } else {
      assert.equal(removed.status, 'fulfilled', String((removed as PromiseRejectedResult).reason));
      assert.deepEqual(await errorOf(s3.send(new HeadBucketCommand({ Bucket }))), { name: 'NotFound', status: 404 });
    }
  }
});

test('missing buckets answer NoSuchBucket with S3 error XML', async () => {
  assert.deepEqual(await errorOf(s3.send(new DeleteBucketCommand({ Bucket: 'nope' }))), { name: 'NoSuchBucket', status: 404 });
  const res = await signedRequest(srv.port, { method: 'GET', path: '/nope?list-type=2' });
  assert.equal(res.status, 404);
  assert.match(res.text, /<Code>NoSuchBucket<\/Code>/);
  assert.match(res.text, /<Resource>\/nope<\/Resource>/);
  assert.match(res.text, /<RequestId>[0-9A-F]+<\/RequestId>/);
  assert.equal(res.headers['x-amz-request-id'], /<RequestId>([0-9A-F]+)</.exec(res.text)?.[1]);
});

test('bucket names are checked by S3 rules', async () => {
  for (const name of ['ab', 'a'.repeat(64), 'Upper', 'under_score', '-lead', 'trail-', 'a..b', 'foo.-bar', 'foo-.bar', '192.168.1.1', 'xn--abc', 'bad-s3alias']) {
    const res = await signedRequest(srv.port, { method: 'PUT', path: `/${name}` });
    assert.equal(res.status, 400, name);
    assert.match(res.text, /<Code>InvalidBucketName<\/Code>/, name);
  }
  for (const name of ['abc', 'a'.repeat(63), 'my.bucket-1', '0-9']) {
    const res = await signedRequest(srv.port, { method: 'PUT', path: `/${name}` });
    assert.equal(res.status, 200, `${name}: ${res.text}`);
  }
});

test('anonymous requests are denied', async () => {
  const res = await rawRequest(srv.port, { method: 'GET', path: '/' });
  assert.equal(res.status, 403);
  assert.match(res.text, /<Code>AccessDenied<\/Code>/);
  assert.ok(res.headers['x-amz-request-id']);
});
