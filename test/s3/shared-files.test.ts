// Small objects written at the same moment share one data file (src/store/files.ts writeShared): each reads back
// whole and in ranges, across a restart; the file goes once none of its objects is left, failed writes included.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand, CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { startFerry, tempDir, type TestServer } from '../helpers/server.ts';
import { countDataFiles, waitFor } from '../helpers/replication.ts';
import { errorOf } from '../helpers/sdk.ts';
import { signedRequest } from '../helpers/raw.ts';

const B = 'small';
const KiB = 1024;
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function start(dataDir?: string): Promise<{ srv: TestServer; s3: S3Client }> {
  const dir = dataDir ?? await tempDir('ferry-shared-');
  if (dataDir === undefined) dirs.push(dir);
  const srv = await startFerry({}, { dataDir: dir, keepData: true });
  return { srv, s3: srv.client() };
}

async function bytesOf(s3: S3Client, key: string, range?: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: B, Key: key, ...(range ? { Range: range } : {}) }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** `count` objects of 1 byte to 16 KiB, PUT all at once (some as the SDK sends them, some plain-signed, one streamed). */
async function putMany(srv: TestServer, s3: S3Client, prefix: string, count: number): Promise<Map<string, Buffer>> {
  const bodies = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) bodies.set(`${prefix}${i}`, randomBytes(i === 0 ? 16 * KiB : 1 + ((i * 997) % (16 * KiB))));
  await Promise.all([...bodies].map(async ([key, body], i) => {
    if (i % 3 === 1) {
      const raw = await signedRequest(srv.port, { method: 'PUT', path: `/${B}/${key}`, body });
      assert.equal(raw.status, 200, raw.body.toString());
    } else if (i === 2) {
      await s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: Readable.from([body]), ContentLength: body.length }));
    } else {
      await s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: body }));
    }
  }));
  return bodies;
}

test('small objects PUT together share data files, read back whole and in ranges, and survive a restart', async () => {
  const { srv, s3 } = await start();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  const bodies = await putMany(srv, s3, 'k', 48);
  const files = await countDataFiles(srv.dataDir);
  assert.ok(files < bodies.size, `48 small PUTs at once made ${files} data files: none shared`);
  assert.ok(files > 0);

  for (const [key, body] of bodies) {
    assert.deepEqual(await bytesOf(s3, key), body, key);
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: key }));
    assert.equal(head.ContentLength, body.length, key);
    assert.equal(head.ETag, `"${md5(body)}"`, key);
    if (body.length >= 20) {
      assert.deepEqual(await bytesOf(s3, key, 'bytes=3-12'), body.subarray(3, 13), `${key} range`);
      assert.deepEqual(await bytesOf(s3, key, 'bytes=-7'), body.subarray(-7), `${key} suffix`);
    }
    assert.deepEqual(await errorOf(s3.send(new GetObjectCommand({ Bucket: B, Key: key, Range: `bytes=${body.length}-` }))), { name: 'InvalidRange', status: 416 });
  }
  // A copy of a shared object is an object of its own.
  await s3.send(new CopyObjectCommand({ Bucket: B, Key: 'copy', CopySource: `${B}/k5` }));
  assert.deepEqual(await bytesOf(s3, 'copy'), bodies.get('k5'));

  await srv.stop();
  const again = await start(srv.dataDir);
  try {
    for (const [key, body] of bodies) assert.deepEqual(await bytesOf(again.s3, key), body, `${key} after a restart`);
  } finally {
    await again.srv.stop();
  }
});

test('a shared file goes once none of its objects is left: deletes, overwrites and failed conditional writes', async () => {
  const { srv, s3 } = await start();
  try {
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'exists', Body: 'first' }));
    // Conditional PUTs that all fail (the key exists), at once: a file only they share is never referenced.
    const failing = () => errorOf(s3.send(new PutObjectCommand({ Bucket: B, Key: 'exists', Body: randomBytes(3000), IfNoneMatch: '*' })));
    for (const r of await Promise.all(Array.from({ length: 12 }, failing))) assert.deepEqual(r, { name: 'PreconditionFailed', status: 412 });
    await waitFor('the refused bodies\' files to be freed', async () => (await countDataFiles(srv.dataDir)) === 1, 10_000);
    // Failing ones in the same moment as good ones: their bytes may share a file with objects that stay.
    const [bodies, refused] = await Promise.all([
      putMany(srv, s3, 'a', 30),
      Promise.all(Array.from({ length: 6 }, failing)),
    ]);
    for (const r of refused) assert.deepEqual(r, { name: 'PreconditionFailed', status: 412 });
    assert.equal(await bytesOf(s3, 'exists').then(String), 'first');

    // Half deleted: the rest still read back.
    const keys = [...bodies.keys()];
    for (const key of keys.filter((_, i) => i % 2 === 0)) await s3.send(new DeleteObjectCommand({ Bucket: B, Key: key }));
    for (const key of keys.filter((_, i) => i % 2 === 1)) assert.deepEqual(await bytesOf(s3, key), bodies.get(key), key);
    // The other half overwritten together, then deleted.
    await Promise.all(keys.filter((_, i) => i % 2 === 1).map((key) => s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: randomBytes(500) }))));
    for (const key of keys) await s3.send(new DeleteObjectCommand({ Bucket: B, Key: key }));
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'exists' }));
    await waitFor('every data file to be freed', async () => (await countDataFiles(srv.dataDir)) === 0, 10_000);
  } finally {
    await srv.stop();
  }
});

test('reads racing overwrites and deletes of objects that share files always get one whole version', async () => {
  const { srv, s3 } = await start();
  try {
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    const versions = new Set<string>();
    const write = async (key: string, i: number) => {
      const body = randomBytes(1000 + (i % 7) * 1000);
      versions.add(md5(body));
      await s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: body }));
    };
    await Promise.all([write('hot', 0), write('neighbour', 0)]);
    const deadline = Date.now() + 8_000;
    for (let i = 1; i <= 100 && Date.now() < deadline; i++) {
      const [got] = await Promise.all([
        bytesOf(s3, 'hot'),
        write('hot', i),
        write('neighbour', i + 1),
        i % 5 === 0 ? s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'neighbour' })) : undefined,
      ]);
      assert.ok(versions.has(md5(got)), `read ${i} got bytes no write sent`);
    }
    for (const key of ['hot', 'neighbour']) await s3.send(new DeleteObjectCommand({ Bucket: B, Key: key }));
    await waitFor('every data file to be freed', async () => (await countDataFiles(srv.dataDir)) === 0, 10_000);
  } finally {
    await srv.stop();
  }
});
