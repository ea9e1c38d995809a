// SIGTERM with an upload in flight: no new connections, the upload completes or is cleanly absent, LevelDB closed, exit 0.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { rm } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { dataFiles, requestHead, signHeaders } from '../helpers/protocol.ts';
import { makeClient, spawnFerry, tempDir, type ChildFerry } from '../helpers/server.ts';

const dirs: string[] = [];
const children: ChildFerry[] = [];
after(async () => {
  for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function start(dataDir: string): Promise<ChildFerry> {
  const f = await spawnFerry(dataDir);
  children.push(f);
  return f;
}

/** Resolves once the upload has a data file: the request is in the server's hands, not the listen backlog's. */
async function uploadReachedDisk(dataDir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await dataFiles(dataDir)).length === 0) {
    if (Date.now() > deadline) assert.fail('the upload never reached the disk');
    await sleep(20);
  }
}

function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function waitForLine(f: ChildFerry, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!pattern.test(f.output())) {
    if (Date.now() > deadline) assert.fail(`no ${pattern} within 10 s:\n${f.output()}`);
    await sleep(10);
  }
}

/** Starts a PUT whose body the test feeds by hand, so it is still in flight when the signal arrives. */
function slowPut(endpoint: string, key: string, body: Buffer): { feed: PassThrough; result: Promise<'ok' | Error> } {
  const feed = new PassThrough();
  const client = makeClient(endpoint, { requestHandler: { requestTimeout: 30_000 } });
  const result = client
    .send(new PutObjectCommand({ Bucket: 'drain', Key: key, Body: feed, ContentLength: body.length }))
    .then(() => 'ok' as const, (err: unknown) => err as Error)
    .finally(() => client.destroy());
  feed.write(body.subarray(0, 1024 * 1024));
  return { feed, result };
}

/** A ferry child on a fresh data dir with the bucket `drain`. */
async function startWithBucket(): Promise<{ dataDir: string; f: Awaited<ReturnType<typeof start>> }> {
  const dataDir = await tempDir('ferry-drain-');
  dirs.push(dataDir);
  const f = await start(dataDir);
  const s3 = makeClient(f.endpoint);
  await s3.send(new CreateBucketCommand({ Bucket: 'drain' }));
  s3.destroy();
  return { dataDir, f };
}

test('an upload in flight at SIGTERM completes and is readable after restart; new connections are refused while draining; exit 0', { timeout: 60_000 }, async () => {
  const { dataDir, f } = await startWithBucket();

  const body = randomBytes(4 * 1024 * 1024);
  const put = slowPut(f.endpoint, 'in-flight', body);
  await uploadReachedDisk(dataDir);
  f.child.kill('SIGTERM');
  await waitForLine(f, /SIGTERM: finishing in-flight requests/);
  assert.equal(await connectionRefused(f.port), true, 'a new connection was accepted while draining');
  assert.equal(f.child.exitCode, null, 'exited before the upload in flight finished');
  put.feed.end(body.subarray(1024 * 1024));

  assert.equal(await put.result, 'ok');
  assert.equal(await Promise.race([f.exited, sleep(15_000).then(() => 'no exit within 15 s')]), 0, f.output());

  // A clean LevelDB close: the restart opens the same dir at once (no LEVEL_LOCKED) and has the object.
  const again = await start(dataDir);
  const client = makeClient(again.endpoint);
  try {
    const got = await client.send(new GetObjectCommand({ Bucket: 'drain', Key: 'in-flight' }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
  } finally {
    client.destroy();
  }
  again.child.kill('SIGTERM');
  assert.equal(await Promise.race([again.exited, sleep(15_000).then(() => 'no exit within 15 s')]), 0, again.output());
});

test('an upload stalled past the stop deadline is cut, cleanly absent after restart, and ferry still exits 0', { timeout: 60_000 }, async () => {
  const { dataDir, f } = await startWithBucket();

  const put = slowPut(f.endpoint, 'stalled', randomBytes(4 * 1024 * 1024));
  await uploadReachedDisk(dataDir);
  const signalled = Date.now();
  f.child.kill('SIGTERM');
  // The body never finishes: the grace period (10 s, src/server.ts) ends it.
  assert.equal(await Promise.race([f.exited, sleep(30_000).then(() => 'no exit within 30 s')]), 0, f.output());
  assert.ok(Date.now() - signalled < 20_000);
  put.feed.destroy();
  assert.ok((await put.result) instanceof Error, 'a cut upload cannot have succeeded');

  const again = await start(dataDir);
  const client = makeClient(again.endpoint);
  try {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'drain' }));
    assert.equal(listed.KeyCount, 0);
    await assert.rejects(client.send(new GetObjectCommand({ Bucket: 'drain', Key: 'stalled' })), { name: 'NoSuchKey' });
  } finally {
    client.destroy();
  }
  again.child.kill('SIGTERM');
  assert.equal(await Promise.race([again.exited, sleep(15_000).then(() => 'no exit within 15 s')]), 0, again.output());
  // Nothing left of it: the half-written file is gone (removed on abort or by the startup sweep).
  assert.deepEqual(await dataFiles(dataDir), []);
});

test('a small upload stalled at SIGTERM (read whole, no data file yet) is cut at the deadline, absent after restart, exit 0', { timeout: 60_000 }, async () => {
  const { dataDir, f } = await startWithBucket();
  const path = '/drain/small-stalled';
  const headers = await signHeaders(f.port, { method: 'PUT', path, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': '32768', expect: '100-continue' } });
  const socket = connect(f.port, '127.0.0.1');
  let received = '';
  socket.on('data', (d: Buffer) => { received += d.toString('latin1'); });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(requestHead('PUT', path, headers));
  // 100 Continue goes out once the store starts reading the body: the request is in its hands.
  const deadline = Date.now() + 10_000;
  while (!received.includes('100 Continue')) {
    if (Date.now() > deadline) assert.fail(`no 100 Continue within 10 s: ${JSON.stringify(received)}`);
    await sleep(10);
  }
  socket.write(randomBytes(1024));
  f.child.kill('SIGTERM');
  assert.equal(await Promise.race([f.exited, sleep(30_000).then(() => 'no exit within 30 s')]), 0, f.output());
  await Promise.race([closed, sleep(5_000)]);
  socket.destroy();
  assert.doesNotMatch(received, /HTTP\/1\.1 200/, 'a cut upload cannot have succeeded');

  const again = await start(dataDir);
  const client = makeClient(again.endpoint);
  try {
    await assert.rejects(client.send(new GetObjectCommand({ Bucket: 'drain', Key: 'small-stalled' })), { name: 'NoSuchKey' });
  } finally {
    client.destroy();
  }
  again.child.kill('SIGTERM');
  assert.equal(await Promise.race([again.exited, sleep(15_000).then(() => 'no exit within 15 s')]), 0, again.output());
  assert.deepEqual(await dataFiles(dataDir), []);
});
