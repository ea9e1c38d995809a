// GET and HEAD with ?partNumber through the AWS SDK and raw HTTP: part ranges, parts count, errors, checksums.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand,
  PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { ChecksumAlgorithm, ChecksumType } from '@aws-sdk/client-s3';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { errorOf } from '../helpers/sdk.ts';
import { assertS3Error, send } from '../helpers/protocol.ts';

let srv: TestServer;
let s3: S3Client;
const B = 'part-number';
const MiB = 1024 * 1024;
const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB + 17)];
const whole = Buffer.concat(parts);
let mpEtag: string | undefined;
let plainEtag: string | undefined;

async function multipart(key: string, bodies: Buffer[], checksum?: { algorithm: ChecksumAlgorithm; type: ChecksumType }): Promise<string | undefined> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({
    Bucket: B, Key: key, ...(checksum ? { ChecksumAlgorithm: checksum.algorithm, ChecksumType: checksum.type } : {}),
  }));
  const done: Array<{ PartNumber: number; ETag?: string; ChecksumCRC32?: string }> = [];
  for (const [i, Body] of bodies.entries()) {
    const r = await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: i + 1, Body, ...(checksum ? { ChecksumAlgorithm: checksum.algorithm } : {}) }));
    done.push({ PartNumber: i + 1, ETag: r.ETag, ...(r.ChecksumCRC32 ? { ChecksumCRC32: r.ChecksumCRC32 } : {}) });
  }
  const res = await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId, MultipartUpload: { Parts: done } }));
  return res.ETag;
}

async function bytes(body: unknown): Promise<Buffer> {
  return Buffer.from(await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

before(async () => {
  srv = await startFerry();
  s3 = srv.client();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  mpEtag = await multipart('three', parts);
  plainEtag = (await s3.send(new PutObjectCommand({ Bucket: B, Key: 'plain', Body: 'hello parts' }))).ETag;
});
after(async () => srv.stop());

describe('a multipart object', () => {
  it('GET ?partNumber=N answers that part as 206 with its Content-Range, the whole ETag and x-amz-mp-parts-count', async () => {
    let start = 0;
    for (const [i, part] of parts.entries()) {
      const res = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'three', PartNumber: i + 1 }));
      assert.equal(res.$metadata.httpStatusCode, 206);
      assert.equal(res.ContentLength, part.length);
      assert.equal(res.ContentRange, `bytes ${start}-${start + part.length - 1}/${whole.length}`);
      assert.equal(res.ETag, mpEtag);
      assert.equal(res.PartsCount, 3);
      assert.ok((await bytes(res.Body)).equals(part), `part ${i + 1} bytes`);
      start += part.length;
    }
  });

  it('HEAD ?partNumber=N answers the part size and range without a body; plain HEAD has no parts count', async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'three', PartNumber: 3 }));
    assert.equal(head.$metadata.httpStatusCode, 206);
    assert.equal(head.ContentLength, parts[2]!.length);
    assert.equal(head.ContentRange, `bytes ${10 * MiB}-${whole.length - 1}/${whole.length}`);
    assert.equal(head.PartsCount, 3);
    assert.equal(head.ETag, mpEtag);
    const plain = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'three' }));
    assert.equal(plain.ContentLength, whole.length);
    assert.equal(plain.PartsCount, undefined);
  });

  it('a part number past the last part is 416 InvalidPartNumber', async () => {
    assert.deepEqual(await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'three', PartNumber: 4 }))), { name: 'InvalidPartNumber', status: 416 });
    assert.equal((await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'three', PartNumber: 10000 })))).status, 416);
    const raw = await send(srv.port, { method: 'GET', path: `/${B}/three?partNumber=4` });
    assertS3Error(raw, 416, 'InvalidPartNumber');
    assert.match(raw.text, /<PartNumberRequested>4<\/PartNumberRequested><ActualPartCount>3<\/ActualPartCount>/);
  });

  it('conditional headers compare the whole object ETag', async () => {
    const match = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'three', PartNumber: 2, IfMatch: mpEtag }));
    assert.equal(match.ContentLength, parts[1]!.length);
    await bytes(match.Body);
    assert.equal((await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'three', PartNumber: 2, IfNoneMatch: mpEtag })))).status, 304);
  });

  it('an empty last part is answered as 200 with no bytes', async () => {
    const first = randomBytes(5 * MiB);
    await multipart('empty-last', [first, Buffer.alloc(0)]);
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'empty-last', PartNumber: 2 }));
    assert.equal(head.$metadata.httpStatusCode, 200);
    assert.equal(head.ContentLength, 0);
    assert.equal(head.PartsCount, 2);
    const get = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'empty-last', PartNumber: 2 }));
    assert.equal((await bytes(get.Body)).length, 0);
    const one = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'empty-last', PartNumber: 1 }));
    assert.ok((await bytes(one.Body)).equals(first));
  });
});

describe('a plain object', () => {
  it('is one part: partNumber=1 is all of it as 206 without a parts count', async () => {
    const res = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'plain', PartNumber: 1 }));
    assert.equal(res.$metadata.httpStatusCode, 206);
    assert.equal(res.ContentRange, 'bytes 0-10/11');
    assert.equal(res.ETag, plainEtag);
    assert.equal(res.PartsCount, undefined);
    assert.equal((await bytes(res.Body)).toString(), 'hello parts');
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'plain', PartNumber: 1 }));
    assert.equal(head.ContentLength, 11);
  });

  it('partNumber=2 is 416 InvalidPartNumber', async () => {
    assert.deepEqual(await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'plain', PartNumber: 2 }))), { name: 'InvalidPartNumber', status: 416 });
  });

  it('an empty object answers partNumber=1 as 200 with no bytes', async () => {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'empty', Body: Buffer.alloc(0) }));
    const res = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'empty', PartNumber: 1 }));
    assert.equal(res.$metadata.httpStatusCode, 200);
    assert.equal((await bytes(res.Body)).length, 0);
  });
});

describe('refusals', () => {
  it('partNumber together with a Range is 400 InvalidRequest', async () => {
    assert.deepEqual(await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'three', PartNumber: 1, Range: 'bytes=0-9' }))), { name: 'InvalidRequest', status: 400 });
    assert.equal((await errorOf(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'plain', PartNumber: 1, Range: 'bytes=0-1' })))).status, 400);
  });

  it('a part number that is not an integer from 1 to 10000 is 400 InvalidArgument, even for a missing key', async () => {
    for (const value of ['0', '-1', '10001', 'abc', '1.5', '', '99999999999999999999']) {
      for (const key of ['three', 'missing']) {
        const res = await send(srv.port, { method: 'GET', path: `/${B}/${key}?partNumber=${value}` });
        assertS3Error(res, 400, 'InvalidArgument');
        assert.match(res.text, /<ArgumentName>partNumber<\/ArgumentName>/);
      }
    }
  });

  it('a missing key with a valid part number is 404 NoSuchKey', async () => {
    assert.deepEqual(await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'missing', PartNumber: 1 }))), { name: 'NoSuchKey', status: 404 });
  });
});

describe('checksum mode', () => {
  it('a plain object and a single-part FULL_OBJECT upload return their checksum on partNumber=1 (the SDK validates it)', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'ck-plain', Body: 'checked body', ChecksumAlgorithm: 'CRC32' }));
    const res = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'ck-plain', PartNumber: 1, ChecksumMode: 'ENABLED' }));
    assert.equal(res.ChecksumCRC32, put.ChecksumCRC32);
    assert.equal((await bytes(res.Body)).toString(), 'checked body');

    const body = randomBytes(MiB);
    await multipart('ck-single', [body], { algorithm: 'CRC32', type: 'FULL_OBJECT' });
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ck-single', ChecksumMode: 'ENABLED' }));
    const part = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'ck-single', PartNumber: 1, ChecksumMode: 'ENABLED' }));
    assert.ok(head.ChecksumCRC32);
    assert.equal(part.ChecksumCRC32, head.ChecksumCRC32);
    assert.equal(part.PartsCount, 1);
    assert.ok((await bytes(part.Body)).equals(body));
  });

  it('a part of a multi-part FULL_OBJECT object carries no checksum its bytes would not match', async () => {
    await multipart('ck-FULL_OBJECT', parts.slice(0, 2), { algorithm: 'CRC32', type: 'FULL_OBJECT' });
    const whole = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ck-FULL_OBJECT', ChecksumMode: 'ENABLED' }));
    assert.ok(whole.ChecksumCRC32);
    const part = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'ck-FULL_OBJECT', PartNumber: 2, ChecksumMode: 'ENABLED' }));
    assert.equal(part.ChecksumCRC32, undefined);
    assert.ok((await bytes(part.Body)).equals(parts[1]!));
  });

  it('a part of a COMPOSITE object answers the part\'s own checksum, as UploadPart gave it (the SDK validates it)', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'ck-COMPOSITE', ChecksumAlgorithm: 'CRC32', ChecksumType: 'COMPOSITE' }));
    const sent: Array<{ PartNumber: number; ETag?: string; ChecksumCRC32?: string }> = [];
    for (const [i, Body] of parts.slice(0, 2).entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'ck-COMPOSITE', UploadId, PartNumber: i + 1, Body, ChecksumAlgorithm: 'CRC32' }));
      assert.ok(r.ChecksumCRC32);
      sent.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'ck-COMPOSITE', UploadId, MultipartUpload: { Parts: sent } }));
    const whole = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ck-COMPOSITE', ChecksumMode: 'ENABLED' }));
    assert.match(whole.ChecksumCRC32 ?? '', /-2$/);
    for (const n of [1, 2]) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'ck-COMPOSITE', PartNumber: n, ChecksumMode: 'ENABLED' }));
      assert.equal(head.ChecksumCRC32, sent[n - 1]!.ChecksumCRC32, `HEAD part ${n}`);
      const part = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'ck-COMPOSITE', PartNumber: n, ChecksumMode: 'ENABLED' }));
      assert.equal(part.ChecksumCRC32, sent[n - 1]!.ChecksumCRC32, `GET part ${n}`);
      assert.ok((await bytes(part.Body)).equals(parts[n - 1]!));
    }
  });
});
