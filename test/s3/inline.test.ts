// Small objects kept inline (their bytes in the metadata database, FERRY_INLINE_MAX_KB, default 16 KiB): served like
// any other object, whole or in ranges, copied, overwritten and deleted without leaking, kept across a restart.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, UploadPartCopyCommand, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startFerry, tempDir, type TestServer } from '../helpers/server.ts';
import { countDataFiles } from '../helpers/replication.ts';
import { inlineBlobs } from '../helpers/inline.ts';
import { errorOf } from '../helpers/sdk.ts';
import { signedRequest } from '../helpers/raw.ts';

const B = 'small';
const KiB = 1024;
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}, dataDir?: string): Promise<{ srv: TestServer; s3: S3Client }> {
  const dir = dataDir ?? await tempDir('ferry-inline-');
  if (dataDir === undefined) dirs.push(dir);
  const srv = await startFerry(env, { dataDir: dir, keepData: true });
  return { srv, s3: srv.client() };
}

async function bytesOf(s3: S3Client, key: string, range?: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: B, Key: key, ...(range ? { Range: range } : {}) }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

test('bodies up to 16 KiB are kept inline, larger ones in files; every one reads back whole and in ranges', async () => {
  const { srv, s3 } = await start();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  const bodies = new Map<string, Buffer>([
    ['one-byte', randomBytes(1)],
    ['four-k', randomBytes(4 * KiB)],
    ['at-limit', randomBytes(16 * KiB)],
    ['past-limit', randomBytes(16 * KiB + 1)],
    ['empty', Buffer.alloc(0)],
  ]);
  // The SDK sends aws-chunked bodies with a CRC32 trailer; a plain signed PUT (as curl or the bench) is read whole.
  for (const [key, body] of bodies) await s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: body }));
  const plain = randomBytes(3000);
  const raw = await signedRequest(srv.port, { method: 'PUT', path: `/${B}/plain`, body: plain });
  assert.equal(raw.status, 200, raw.body.toString());
  bodies.set('plain', plain);
  // A streamed body of known length (aws-chunked, no Buffer to hash up front) goes inline too.
  const streamed = randomBytes(5000);
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'streamed', Body: Readable.from([streamed]), ContentLength: streamed.length }));
  bodies.set('streamed', streamed);

  for (const [key, body] of bodies) {
    assert.deepEqual(await bytesOf(s3, key), body, key);
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key }));
    assert.equal(head.ContentLength, body.length, key);
    assert.equal(head.ETag, `"${md5(body)}"`, key);
  }
  const four = bodies.get('four-k')!;
  assert.deepEqual(await bytesOf(s3, 'four-k', 'bytes=10-19'), four.subarray(10, 20));
  assert.deepEqual(await bytesOf(s3, 'four-k', 'bytes=-5'), four.subarray(-5));
  assert.deepEqual(await bytesOf(s3, 'four-k', 'bytes=4000-'), four.subarray(4000));
  const range = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'four-k', Range: 'bytes=0-0' }));
  assert.equal(range.ContentRange, `bytes 0-0/${4 * KiB}`);
  assert.deepEqual(await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: 'four-k', Range: 'bytes=5000-6000' }))), { name: 'InvalidRange', status: 416 });
  // The flexible checksum the SDK sent is stored and answered, as for a file.
  const crc = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'four-k', ChecksumMode: 'ENABLED' }));
  assert.ok(crc.ChecksumCRC32, 'CRC32 returned for an inline object');
  await crc.Body!.transformToByteArray();

  assert.equal(await countDataFiles(srv.dataDir), 1, 'only the object past 16 KiB has a data file');
  await srv.stop();
  const small = [...bodies].filter(([, b]) => b.length > 0 && b.length <= 16 * KiB);
  assert.deepEqual(await inlineBlobs(srv.dataDir), { count: small.length, bytes: small.reduce((n, [, b]) => n + b.length, 0) });

  // Across a restart.
  const again = await start({}, srv.dataDir);
  try {
    for (const [key, body] of bodies) assert.deepEqual(await bytesOf(again.s3, key), body, `${key} after a restart`);
  } finally {
    await again.srv.stop();
  }
});

test('overwrites and deletes free inline bytes; copies of an inline object read back', async () => {
  const { srv, s3 } = await start();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  const put = (key: string, body: Buffer) => s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: body }));
  await put('a', randomBytes(2000));
  await put('a', randomBytes(3000)); // inline over inline
  await put('b', randomBytes(1000));
  await put('b', randomBytes(40 * KiB)); // a file over inline
  await put('c', randomBytes(40 * KiB));
  const lastC = randomBytes(500);
  await put('c', lastC); // inline over a file
  await put('d', randomBytes(100));
  await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'd' }));

  await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'c-copy', CopySource: `${B}/c` }));
  assert.deepEqual(await bytesOf(s3, 'c-copy'), lastC);
  // A multipart object made from a 5 MiB part and a part copied from an inline object.
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp' }));
  const first = randomBytes(5 * KiB * KiB);
  const p1 = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp', UploadId, PartNumber: 1, Body: first }));
  const p2 = await s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'mp', UploadId, PartNumber: 2, CopySource: `${B}/c`, CopySourceRange: 'bytes=100-199' }));
  await s3.send(new CompleteMultipartUploadCommand({
    Bucket: B, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.CopyPartResult!.ETag }] },
  }));
  assert.deepEqual(await bytesOf(s3, 'mp'), Buffer.concat([first, lastC.subarray(100, 200)]));

  await srv.stop();
  // Live: a (3000), c (500) and c-copy (500) inline; b and the two parts of mp in files.
  assert.deepEqual(await inlineBlobs(srv.dataDir), { count: 3, bytes: 4000 });
  assert.equal(await countDataFiles(srv.dataDir), 3);
});

test('reads racing overwrites of an inline key always get one whole version', async () => {
  const { srv, s3 } = await start();
  try {
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    const versions = new Set<string>();
    const write = async (i: number) => {
      const body = randomBytes(1000 + (i % 7) * 1000);
      versions.add(md5(body));
      await s3.send(new PutObjectCommand({ Bucket: B, Key: 'hot', Body: body }));
    };
    await write(0);
    const deadline = Date.now() + 5_000;
    for (let i = 1; i <= 100 && Date.now() < deadline; i++) {
      const [got] = await Promise.all([bytesOf(s3, 'hot'), write(i), i % 10 === 0 ? s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'other' })) : undefined]);
      assert.ok(versions.has(md5(got)), `read ${i} got bytes no write sent`);
    }
  } finally {
    await srv.stop();
  }
  assert.deepEqual((await inlineBlobs(srv.dataDir)).count, 1, 'the overwritten versions were freed');
});

test('FERRY_INLINE_MAX_KB sets the limit; 0 keeps every object in a file', async () => {
  for (const [setting, inlined] of [['0', 0], ['1', 1]] as const) {
    const { srv, s3 } = await start({ FERRY_INLINE_MAX_KB: setting });
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    const bodies = [randomBytes(KiB), randomBytes(KiB + 1), randomBytes(4 * KiB)];
    for (const [i, body] of bodies.entries()) await s3.send(new PutObjectCommand({ Bucket: B, Key: `k${i}`, Body: body }));
    for (const [i, body] of bodies.entries()) assert.deepEqual(await bytesOf(s3, `k${i}`), body);
    assert.equal(await countDataFiles(srv.dataDir), bodies.length - inlined, `FERRY_INLINE_MAX_KB=${setting}`);
    await srv.stop();
    assert.equal((await inlineBlobs(srv.dataDir)).count, inlined, `FERRY_INLINE_MAX_KB=${setting}`);
  }
});
