// Presigned URLs from @aws-sdk/s3-request-presigner: GET and PUT work, expiry and tampering are refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { rawRequest } from '../helpers/raw.ts';

let srv: TestServer;
let s3: S3Client;
const B = 'presign';

before(async () => {
  srv = await startFerry();
  s3 = srv.client();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'a b/ünï.txt', Body: 'presigned body' }));
});
after(async () => srv.stop());

function pathOf(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}

test('a presigned GET URL downloads the object without other credentials', async () => {
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'a b/ünï.txt' }), { expiresIn: 60 });
  const res = await rawRequest(srv.port, { method: 'GET', path: pathOf(url) });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, 'presigned body');
});

test('a presigned PUT URL uploads when the client signs without a checksum (WHEN_REQUIRED)', async () => {
  const client = srv.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
  const url = await getSignedUrl(client, new PutObjectCommand({ Bucket: B, Key: 'up' }), { expiresIn: 60 });
  const res = await rawRequest(srv.port, { method: 'PUT', path: pathOf(url), body: 'uploaded' });
  assert.equal(res.status, 200, res.text);
  const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'up' }));
  assert.equal(await got.Body!.transformToString(), 'uploaded');
});

test('a default presigned PUT URL carries the CRC32 of an empty body: it uploads an empty object and refuses other bytes', async () => {
  // The SDK bakes x-amz-checksum-crc32=AAAAAA== into the URL; S3 and MinIO verify it, so must ferry.
  const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: B, Key: 'up-default' }), { expiresIn: 60 });
  assert.match(url, /x-amz-checksum-crc32=AAAAAA%3D%3D/i);
  const bad = await rawRequest(srv.port, { method: 'PUT', path: pathOf(url), body: 'not empty' });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /<Code>BadDigest<\/Code>/);
  const ok = await rawRequest(srv.port, { method: 'PUT', path: pathOf(url), body: '' });
  assert.equal(ok.status, 200, ok.text);
  const head = await rawRequest(srv.port, { method: 'GET', path: pathOf(await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'up-default' }), { expiresIn: 60 })) });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
});

test('an expired presigned URL answers AccessDenied', async () => {
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'a b/ünï.txt' }), { expiresIn: 1, signingDate: new Date(Date.now() - 10_000) });
  const res = await rawRequest(srv.port, { method: 'GET', path: pathOf(url) });
  assert.equal(res.status, 403);
  assert.match(res.text, /<Code>AccessDenied<\/Code>/);
  assert.match(res.text, /expired/i);
});

test('X-Amz-Expires beyond 7 days is refused', async () => {
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'a b/ünï.txt' }), { expiresIn: 604800 });
  const ok = await rawRequest(srv.port, { method: 'GET', path: pathOf(url) });
  assert.equal(ok.status, 200);
  const tooLong = pathOf(url).replace('X-Amz-Expires=604800', 'X-Amz-Expires=604801');
  const res = await rawRequest(srv.port, { method: 'GET', path: tooLong });
  assert.equal(res.status, 400);
  assert.match(res.text, /<Code>AuthorizationQueryParametersError<\/Code>/);
});

test('a presigned URL used for another key or with a changed signature is refused', async () => {
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'a b/ünï.txt' }), { expiresIn: 60 });
  const other = pathOf(url).replace('/a%20b/', '/a%20c/');
  const res = await rawRequest(srv.port, { method: 'GET', path: other });
  assert.equal(res.status, 403);
  assert.match(res.text, /<Code>SignatureDoesNotMatch<\/Code>/);
  const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(url)![1]!;
  const flipped = pathOf(url).replace(sig, sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0'));
  const res2 = await rawRequest(srv.port, { method: 'GET', path: flipped });
  assert.equal(res2.status, 403);
  assert.match(res2.text, /<Code>SignatureDoesNotMatch<\/Code>/);
});
