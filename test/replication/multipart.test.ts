// Large objects go upstream as multipart uploads whose progress is persisted: a flapping link or an edge restart
// resumes at the first missing part instead of starting over.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ListMultipartUploadsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/server.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import type { FaultProxy } from '../helpers/fault-proxy.ts';
import { FAST, addTarget, adminOf, createBuckets, snapshot, startNode, statusOf, waitFor } from '../helpers/replication.ts';
import { adminFetch } from '../../src/cli/admin-client.ts';
import { rm } from 'node:fs/promises';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

let upstream: TestServer;
let u: S3Client;
let proxy: FaultProxy;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  upstream = await startNode();
  u = upstream.client();
  await createBuckets(u, 'central');
  proxy = await startFaultProxy(upstream.port);
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await proxy?.close();
  await upstream?.stop();
});

async function openUploads(): Promise<number> {
  return (await u.send(new ListMultipartUploadsCommand({ Bucket: 'central' }))).Uploads?.length ?? 0;
}

test('link flapping during a multipart upload resumes at the missing part', { timeout: 120_000 }, async () => {
  const edge = await startNode();
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'flap');
  await addTarget(edge.endpoint, 'flap', proxy.endpoint, 'central', { multipartThreshold: PART, partSize: PART });
  const body = randomBytes(6 * PART);
  // Slow enough that the link can be cut between parts: ~0.4 s per part.
  proxy.throttle = 12 * MiB;
  await new Upload({ client: e, params: { Bucket: 'flap', Key: 'big', Body: body, ContentType: 'application/x-big', Metadata: { m: '1' } }, partSize: PART }).done();

  for (const after of [2, 4]) {
    await waitFor(`${after} parts upstream`, async () => (await statusOf(edge.endpoint, 'flap'))[0]!.partsUploaded >= after, 30_000);
    proxy.setMode('drop');
    await new Promise((r) => setTimeout(r, 1_500));
    proxy.setMode('pass');
  }
  await waitFor('the queue to drain', async () => (await statusOf(edge.endpoint, 'flap'))[0]!.depth === 0, 60_000);
  proxy.throttle = undefined;

  const [status] = await statusOf(edge.endpoint, 'flap');
  // Six parts; each cut may cost the one part in flight, never the ones already done.
  assert.ok(status!.partsUploaded >= 6 && status!.partsUploaded <= 8, `uploaded ${status!.partsUploaded} parts for a 6-part object`);
  const up = await snapshot(u, 'central', 'big');
  assert.ok(up !== undefined && up.body.equals(body), 'the upstream object equals the local one');
  assert.equal(up.contentType, 'application/x-big');
  assert.deepEqual(up.metadata, { m: '1' });
  assert.equal(await openUploads(), 0);
});

test('an edge restarted mid-upload resumes the upstream multipart upload', { timeout: 120_000 }, async () => {
  const dataDir = await tempDir('ferry-repl-resume-');
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  let edge = await startNode({ dataDir, keepData: true });
  const e = edge.client();
  await createBuckets(e, 'resume');
  await addTarget(edge.endpoint, 'resume', proxy.endpoint, 'central', { multipartThreshold: PART, partSize: PART });
  const body = randomBytes(6 * PART + 12345);
  proxy.throttle = 12 * MiB;
  await e.send(new PutObjectCommand({ Bucket: 'resume', Key: 'resumed', Body: body }));
  await waitFor('3 parts upstream', async () => (await statusOf(edge.endpoint, 'resume'))[0]!.partsUploaded >= 3, 30_000);
  await edge.stop();

  edge = await startNode({ dataDir, keepData: true });
  cleanups.push(() => edge.stop());
  await waitFor('the queue to drain', async () => (await statusOf(edge.endpoint, 'resume'))[0]!.depth === 0, 60_000);
  proxy.throttle = undefined;
  const [status] = await statusOf(edge.endpoint, 'resume');
  assert.ok(status!.partsUploaded <= 5, `the restarted edge uploaded ${status!.partsUploaded} of 7 parts: it started over`);
  const up = await snapshot(u, 'central', 'resumed');
  assert.ok(up !== undefined && up.body.equals(body));
  assert.equal(await openUploads(), 0);
});

test('an object overwritten during its upload ends upstream with the latest bytes', { timeout: 120_000 }, async () => {
  const edge = await startNode();
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'changing');
  await addTarget(edge.endpoint, 'changing', proxy.endpoint, 'central', { multipartThreshold: PART, partSize: PART });
  proxy.throttle = 12 * MiB;
  await e.send(new PutObjectCommand({ Bucket: 'changing', Key: 'moving', Body: randomBytes(4 * PART) }));
  await waitFor('a part upstream', async () => (await statusOf(edge.endpoint, 'changing'))[0]!.partsUploaded >= 1, 30_000);
  const latest = randomBytes(2 * PART + 1);
  await e.send(new PutObjectCommand({ Bucket: 'changing', Key: 'moving', Body: latest }));
  proxy.setMode('drop');
  await new Promise((r) => setTimeout(r, 500));
  proxy.setMode('pass');
  await waitFor('the queue to drain', async () => (await statusOf(edge.endpoint, 'changing'))[0]!.depth === 0, 60_000);
  proxy.throttle = undefined;
  const up = await snapshot(u, 'central', 'moving');
  assert.ok(up !== undefined && up.body.equals(latest));
  assert.equal(await openUploads(), 0, 'the upload of the older version was aborted');
});

test('removing a target aborts its unfinished upstream upload', { timeout: 120_000 }, async () => {
  const edge = await startNode();
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'dropped');
  const id = await addTarget(edge.endpoint, 'dropped', proxy.endpoint, 'central', { multipartThreshold: PART, partSize: PART });
  proxy.throttle = 12 * MiB;
  await e.send(new PutObjectCommand({ Bucket: 'dropped', Key: 'half', Body: randomBytes(6 * PART) }));
  await waitFor('a part upstream', async () => (await statusOf(edge.endpoint, 'dropped'))[0]!.partsUploaded >= 1, 30_000);
  assert.equal(await openUploads(), 1);
  await adminFetch(adminOf(edge.endpoint), 'DELETE', `replication/${id}`);
  proxy.throttle = undefined;
  await waitFor('the upstream upload to be aborted', async () => (await openUploads()) === 0, 20_000);
  assert.equal(await snapshot(u, 'central', 'half'), undefined);
});

test('a window closing during a multipart upload stops it after the part in flight; it resumes at the next part when it opens', { timeout: 120_000 }, async () => {
  // The edge's clock is the test's: 22:30 is inside 22:00-06:00, 07:00 is not.
  const clock = { now: new Date(2026, 10, 24, 22, 30) };
  const edge = await startNode({ replication: { ...FAST, windowCheckMs: 100, now: () => clock.now } });
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'nightly-big');
  await addTarget(edge.endpoint, 'nightly-big', proxy.endpoint, 'central', { window: '22:00-06:00', multipartThreshold: PART, partSize: PART });
  const body = randomBytes(6 * PART);
  proxy.throttle = 12 * MiB;
  await e.send(new PutObjectCommand({ Bucket: 'nightly-big', Key: 'night-video', Body: body, ContentType: 'video/mp4' }));
  await waitFor('2 parts upstream', async () => (await statusOf(edge.endpoint, 'nightly-big'))[0]!.partsUploaded >= 2, 30_000);

  clock.now = new Date(2026, 10, 25, 7, 0);
  const atClose = (await statusOf(edge.endpoint, 'nightly-big'))[0]!.partsUploaded;
  // The part in flight (~0.4 s at this throttle) finishes; no other starts.
  await new Promise((r) => setTimeout(r, 1_500));
  const [paused] = await statusOf(edge.endpoint, 'nightly-big');
  assert.equal(paused!.windowOpen, false);
  assert.ok(paused!.partsUploaded <= atClose + 1, `${paused!.partsUploaded} parts after the window closed at ${atClose}`);
  assert.ok(paused!.partsUploaded < 6, 'the upload stopped before its end');
  await new Promise((r) => setTimeout(r, 1_500));
  const [still] = await statusOf(edge.endpoint, 'nightly-big');
  assert.equal(still!.partsUploaded, paused!.partsUploaded, 'nothing is sent while the window is closed');
  assert.equal(still!.depth, 1);
  assert.equal(still!.lastError, undefined, 'a closed window is not an error');
  assert.equal(await openUploads(), 1, 'the upstream upload is kept open for the next window');

  clock.now = new Date(2026, 10, 25, 22, 5);
  await waitFor('the queue to drain', async () => (await statusOf(edge.endpoint, 'nightly-big'))[0]!.depth === 0, 60_000);
  proxy.throttle = undefined;
  assert.equal((await statusOf(edge.endpoint, 'nightly-big'))[0]!.partsUploaded, 6, 'every part went up exactly once');
  const up = await snapshot(u, 'central', 'night-video');
  assert.ok(up !== undefined && up.body.equals(body));
  assert.equal(up.contentType, 'video/mp4');
  assert.equal(await openUploads(), 0);
});
