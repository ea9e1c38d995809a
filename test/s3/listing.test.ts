// ListObjects v1 and v2 through the AWS SDK: prefixes, delimiters, paging and UTF-8 byte order.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { signedRequest } from '../helpers/raw.ts';

let srv: TestServer;
let s3: S3Client;
const B = 'listing';
const KEYS: string[] = [];

/** S3 lists in UTF-8 byte order, which differs from JS string order for astral characters. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

before(async () => {
  srv = await startFerry();
  s3 = srv.client();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  for (let d = 0; d < 5; d++) for (let f = 0; f < 30; f++) KEYS.push(`dir${d}/sub${f % 3}/file${String(f).padStart(3, '0')}`);
  KEYS.push('top-a', 'top-b', 'z\uFFFD', 'z😀', 'zé', 'z~', 'dir0/', 'dir0/sub0/');
  const queue = [...KEYS];
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let k = queue.pop(); k !== undefined; k = queue.pop()) await s3.send(new PutObjectCommand({ Bucket: B, Key: k, Body: k }));
  }));
  KEYS.sort(byteOrder);
});
after(async () => srv.stop());

test('ListObjectsV2 pages of 7 stitch together into every key in UTF-8 byte order', async () => {
  const seen: string[] = [];
  let token: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: B, MaxKeys: 7, ContinuationToken: token }));
    assert.ok((page.KeyCount ?? 0) <= 7);
    seen.push(...(page.Contents ?? []).map((o) => o.Key!));
    if (!page.IsTruncated) break;
    token = page.NextContinuationToken;
    assert.ok(token);
  }
  assert.deepEqual(seen, KEYS);
});

test('delimiter rolls keys up into CommonPrefixes, each exactly once across pages', async () => {
  const prefixes: string[] = [];
  const keys: string[] = [];
  let token: string | undefined;
  for (let i = 0; i < 50; i++) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: B, Delimiter: '/', MaxKeys: 2, ContinuationToken: token }));
    prefixes.push(...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    if (!page.IsTruncated) break;
    token = page.NextContinuationToken;
  }
  assert.deepEqual(prefixes, ['dir0/', 'dir1/', 'dir2/', 'dir3/', 'dir4/']);
  assert.deepEqual(keys, ['top-a', 'top-b', 'z~', 'zé', 'z\uFFFD', 'z😀'].sort(byteOrder));
  const sub = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'dir2/', Delimiter: '/' }));
  assert.deepEqual(sub.CommonPrefixes?.map((p) => p.Prefix), ['dir2/sub0/', 'dir2/sub1/', 'dir2/sub2/']);
  assert.equal(sub.KeyCount, 3);
  const withDirKey = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'dir0/', Delimiter: '/' }));
  assert.deepEqual(withDirKey.Contents?.map((o) => o.Key), ['dir0/']);
});

test('start-after, prefix and max-keys 0 behave as S3', async () => {
  const after = await s3.send(new ListObjectsV2Command({ Bucket: B, StartAfter: 'dir4/sub2/file020', Prefix: 'dir4/' }));
  assert.deepEqual(after.Contents?.map((o) => o.Key), KEYS.filter((k) => k.startsWith('dir4/') && byteOrder(k, 'dir4/sub2/file020') > 0));
  const none = await s3.send(new ListObjectsV2Command({ Bucket: B, MaxKeys: 0 }));
  assert.equal(none.KeyCount, 0);
  assert.equal(none.IsTruncated, false);
  const owner = await s3.send(new ListObjectsV2Command({ Bucket: B, MaxKeys: 1, FetchOwner: true }));
  assert.ok(owner.Contents?.[0]?.Owner?.ID);
  const plain = await s3.send(new ListObjectsV2Command({ Bucket: B, MaxKeys: 1 }));
  assert.equal(plain.Contents?.[0]?.Owner, undefined);
  assert.equal(plain.Contents?.[0]?.Size, Buffer.byteLength(plain.Contents![0]!.Key!));
  assert.equal(plain.Contents?.[0]?.StorageClass, 'STANDARD');
});

test('ListObjects v1 pages with marker and NextMarker', async () => {
  const seen: string[] = [];
  let marker: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: B, MaxKeys: 9, Marker: marker }));
    const keys = (page.Contents ?? []).map((o) => o.Key!);
    seen.push(...keys);
    if (!page.IsTruncated) break;
    marker = page.NextMarker ?? keys[keys.length - 1];
  }
  assert.deepEqual(seen, KEYS);
  const rolled = await s3.send(new ListObjectsCommand({ Bucket: B, Delimiter: '/', MaxKeys: 3 }));
  assert.equal(rolled.IsTruncated, true);
  assert.equal(rolled.NextMarker, 'dir2/');
});

test('encoding-type=url encodes keys and prefixes; junk parameters are InvalidArgument', async () => {
  const res = await signedRequest(srv.port, { method: 'GET', path: `/${B}?list-type=2&prefix=z&encoding-type=url` });
  assert.equal(res.status, 200);
  assert.match(res.text, /<Key>z%C3%A9<\/Key>/);
  assert.match(res.text, /<EncodingType>url<\/EncodingType>/);
  const bad = await signedRequest(srv.port, { method: 'GET', path: `/${B}?list-type=2&max-keys=abc` });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /<Code>InvalidArgument<\/Code>/);
  const badEnc = await signedRequest(srv.port, { method: 'GET', path: `/${B}?list-type=2&encoding-type=base64` });
  assert.equal(badEnc.status, 400);
  const badToken = await signedRequest(srv.port, { method: 'GET', path: `/${B}?list-type=2&continuation-token=%21%21` });
  assert.equal(badToken.status, 400);
  // An empty token is no token: the listing starts at the beginning and echoes it.
  const emptyToken = await signedRequest(srv.port, { method: 'GET', path: `/${B}?list-type=2&max-keys=1&continuation-token=` });
  assert.equal(emptyToken.status, 200, emptyToken.text);
  assert.match(emptyToken.text, /<ContinuationToken><\/ContinuationToken>/);
  assert.match(emptyToken.text, new RegExp(`<Key>${KEYS[0]}</Key>`));
});

test('ListObjects v1 echoes Prefix as sent under encoding-type=url (SDKs do not decode it), and encodes the rest', async () => {
  const res = await signedRequest(srv.port, { method: 'GET', path: `/${B}?prefix=z%C3%A9&encoding-type=url` });
  assert.equal(res.status, 200, res.text);
  assert.match(res.text, /<Prefix>zé<\/Prefix>/);
  assert.match(res.text, /<Key>z%C3%A9<\/Key>/);
  const sdk = await s3.send(new ListObjectsCommand({ Bucket: B, Prefix: 'dir1/sub2/' }));
  assert.equal(sdk.Prefix, 'dir1/sub2/');
  assert.equal(sdk.Contents?.length, 10);
});
