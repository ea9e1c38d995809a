// Object operations through the AWS SDK v3 (default checksum mode: aws-chunked + CRC32 trailer) against a real ferry.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  CopyObjectCommand, CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, DeleteObjectTaggingCommand,
  GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand,
  PutObjectTaggingCommand, S3Client,
} from '@aws-sdk/client-s3';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { errorOf } from '../helpers/sdk.ts';
import { signedRequest } from '../helpers/raw.ts';

let srv: TestServer;
let s3: S3Client;
const B = 'objects';

before(async () => {
  srv = await startFerry();
  s3 = srv.client();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
});
after(async () => srv.stop());

async function bytesOf(key: string, extra: Record<string, unknown> = {}): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: B, Key: key, ...extra }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

test('put then get returns the same bytes, ETag, metadata and content headers', async () => {
  const body = randomBytes(100_000);
  const put = await s3.send(new PutObjectCommand({
    Bucket: B, Key: 'dir/file.bin', Body: body, ContentType: 'application/x-test', ContentEncoding: 'identity',
    ContentDisposition: 'attachment; filename="f.bin"', ContentLanguage: 'fr', CacheControl: 'max-age=60',
    Expires: new Date('2030-01-01T00:00:00Z'), Metadata: { camera: 'north-gate', 'Mixed-Case': 'Value' },
  }));
  assert.equal(put.ETag, `"${md5(body)}"`);
  const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'dir/file.bin' }));
  assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
  assert.equal(got.ETag, put.ETag);
  assert.equal(got.ContentLength, body.length);
  assert.equal(got.ContentType, 'application/x-test');
  assert.equal(got.ContentEncoding, 'identity');
  assert.equal(got.ContentDisposition, 'attachment; filename="f.bin"');
  assert.equal(got.ContentLanguage, 'fr');
  assert.equal(got.CacheControl, 'max-age=60');
  assert.equal(got.ExpiresString ?? got.Expires?.toUTCString(), 'Tue, 01 Jan 2030 00:00:00 GMT');
  assert.deepEqual(got.Metadata, { camera: 'north-gate', 'mixed-case': 'Value' });
  assert.equal(got.AcceptRanges, 'bytes');
  assert.ok(got.LastModified instanceof Date);
});

test('an object stored without Content-Type answers binary/octet-stream; empty objects work', async () => {
  const res = await signedRequest(srv.port, { method: 'PUT', path: `/${B}/empty`, body: '' });
  assert.equal(res.status, 200, res.text);
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'empty' }));
  assert.equal(head.ContentType, 'binary/octet-stream');
  assert.equal(head.ContentLength, 0);
  assert.equal(head.ETag, '"d41d8cd98f00b204e9800998ecf8427e"');
  assert.equal((await bytesOf('empty')).length, 0);
});

test('overwrite replaces the bytes; delete removes the key; deleting a missing key succeeds', async () => {
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'ow', Body: 'first' }));
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'ow', Body: 'second version' }));
  assert.equal((await bytesOf('ow')).toString(), 'second version');
  await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'ow' }));
  assert.deepEqual(await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'ow' }))), { name: 'NoSuchKey', status: 404 });
  assert.deepEqual(await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ow' }))), { name: 'NotFound', status: 404 });
  await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'ow' }));
});

test('hostile keys are stored as distinct objects and never escape the data dir', async () => {
  const keys = ['../escape', '..%2F..%2Fetc', 'a/../b', '/leading', 'trailing/', 'dot/./x', 'sp ace+plus', 'ünï/cödé/☃', '🙂', 'ctl\u0001x', 'a'.repeat(1022), '%', '?x=1#frag', 'a\\b'];
  for (const [i, key] of keys.entries()) await s3.send(new PutObjectCommand({ Bucket: B, Key: `h/${key}`, Body: `v${i}` }));
  for (const [i, key] of keys.entries()) assert.equal((await bytesOf(`h/${key}`)).toString(), `v${i}`, key);
  const list = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'h/', EncodingType: 'url' }));
  assert.equal(list.KeyCount, keys.length);
});

test('single ranges answer 206 with Content-Range; unsatisfiable ranges 416 InvalidRange', async () => {
  const body = Buffer.from('0123456789abcdefghij');
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'range', Body: body }));
  const r = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'range', Range: 'bytes=2-5' }));
  assert.equal(r.$metadata.httpStatusCode, 206);
  assert.equal(r.ContentRange, 'bytes 2-5/20');
  assert.equal(Buffer.from(await r.Body!.transformToByteArray()).toString(), '2345');
  assert.equal((await bytesOf('range', { Range: 'bytes=-3' })).toString(), 'hij');
  assert.equal((await bytesOf('range', { Range: 'bytes=15-' })).toString(), 'fghij');
  assert.equal((await bytesOf('range', { Range: 'bytes=18-100' })).toString(), 'ij');
  assert.deepEqual(await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'range', Range: 'bytes=20-30' }))), { name: 'InvalidRange', status: 416 });
});

test('conditional GET and HEAD answer 304 and 412 like S3', async () => {
  const put = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'cond', Body: 'c' }));
  const etag = put.ETag!;
  const past = new Date(Date.now() - 3600_000);
  const future = new Date(Date.now() + 3600_000);
  assert.equal((await bytesOf('cond', { IfMatch: etag })).toString(), 'c');
  assert.deepEqual(await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond', IfMatch: '"nope"' }))), { name: 'PreconditionFailed', status: 412 });
  assert.equal((await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond', IfNoneMatch: etag })))).status, 304);
  const lastModified = (await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cond' }))).LastModified!;
  assert.equal((await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cond', IfModifiedSince: lastModified })))).status, 304);
  // A date in the future is not a valid validator (RFC 9110 13.1.3): S3 ignores it and answers 200.
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cond', IfModifiedSince: future }))).$metadata.httpStatusCode, 200);
  // HEAD answers carry no body, so the SDK cannot name the error: the status is the contract.
  assert.equal((await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cond', IfUnmodifiedSince: past })))).status, 412);
  assert.equal((await bytesOf('cond', { IfModifiedSince: past })).toString(), 'c');
});

test('conditional PUT: If-None-Match * creates only, If-Match compares and swaps', async () => {
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'cas', Body: 'v1', IfNoneMatch: '*' }));
  assert.deepEqual(await errorOf(s3.send(new PutObjectCommand({ Bucket: B, Key: 'cas', Body: 'v2', IfNoneMatch: '*' }))), { name: 'PreconditionFailed', status: 412 });
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cas' }));
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'cas', Body: 'v3', IfMatch: head.ETag }));
  assert.deepEqual(await errorOf(s3.send(new PutObjectCommand({ Bucket: B, Key: 'cas', Body: 'v4', IfMatch: head.ETag }))), { name: 'PreconditionFailed', status: 412 });
  assert.deepEqual(await errorOf(s3.send(new PutObjectCommand({ Bucket: B, Key: 'cas-missing', Body: 'x', IfMatch: head.ETag }))), { name: 'NoSuchKey', status: 404 });
  assert.equal((await bytesOf('cas')).toString(), 'v3');
});

test('response-content-* overrides change the GET response headers', async () => {
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'ovr', Body: 'o', ContentType: 'text/plain' }));
  const r = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'ovr', ResponseContentType: 'image/png', ResponseContentDisposition: 'inline', ResponseCacheControl: 'no-cache' }));
  assert.equal(r.ContentType, 'image/png');
  assert.equal(r.ContentDisposition, 'inline');
  assert.equal(r.CacheControl, 'no-cache');
  await r.Body!.transformToByteArray();
});

test('checksums are verified, stored and returned with x-amz-checksum-mode ENABLED', async () => {
  const body = Buffer.from('checksummed body');
  for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
    const put = await s3.send(new PutObjectCommand({ Bucket: B, Key: `ck-${alg}`, Body: body, ChecksumAlgorithm: alg }));
    const field = `Checksum${alg}` as const;
    assert.ok(put[field], `${alg} echoed on PUT`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: `ck-${alg}`, ChecksumMode: 'ENABLED' }));
    assert.equal(head[field], put[field], alg);
    const plain = await s3.send(new HeadObjectCommand({ Bucket: B, Key: `ck-${alg}` }));
    assert.equal(plain[field], undefined, 'not returned unless asked');
  }
  const sha1 = createHash('sha1').update(body).digest('base64');
  const put = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'ck-given', Body: body, ChecksumSHA1: sha1 }));
  assert.equal(put.ChecksumSHA1, sha1);
  const wrong = createHash('sha1').update('other').digest('base64');
  assert.equal((await errorOf(s3.send(new PutObjectCommand({ Bucket: B, Key: 'ck-bad', Body: body, ChecksumSHA1: wrong })))).status, 400);
  assert.deepEqual(await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ck-bad' }))), { name: 'NotFound', status: 404 });
});

test('Content-MD5 is verified: a mismatch stores nothing and answers BadDigest', async () => {
  const body = Buffer.from('md5 body');
  const good = createHash('md5').update(body).digest('base64');
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'md5-ok', Body: body, ContentMD5: good }));
  const bad = createHash('md5').update('x').digest('base64');
  assert.deepEqual(await errorOf(s3.send(new PutObjectCommand({ Bucket: B, Key: 'md5-bad', Body: body, ContentMD5: bad }))), { name: 'BadDigest', status: 400 });
  assert.deepEqual(await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'md5-bad' }))), { name: 'NotFound', status: 404 });
});

test('CopyObject with COPY and REPLACE directives and copy-source conditions', async () => {
  const src = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'src', Body: 'copy me', ContentType: 'text/x-src', Metadata: { a: '1' }, Tagging: 't=1' }));
  const c1 = await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'dst1', CopySource: `${B}/src` }));
  assert.equal(c1.CopyObjectResult?.ETag, src.ETag);
  const h1 = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'dst1' }));
  assert.equal(h1.ContentType, 'text/x-src');
  assert.deepEqual(h1.Metadata, { a: '1' });
  assert.equal(h1.TagCount, 1);
  await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'dst2', CopySource: `/${B}/src`, MetadataDirective: 'REPLACE', ContentType: 'text/new', Metadata: { b: '2' }, TaggingDirective: 'REPLACE', Tagging: 'x=y&z=w' }));
  const h2 = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'dst2' }));
  assert.equal(h2.ContentType, 'text/new');
  assert.deepEqual(h2.Metadata, { b: '2' });
  assert.equal(h2.TagCount, 2);
  assert.equal((await bytesOf('dst2')).toString(), 'copy me');
  assert.deepEqual(await errorOf(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'dst3', CopySource: `${B}/src`, CopySourceIfMatch: '"bad"' }))), { name: 'PreconditionFailed', status: 412 });
  assert.deepEqual(await errorOf(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'dst3', CopySource: `${B}/src`, CopySourceIfNoneMatch: src.ETag }))), { name: 'PreconditionFailed', status: 412 });
  await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'dst3', CopySource: `${B}/src`, CopySourceIfMatch: src.ETag }));
  assert.equal((await errorOf(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'src', CopySource: `${B}/src` })))).status, 400);
  await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'src', CopySource: `${B}/src`, MetadataDirective: 'REPLACE', ContentType: 'text/self' }));
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'src' }))).ContentType, 'text/self');
  assert.deepEqual(await errorOf(s3.send(new CopyObjectCommand({ Bucket: B, Key: 'dst4', CopySource: `${B}/missing` }))), { name: 'NoSuchKey', status: 404 });
  await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'dst5', CopySource: encodeURIComponent(`${B}/h/ünï/cödé/☃`) }));
});

test('object tagging: header on PUT, Get/Put/DeleteObjectTagging', async () => {
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'tagged', Body: 't', Tagging: 'site=north&kind=cam%20era' }));
  const t1 = await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'tagged' }));
  assert.deepEqual(t1.TagSet, [{ Key: 'kind', Value: 'cam era' }, { Key: 'site', Value: 'north' }], 'sorted by key');
  await s3.send(new PutObjectTaggingCommand({ Bucket: B, Key: 'tagged', Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'tagged' }))).TagSet, [{ Key: 'a', Value: 'b' }]);
  await s3.send(new DeleteObjectTaggingCommand({ Bucket: B, Key: 'tagged' }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'tagged' }))).TagSet ?? [], []);
  const tooMany = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
  assert.deepEqual(await errorOf(s3.send(new PutObjectTaggingCommand({ Bucket: B, Key: 'tagged', Tagging: { TagSet: tooMany } }))), { name: 'InvalidTag', status: 400 });
  assert.deepEqual(await errorOf(s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'untagged-missing' }))), { name: 'NoSuchKey', status: 404 });
});

test('DeleteObjects deletes a batch, reports each key, and Quiet mode reports only errors', async () => {
  for (const k of ['d1', 'd2', 'd3']) await s3.send(new PutObjectCommand({ Bucket: B, Key: k, Body: k }));
  const res = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: 'd1' }, { Key: 'd2' }, { Key: 'never-there' }] } }));
  assert.deepEqual(res.Deleted?.map((d) => d.Key).sort(), ['d1', 'd2', 'never-there']);
  assert.equal(res.Errors, undefined);
  const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: 'd3' }], Quiet: true } }));
  assert.equal(quiet.Deleted, undefined);
  assert.deepEqual(await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'd3' }))), { name: 'NotFound', status: 404 });
});

test('user metadata over 2 KB answers MetadataTooLarge', async () => {
  assert.deepEqual(await errorOf(s3.send(new PutObjectCommand({ Bucket: B, Key: 'big-meta', Body: 'x', Metadata: { big: 'v'.repeat(2100) } }))), { name: 'MetadataTooLarge', status: 400 });
});

test('objects in a missing bucket answer NoSuchBucket', async () => {
  assert.deepEqual(await errorOf(s3.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k', Body: 'x' }))), { name: 'NoSuchBucket', status: 404 });
  assert.deepEqual(await errorOf(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'k' }))), { name: 'NoSuchBucket', status: 404 });
});

test('DELETE with a versionId other than null is refused and leaves the object', async () => {
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'ver', Body: 'v' }));
  const res = await signedRequest(srv.port, { method: 'DELETE', path: `/${B}/ver?versionId=abc` });
  assert.equal(res.status, 400);
  assert.match(res.text, /<Code>InvalidArgument<\/Code>/);
  const batch = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: 'ver', VersionId: 'abc' }] } }));
  assert.equal(batch.Errors?.[0]?.Code, 'InvalidArgument');
  assert.equal((await bytesOf('ver')).toString(), 'v');
  await signedRequest(srv.port, { method: 'DELETE', path: `/${B}/ver?versionId=null` });
  assert.deepEqual(await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ver' }))), { name: 'NotFound', status: 404 });
});

test('copies refused at the destination release the source file (no descriptor leak)', async () => {
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'leak-src', Body: randomBytes(200_000) }));
  const { readdirSync } = await import('node:fs');
  const fds = () => readdirSync('/proc/self/fd').length;
  const before = fds();
  for (let i = 0; i < 20; i++) {
    assert.deepEqual(await errorOf(s3.send(new CopyObjectCommand({ Bucket: 'no-such-bucket', Key: 'x', CopySource: `${B}/leak-src` }))), { name: 'NoSuchBucket', status: 404 });
  }
  let after = fds();
  for (const deadline = Date.now() + 5_000; after > before + 2 && Date.now() < deadline; after = fds()) await new Promise((r) => setTimeout(r, 50));
  assert.ok(after <= before + 2, `descriptors grew from ${before} to ${after}`);
});
