// Multipart uploads through the AWS SDK and lib-storage: validation, listing, zero-copy completion, composite checksums.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListPartsCommand, PutObjectCommand, S3Client,
  UploadPartCommand, UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { errorOf } from '../helpers/sdk.ts';

let srv: TestServer;
let s3: S3Client;
const B = 'multipart';
const MiB = 1024 * 1024;

before(async () => {
  srv = await startFerry();
  s3 = srv.client();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
});
after(async () => srv.stop());

function md5(b: Buffer): Buffer {
  return createHash('md5').update(b).digest();
}

test('lib-storage uploads 56 MiB as a multipart object that reads back byte for byte', async () => {
  const body = randomBytes(56 * MiB);
  const upload = new Upload({ client: s3, params: { Bucket: B, Key: 'big/object.bin', Body: Readable.from([body]), ContentType: 'video/mp4', Metadata: { cam: '7' } }, partSize: 8 * MiB, queueSize: 4 });
  const res = await upload.done();
  assert.match(res.ETag ?? '', /^"[0-9a-f]{32}-7"$/);
  const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'big/object.bin' }));
  assert.equal(got.ContentLength, body.length);
  assert.equal(got.ContentType, 'video/mp4');
  assert.deepEqual(got.Metadata, { cam: '7' });
  const hash = createHash('sha256');
  for await (const chunk of got.Body as Readable) hash.update(chunk as Buffer);
  assert.equal(hash.digest('hex'), createHash('sha256').update(body).digest('hex'));
  const range = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'big/object.bin', Range: `bytes=${8 * MiB - 5}-${8 * MiB + 4}` }));
  assert.deepEqual(Buffer.from(await range.Body!.transformToByteArray()), body.subarray(8 * MiB - 5, 8 * MiB + 5));
});

test('the multipart ETag is the MD5 of the part MD5s with the part count', async () => {
  const p1 = randomBytes(5 * MiB);
  const p2 = randomBytes(1000);
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'etag' }));
  const r1 = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'etag', UploadId, PartNumber: 1, Body: p1 }));
  const r2 = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'etag', UploadId, PartNumber: 2, Body: p2 }));
  assert.equal(r1.ETag, `"${md5(p1).toString('hex')}"`);
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'etag', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r1.ETag }, { PartNumber: 2, ETag: r2.ETag }] } }));
  const expected = createHash('md5').update(Buffer.concat([md5(p1), md5(p2)])).digest('hex');
  assert.equal(done.ETag, `"${expected}-2"`);
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'etag' }));
  assert.equal(head.ContentLength, p1.length + p2.length);
  assert.deepEqual(await errorOf(s3.send(new ListPartsCommand({ Bucket: B, Key: 'etag', UploadId }))), { name: 'NoSuchUpload', status: 404 });
  // A retried Complete (its first answer lost) answers the same result again, as S3 does, while the key holds it.
  const parts = { Parts: [{ PartNumber: 1, ETag: r1.ETag }, { PartNumber: 2, ETag: r2.ETag }] };
  const again = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'etag', UploadId, MultipartUpload: parts }));
  assert.equal(again.ETag, done.ETag);
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'etag', Body: 'replaced' }));
  assert.deepEqual(await errorOf(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'etag', UploadId, MultipartUpload: parts }))), { name: 'NoSuchUpload', status: 404 });
});

test('completion validates part order, ETags and the 5 MiB minimum', async () => {
  const small = randomBytes(1024);
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'bad' }));
  const r1 = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'bad', UploadId, PartNumber: 1, Body: small }));
  const r2 = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'bad', UploadId, PartNumber: 2, Body: small }));
  const complete = (Parts: Array<{ PartNumber: number; ETag?: string }>) => errorOf(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'bad', UploadId, MultipartUpload: { Parts } })));
  assert.deepEqual(await complete([{ PartNumber: 2, ETag: r2.ETag }, { PartNumber: 1, ETag: r1.ETag }]), { name: 'InvalidPartOrder', status: 400 });
  assert.deepEqual(await complete([{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }]), { name: 'InvalidPart', status: 400 });
  assert.deepEqual(await complete([{ PartNumber: 3, ETag: r1.ETag }]), { name: 'InvalidPart', status: 400 });
  assert.deepEqual(await complete([{ PartNumber: 1, ETag: r1.ETag }, { PartNumber: 2, ETag: r2.ETag }]), { name: 'EntityTooSmall', status: 400 });
  // A failed completion leaves the upload usable.
  const ok = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'bad', UploadId, MultipartUpload: { Parts: [{ PartNumber: 2, ETag: r2.ETag }] } }));
  assert.match(ok.ETag ?? '', /-1"$/);
  const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'bad' }));
  assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), small);
});

test('ListParts and ListMultipartUploads page through parts and uploads; abort removes the upload', async () => {
  const ids: string[] = [];
  for (const key of ['lm/a', 'lm/a', 'lm/b', 'lm/c/d']) ids.push((await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: key }))).UploadId!);
  for (let n = 1; n <= 5; n++) await s3.send(new UploadPartCommand({ Bucket: B, Key: 'lm/a', UploadId: ids[0], PartNumber: n, Body: `part-${n}` }));
  const page1 = await s3.send(new ListPartsCommand({ Bucket: B, Key: 'lm/a', UploadId: ids[0], MaxParts: 2 }));
  assert.deepEqual(page1.Parts?.map((p) => p.PartNumber), [1, 2]);
  assert.equal(page1.IsTruncated, true);
  const page2 = await s3.send(new ListPartsCommand({ Bucket: B, Key: 'lm/a', UploadId: ids[0], PartNumberMarker: page1.NextPartNumberMarker }));
  assert.deepEqual(page2.Parts?.map((p) => [p.PartNumber, p.Size]), [[3, 6], [4, 6], [5, 6]]);
  const all = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Prefix: 'lm/' }));
  assert.deepEqual(all.Uploads?.map((u) => u.Key), ['lm/a', 'lm/a', 'lm/b', 'lm/c/d']);
  assert.deepEqual(all.Uploads?.slice(0, 2).map((u) => u.UploadId), ids.slice(0, 2));
  const rolled = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Prefix: 'lm/', Delimiter: '/' }));
  assert.deepEqual(rolled.CommonPrefixes?.map((p) => p.Prefix), ['lm/c/']);
  const paged = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Prefix: 'lm/', MaxUploads: 1 }));
  assert.equal(paged.IsTruncated, true);
  const rest = await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Prefix: 'lm/', KeyMarker: paged.NextKeyMarker, UploadIdMarker: paged.NextUploadIdMarker }));
  assert.deepEqual(rest.Uploads?.map((u) => u.UploadId), ids.slice(1));
  for (const [i, key] of ['lm/a', 'lm/a', 'lm/b', 'lm/c/d'].entries()) await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId: ids[i] }));
  assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: B, Prefix: 'lm/' }))).Uploads, undefined);
  assert.deepEqual(await errorOf(s3.send(new UploadPartCommand({ Bucket: B, Key: 'lm/a', UploadId: ids[0], PartNumber: 1, Body: 'x' }))), { name: 'NoSuchUpload', status: 404 });
  assert.deepEqual(await errorOf(s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'lm/a', UploadId: ids[0] }))), { name: 'NoSuchUpload', status: 404 });
});

test('UploadPartCopy copies a byte range of another object into a part', async () => {
  const src = randomBytes(6 * MiB);
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'copy-src', Body: src }));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'copy-dst' }));
  const c1 = await s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'copy-dst', UploadId, PartNumber: 1, CopySource: `${B}/copy-src`, CopySourceRange: `bytes=0-${5 * MiB - 1}` }));
  const c2 = await s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'copy-dst', UploadId, PartNumber: 2, CopySource: `${B}/copy-src`, CopySourceRange: `bytes=${5 * MiB}-${6 * MiB - 1}` }));
  assert.equal(c1.CopyPartResult?.ETag, `"${md5(src.subarray(0, 5 * MiB)).toString('hex')}"`);
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'copy-dst', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: c1.CopyPartResult?.ETag }, { PartNumber: 2, ETag: c2.CopyPartResult?.ETag }] } }));
  const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'copy-dst' }));
  assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), src);
  assert.deepEqual(await errorOf(s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'copy-dst', UploadId: 'nope', PartNumber: 1, CopySource: `${B}/copy-src` }))), { name: 'NoSuchUpload', status: 404 });
});

test('per-part checksums give a composite checksum; CRC64NVME gives a full-object one', async () => {
  const p1 = randomBytes(5 * MiB);
  const p2 = randomBytes(777);
  for (const [alg, type] of [['SHA256', 'COMPOSITE'], ['CRC32', 'COMPOSITE'], ['CRC32C', 'FULL_OBJECT'], ['CRC64NVME', 'FULL_OBJECT']] as const) {
    const key = `ck-${alg}`;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: key, ChecksumAlgorithm: alg, ChecksumType: type }));
    const r1 = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: 1, Body: p1, ChecksumAlgorithm: alg }));
    const r2 = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: 2, Body: p2, ChecksumAlgorithm: alg }));
    const field = `Checksum${alg}` as const;
    assert.ok(r1[field], `${alg} part checksum`);
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r1.ETag, [field]: r1[field] }, { PartNumber: 2, ETag: r2.ETag, [field]: r2[field] }] } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key, ChecksumMode: 'ENABLED' }));
    assert.equal(head[field], done[field], alg);
    if (type === 'COMPOSITE') {
      assert.match(head[field] ?? '', /-2$/, alg);
    } else {
      // The full-object checksum equals a checksum of the whole body computed in one go.
      const whole = await s3.send(new PutObjectCommand({ Bucket: B, Key: `${key}-whole`, Body: Buffer.concat([p1, p2]), ChecksumAlgorithm: alg }));
      assert.equal(head[field], whole[field], alg);
    }
  }
});

test('CompleteMultipartUpload verifies a full-object checksum sent in its headers', async () => {
  const p1 = randomBytes(5 * MiB);
  const p2 = randomBytes(4321);
  const whole = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'fo-whole', Body: Buffer.concat([p1, p2]), ChecksumAlgorithm: 'CRC32' }));
  for (const [key, value, ok] of [['fo-good', whole.ChecksumCRC32, true], ['fo-bad', 'AAAAAA==', false]] as const) {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: key, ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT' }));
    const r1 = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: 1, Body: p1, ChecksumAlgorithm: 'CRC32' }));
    const r2 = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: 2, Body: p2, ChecksumAlgorithm: 'CRC32' }));
    const complete = s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId, ChecksumCRC32: value, ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r1.ETag, ChecksumCRC32: r1.ChecksumCRC32 }, { PartNumber: 2, ETag: r2.ETag, ChecksumCRC32: r2.ChecksumCRC32 }] } }));
    if (ok) {
      assert.equal((await complete).ChecksumCRC32, whole.ChecksumCRC32);
    } else {
      assert.deepEqual(await errorOf(complete), { name: 'BadDigest', status: 400 });
      // Not a CRC32 at all: the header is malformed, not mismatched.
      const malformed = s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId, ChecksumCRC32: 'bad', ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r1.ETag, ChecksumCRC32: r1.ChecksumCRC32 }, { PartNumber: 2, ETag: r2.ETag, ChecksumCRC32: r2.ChecksumCRC32 }] } }));
      assert.deepEqual(await errorOf(malformed), { name: 'InvalidRequest', status: 400 });
      await s3.send(new AbortMultipartUploadCommand({ Bucket: B, Key: key, UploadId }));
    }
  }
});
