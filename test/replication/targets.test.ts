// Per-target behaviour: a send window closed then opened, a bandwidth cap, and two targets of one bucket with one down.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { TestServer } from '../helpers/server.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import type { FaultProxy } from '../helpers/fault-proxy.ts';
import {
  FAST, addTarget, assertReplicated, createBuckets, listKeys, snapshot, startNode, statusOf, waitFor, waitForEmptyQueue,
} from '../helpers/replication.ts';

let upstream: TestServer;
let u: S3Client;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  upstream = await startNode();
  u = upstream.client();
  await createBuckets(u, 'win', 'cap', 'fan-a', 'fan-b');
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await upstream?.stop();
});

test('nothing is sent while the window is closed; the queue drains once it opens', { timeout: 60_000 }, async () => {
  // The edge's clock is the test's: 21:30 local, then 22:30 inside a 22:00-06:00 window.
  const clock = { now: new Date(2026, 10, 24, 21, 30) };
  const edge = await startNode({ replication: { ...FAST, windowCheckMs: 100, now: () => clock.now } });
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'nightly');
  await addTarget(edge.endpoint, 'nightly', upstream.endpoint, 'win', { window: '22:00-06:00' });
  for (let i = 0; i < 5; i++) await e.send(new PutObjectCommand({ Bucket: 'nightly', Key: `n${i}`, Body: `night ${i}` }));
  await new Promise((r) => setTimeout(r, 1_000));
  const [closed] = await statusOf(edge.endpoint, 'nightly');
  assert.equal(closed!.windowOpen, false);
  assert.equal(closed!.depth, 5);
  assert.deepEqual(await listKeys(u, 'win'), []);

  clock.now = new Date(2026, 10, 24, 22, 30);
  await waitForEmptyQueue(edge.endpoint, 'nightly', 10_000);
  await assertReplicated(e, 'nightly', u, 'win');
  assert.equal((await statusOf(edge.endpoint, 'nightly'))[0]!.windowOpen, true);
});

test('a bandwidth cap paces the upload', { timeout: 60_000 }, async () => {
  const edge = await startNode();
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'capped');
  await addTarget(edge.endpoint, 'capped', upstream.endpoint, 'cap', { bandwidth: '256KiB/s' });
  const started = Date.now();
  await e.send(new PutObjectCommand({ Bucket: 'capped', Key: 'slow', Body: randomBytes(1024 * 1024) }));
  await waitForEmptyQueue(edge.endpoint, 'capped', 30_000);
  const seconds = (Date.now() - started) / 1000;
  // 1 MiB at 256 KiB/s with a 64 KiB burst: about 3.75 s.
  assert.ok(seconds >= 3, `1 MiB went up in ${seconds.toFixed(2)} s despite a 256 KiB/s cap`);
  await assertReplicated(e, 'capped', u, 'cap');
});

test('two targets of one bucket: one down does not hold the other back, and catches up when back', { timeout: 90_000 }, async () => {
  const proxy: FaultProxy = await startFaultProxy(upstream.port, 'drop');
  cleanups.push(() => proxy.close());
  const edge = await startNode();
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'fan');
  const a = await addTarget(edge.endpoint, 'fan', upstream.endpoint, 'fan-a');
  const b = await addTarget(edge.endpoint, 'fan', proxy.endpoint, 'fan-b');
  for (let i = 0; i < 10; i++) await e.send(new PutObjectCommand({ Bucket: 'fan', Key: `f${i}`, Body: randomBytes(500), Metadata: { i: String(i) } }));
  await e.send(new DeleteObjectCommand({ Bucket: 'fan', Key: 'f0' }));

  const byId = async () => new Map((await statusOf(edge.endpoint, 'fan')).map((s) => [s.target.id, s]));
  await waitFor('target a to drain', async () => (await byId()).get(a)!.depth === 0);
  await assertReplicated(e, 'fan', u, 'fan-a');
  const downState = (await byId()).get(b)!;
  assert.equal(downState.depth, 10);
  assert.equal(downState.link, 'down');
  assert.deepEqual(await listKeys(u, 'fan-b'), []);
  assert.equal((await e.send(new HeadObjectCommand({ Bucket: 'fan', Key: 'f5' }))).ReplicationStatus, 'PENDING');

  proxy.setMode('pass');
  await waitFor('target b to drain', async () => (await byId()).get(b)!.depth === 0, 30_000);
  await assertReplicated(e, 'fan', u, 'fan-b');
  assert.equal(await snapshot(u, 'fan-b', 'f0'), undefined);
  assert.equal((await e.send(new HeadObjectCommand({ Bucket: 'fan', Key: 'f5' }))).ReplicationStatus, 'COMPLETED');
});

test('archive mode through an offline storm: deletes stay local, overwrites arrive as their latest bytes', { timeout: 60_000 }, async () => {
  await createBuckets(u, 'vault');
  const proxy: FaultProxy = await startFaultProxy(upstream.port);
  cleanups.push(() => proxy.close());
  const edge = await startNode();
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'records');
  await addTarget(edge.endpoint, 'records', proxy.endpoint, 'vault', { mode: 'archive' });
  for (let i = 0; i < 4; i++) await e.send(new PutObjectCommand({ Bucket: 'records', Key: `r${i}`, Body: `first ${i}` }));
  await waitForEmptyQueue(edge.endpoint, 'records');

  proxy.setMode('drop');
  for (let i = 0; i < 3; i++) await e.send(new DeleteObjectCommand({ Bucket: 'records', Key: `r${i}` }));
  for (let round = 0; round < 10; round++) await e.send(new PutObjectCommand({ Bucket: 'records', Key: 'r3', Body: `round ${round}` }));
  await waitFor('the link to be seen down', async () => (await statusOf(edge.endpoint, 'records'))[0]!.link === 'down');
  proxy.setMode('pass');
  await waitForEmptyQueue(edge.endpoint, 'records', 30_000);

  assert.deepEqual(await listKeys(u, 'vault'), ['r0', 'r1', 'r2', 'r3']);
  assert.equal((await snapshot(u, 'vault', 'r0'))?.body.toString(), 'first 0');
  assert.equal((await snapshot(u, 'vault', 'r3'))?.body.toString(), 'round 9');
});
