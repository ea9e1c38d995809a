// A full disk, for real: ferry on an 8 MiB tmpfs. Data writes stop at the reserve with 507; when something else
// fills the disk, a failed metadata-journal append refuses writes instead of acknowledging ones a restart would
// drop, heals from the ballast, and every acknowledged write survives a restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, statfs, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { startFerry, type TestServer } from '../helpers/server.ts';

const B = 'full';
const RESERVE_MIB = 1;
let mountPoint: string;
let dataDir: string;
let srv: TestServer | undefined;
let s3: S3Client;
const lines: string[] = [];
/** Keys whose write or delete ferry acknowledged, and whether they should exist. */
const expected = new Map<string, boolean>();

async function start(): Promise<void> {
  srv = await startFerry({ FERRY_MIN_FREE_MB: String(RESERVE_MIB) }, { dataDir, keepData: true, log: (l) => lines.push(l) });
  s3 = srv.client();
}

async function failure(p: Promise<unknown>): Promise<{ code: string; status: number } | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    assert.ok(err instanceof S3ServiceException, String(err));
    return { code: err.name, status: err.$metadata.httpStatusCode ?? 0 };
  }
}

/** Another process takes every free byte of the tmpfs; returns the file to delete to give them back. */
async function fillDisk(): Promise<string> {
  const filler = join(mountPoint, 'filler');
  const fh = await open(filler, 'w');
  try {
    const chunk = Buffer.alloc(64 * 1024, 1);
    for (let i = 0; i < 1000; i++) await fh.write(chunk);
    assert.fail('the 8 MiB tmpfs never filled');
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    await fh.close();
  }
  return filler;
}

/** Every acknowledged write and delete is there, nothing else. */
async function assertNothingLost(): Promise<void> {
  const listed = new Set<string>();
  let token: string | undefined;
  for (let page = 0; page < 20; page++) {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: B, ContinuationToken: token }));
    for (const o of r.Contents ?? []) listed.add(o.Key!);
    token = r.NextContinuationToken;
    if (token === undefined) break;
  }
  const wrong = [...expected].filter(([k, present]) => listed.has(k) !== present).map(([k]) => k);
  assert.deepEqual(wrong, [], `keys whose acknowledged state was lost: ${wrong.slice(0, 10).join(', ')}`);
}

async function freeBytes(): Promise<number> {
  const s = await statfs(mountPoint);
  return s.bavail * s.bsize;
}

before(async () => {
  mountPoint = await mkdtemp(join(tmpdir(), 'ferry-full-'));
  // Needs root (CI runs as root): a real filesystem that runs out, not a simulated error.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint]);
  dataDir = join(mountPoint, 'data');
  await start();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
});

after(async () => {
  await srv?.stop();
  execFileSync('umount', [mountPoint]);
  await rm(mountPoint, { recursive: true, force: true });
});

test('data writes stop at the reserve with 507 InsufficientStorage; deletes then make room again', async () => {
  const body = Buffer.alloc(512 * 1024, 7);
  let refused: { code: string; status: number } | undefined;
  let stored = 0;
  for (let i = 0; i < 40 && refused === undefined; i++) {
    refused = await failure(s3.send(new PutObjectCommand({ Bucket: B, Key: `big/${i}`, Body: body })));
    if (refused === undefined) {
      stored++;
      expected.set(`big/${i}`, true);
    }
  }
  assert.deepEqual(refused, { code: 'InsufficientStorage', status: 507 });
  assert.ok(stored >= 5, `stored ${stored} objects before the disk filled`);
  // A browser-form upload of the same size is held to the same reserve (its Content-Length bounds the file).
  const { url, fields } = await createPresignedPost(s3 as never, { Bucket: B, Key: 'big/form', Expires: 60 });
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([body]), 'big.bin');
  const posted = await fetch(url, { method: 'POST', body: form, signal: AbortSignal.timeout(15_000) });
  assert.equal(posted.status, 507, await posted.text());
  // The same form sent chunked, with no Content-Length: held to the reserve batch by batch as it streams.
  const encoded = new Response(form);
  const bytes = new Uint8Array(await encoded.arrayBuffer());
  const chunked = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': encoded.headers.get('content-type') ?? '' },
    body: new ReadableStream({ start(c) { c.enqueue(bytes); c.close(); } }),
    duplex: 'half',
    signal: AbortSignal.timeout(15_000),
  } as RequestInit);
  assert.equal(chunked.status, 507, await chunked.text());
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'big/form' }));
  assert.equal(listed.KeyCount, 0, 'neither form upload was stored');
  assert.ok((await freeBytes()) >= RESERVE_MIB * 1024 * 1024 / 2, 'the reserve is still free');
  const back = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'big/0' }));
  assert.deepEqual(Buffer.from(await back.Body!.transformToByteArray()), body);
  for (const key of ['big/0', 'big/1']) {
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: key }));
    expected.set(key, false);
  }
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'big/again', Body: body }));
  expected.set('big/again', true);
});

test('a disk filled by someone else: writes refused (507, never 500), healed from the ballast, nothing acknowledged lost', async () => {
  // Metadata-only objects (zero bytes, large metadata): their writes and deletes touch only LevelDB's journal.
  const meta = { pad: 'm'.repeat(1800) };
  for (let i = 0; i < 150; i++) {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: `meta/${String(i).padStart(3, '0')}`, Body: '', ContentLength: 0, Metadata: meta }));
    expected.set(`meta/${String(i).padStart(3, '0')}`, true);
  }
  // Another process takes every free byte.
  const filler = await fillDisk();
  // Deletes append to the journal until it cannot grow: the first failure is a clean 507.
  let refused: { code: string; status: number } | undefined;
  let i = 149;
  for (; i >= 0 && refused === undefined; i--) {
    const key = `meta/${String(i).padStart(3, '0')}`;
    refused = await failure(s3.send(new DeleteObjectCommand({ Bucket: B, Key: key })));
    if (refused === undefined) expected.set(key, false);
  }
  assert.deepEqual(refused, { code: 'InsufficientStorage', status: 507 });
  assert.ok(lines.some((l) => l.includes('metadata journal write failed')), lines.join('\n'));
  // Reads go on.
  const read = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'big/again' }));
  assert.equal((await read.Body!.transformToByteArray()).length, 512 * 1024);
  // The ballast gives LevelDB room to rotate its journal; deletes work again with the filler still there.
  const key = `meta/${String(i).padStart(3, '0')}`;
  let healed = false;
  for (const deadline = Date.now() + 15_000; !healed && Date.now() < deadline;) {
    await sleep(250);
    healed = (await failure(s3.send(new DeleteObjectCommand({ Bucket: B, Key: key })))) === undefined;
  }
  assert.ok(healed, `no write succeeded after the journal failed:\n${lines.join('\n')}`);
  expected.set(key, false);
  assert.ok(lines.some((l) => l.includes('released the') && l.includes('ballast')), lines.join('\n'));
  assert.ok(lines.some((l) => l.includes('metadata journal rotated')), lines.join('\n'));
  await unlink(filler);
  for (let j = 0; j < 30; j++) {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: `after/${j}`, Body: 'x', Metadata: meta }));
    expected.set(`after/${j}`, true);
  }
  // A restart replays the journal: every acknowledged write and delete is there, nothing else.
  await srv!.stop();
  srv = undefined;
  await start();
  await assertNothingLost();
});

test('ferry starts on a disk someone else filled: the ballast makes room for LevelDB to replay its journal', async () => {
  // Room for the ballast to be rebuilt at the next start (it wants twice its size free).
  for (let i = 2; i < 6; i++) {
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: `big/${i}` }));
    expected.set(`big/${i}`, false);
  }
  await srv!.stop();
  srv = undefined;
  await start();
  assert.ok(lines.some((l) => l.includes('released the')), 'the ballast was used before');
  const releasedBefore = lines.filter((l) => l.includes('released the')).length;
  // Journal entries that only a replay at the next start turns into a table.
  for (let j = 0; j < 40; j++) {
    await s3.send(new PutObjectCommand({ Bucket: B, Key: `replay/${j}`, Body: 'y', Metadata: { pad: 'r'.repeat(1800) } }));
    expected.set(`replay/${j}`, true);
  }
  await srv!.stop();
  srv = undefined;
  const filler = await fillDisk();
  await start();
  assert.equal(lines.filter((l) => l.includes('released the')).length, releasedBefore + 1, lines.join('\n'));
  await assertNothingLost();
  await unlink(filler);
});
