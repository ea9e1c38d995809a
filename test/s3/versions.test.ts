// ListObjectVersions on unversioned buckets (every object is its own "null" version) and deletes that name it,
// as the tools that empty buckets use them (s3-tests' nuke_bucket, `aws s3 rb --force`).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, HeadObjectCommand,
  ListObjectVersionsCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type ListObjectVersionsCommandOutput,
} from '@aws-sdk/client-s3';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { signedRequest } from '../helpers/raw.ts';

let srv: TestServer;
let s3: S3Client;
const B = 'versions';
const KEYS = ['a/1', 'a/2', 'a/3', 'b/1', 'c', 'd e', 'zé'];

before(async () => {
  srv = await startFerry();
  s3 = srv.client();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  for (const k of KEYS) await s3.send(new PutObjectCommand({ Bucket: B, Key: k, Body: `body of ${k}` }));
});
after(async () => srv.stop());

test('every object is listed once as its null version, latest, with its ETag, size and owner', async () => {
  const page = await s3.send(new ListObjectVersionsCommand({ Bucket: B }));
  assert.equal(page.IsTruncated, false);
  assert.equal(page.DeleteMarkers, undefined);
  assert.deepEqual(page.Versions?.map((v) => v.Key), KEYS);
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'c' }));
  const c = page.Versions!.find((v) => v.Key === 'c')!;
  assert.equal(c.VersionId, 'null');
  assert.equal(c.IsLatest, true);
  assert.equal(c.ETag, head.ETag);
  assert.equal(c.Size, 'body of c'.length);
  assert.equal(c.StorageClass, 'STANDARD');
  assert.ok(c.Owner?.ID);
  // The Last-Modified header has whole seconds; listings carry milliseconds, as on S3.
  assert.equal(Math.floor(c.LastModified!.getTime() / 1000), head.LastModified!.getTime() / 1000);
});

test('pages of 2 follow NextKeyMarker / NextVersionIdMarker through every key', async () => {
  const seen: string[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (let i = 0; i < 20; i++) {
    const page: ListObjectVersionsCommandOutput = await s3.send(new ListObjectVersionsCommand({ Bucket: B, MaxKeys: 2, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
    assert.ok((page.Versions?.length ?? 0) <= 2);
    seen.push(...(page.Versions ?? []).map((v) => v.Key!));
    if (!page.IsTruncated) break;
    assert.equal(page.NextVersionIdMarker, 'null');
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
  assert.deepEqual(seen, KEYS);
});

test('prefix, delimiter and key-marker narrow the listing as ListObjects does', async () => {
  const rolled = await s3.send(new ListObjectVersionsCommand({ Bucket: B, Delimiter: '/' }));
  assert.deepEqual(rolled.CommonPrefixes?.map((p) => p.Prefix), ['a/', 'b/']);
  assert.deepEqual(rolled.Versions?.map((v) => v.Key), ['c', 'd e', 'zé']);
  const under = await s3.send(new ListObjectVersionsCommand({ Bucket: B, Prefix: 'a/', KeyMarker: 'a/1' }));
  assert.deepEqual(under.Versions?.map((v) => v.Key), ['a/2', 'a/3']);
  assert.equal(under.Prefix, 'a/');
  assert.equal(under.KeyMarker, 'a/1');
  // A page that ends on a common prefix carries a key marker only, and resuming from it skips the whole prefix.
  const first = await s3.send(new ListObjectVersionsCommand({ Bucket: B, Delimiter: '/', MaxKeys: 1 }));
  assert.equal(first.IsTruncated, true);
  assert.equal(first.NextKeyMarker, 'a/');
  assert.equal(first.NextVersionIdMarker, undefined);
  const rest = await s3.send(new ListObjectVersionsCommand({ Bucket: B, Delimiter: '/', KeyMarker: 'a/' }));
  assert.deepEqual(rest.CommonPrefixes?.map((p) => p.Prefix), ['b/']);
});

test('encoding-type=url encodes keys and markers', async () => {
  const r = await signedRequest(srv.port, { method: 'GET', path: `/${B}?versions&encoding-type=url&key-marker=d%20e&version-id-marker=null` });
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /<ListVersionsResult xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/">/);
  assert.match(r.text, /<KeyMarker>d\+e<\/KeyMarker><VersionIdMarker>null<\/VersionIdMarker>/);
  assert.match(r.text, /<Key>z%C3%A9<\/Key><VersionId>null<\/VersionId><IsLatest>true<\/IsLatest>/);
  assert.match(r.text, /<EncodingType>url<\/EncodingType>/);
});

test('bad markers answer InvalidArgument; other methods on ?versions are not implemented', async () => {
  const alone = await signedRequest(srv.port, { method: 'GET', path: `/${B}?versions&version-id-marker=null` });
  assert.equal(alone.status, 400);
  assert.match(alone.text, /<Code>InvalidArgument<\/Code>/);
  assert.match(alone.text, /version-id marker cannot be specified without a key marker/);
  const unknown = await signedRequest(srv.port, { method: 'GET', path: `/${B}?versions&key-marker=c&version-id-marker=3HL4kqtJlcpXroDTDmJ` });
  assert.equal(unknown.status, 400);
  assert.match(unknown.text, /Invalid version id specified/);
  const missing = await signedRequest(srv.port, { method: 'GET', path: '/no-such-bucket-here?versions' });
  assert.equal(missing.status, 404);
  assert.match(missing.text, /<Code>NoSuchBucket<\/Code>/);
  const put = await signedRequest(srv.port, { method: 'PUT', path: `/${B}?versions`, body: '' });
  assert.equal(put.status, 501);
});

test('a bucket emptied version by version, as s3-tests does, can then be deleted', async () => {
  const bucket = 'versions-nuke';
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (let i = 0; i < 9; i++) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `k${i}`, Body: 'x' }));
  const single = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k0', VersionId: 'null' }));
  assert.equal(single.VersionId, 'null');
  // s3-tests' list_versions: batches of MaxKeys, each deleted with DeleteObjects naming the version.
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (let round = 0; round < 10; round++) {
    const listing: ListObjectVersionsCommandOutput = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: 3, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
    const objects = (listing.Versions ?? []).map((v) => ({ Key: v.Key!, VersionId: v.VersionId! }));
    if (objects.length > 0) {
      const deleted = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: false }, BypassGovernanceRetention: true }));
      assert.deepEqual(deleted.Deleted?.map((d) => [d.Key, d.VersionId]), objects.map((o) => [o.Key, 'null']));
      assert.equal(deleted.Errors, undefined);
    }
    if (!listing.IsTruncated) break;
    keyMarker = listing.NextKeyMarker;
    versionIdMarker = listing.NextVersionIdMarker;
  }
  assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount, 0);
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
});
