// DeleteBucket and replication: the bucket's targets send what was queued (mirror deletes, archive versions), show as
// draining until then, and remove themselves; a bucket re-created under the same name starts with no targets.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { DeleteBucketCommand, DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { tempDir } from '../helpers/server.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import {
  addTarget, countDataFiles, createBuckets, listKeys, replicationCli, snapshot, startNode, statusOf, waitFor, waitForEmptyQueue,
} from '../helpers/replication.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

test('a deleted bucket\'s targets drain their queue across a restart, then remove themselves; a re-created bucket has none', { timeout: 120_000 }, async () => {
  const upstream = await startNode();
  cleanups.push(() => upstream.stop());
  const u = upstream.client();
  await createBuckets(u, 'mirror-up', 'archive-up');
  const proxy = await startFaultProxy(upstream.port);
  cleanups.push(() => proxy.close());
  const dataDir = await tempDir('ferry-repl-drain-');
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  let edge = await startNode({ dataDir, keepData: true });
  let e = edge.client();
  await createBuckets(e, 'site');
  const mirror = await addTarget(edge.endpoint, 'site', proxy.endpoint, 'mirror-up');
  const archive = await addTarget(edge.endpoint, 'site', proxy.endpoint, 'archive-up', { mode: 'archive' });
  for (const key of ['old-1', 'old-2']) await e.send(new PutObjectCommand({ Bucket: 'site', Key: key, Body: `${key} bytes` }));
  await waitForEmptyQueue(edge.endpoint, 'site');
  assert.deepEqual(await listKeys(u, 'mirror-up'), ['old-1', 'old-2']);

  // Offline: one more object, then the bucket is emptied and deleted.
  proxy.setMode('drop');
  const fresh = randomBytes(30_000);
  await e.send(new PutObjectCommand({ Bucket: 'site', Key: 'fresh', Body: fresh }));
  for (const key of ['old-1', 'old-2', 'fresh']) await e.send(new DeleteObjectCommand({ Bucket: 'site', Key: key }));
  await e.send(new DeleteBucketCommand({ Bucket: 'site' }));

  const byId = async () => new Map((await statusOf(edge.endpoint, 'site')).map((s) => [s.target.id, s]));
  const draining = await byId();
  assert.equal(draining.size, 2);
  assert.equal(typeof draining.get(mirror)!.target.draining, 'number');
  assert.equal(typeof draining.get(archive)!.target.draining, 'number');
  assert.equal(draining.get(mirror)!.depth, 3, 'mirror: two deletes and a put-then-delete to send');
  assert.equal(draining.get(archive)!.depth, 1, 'archive: the version of fresh it never sent');
  const listed = await replicationCli(['list', 'site', '--server', edge.endpoint]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stdout.match(/\[draining: bucket deleted /g)?.length, 2, listed.stdout);
  const status = await replicationCli(['status', 'site', '--server', edge.endpoint]);
  assert.equal(status.stdout.match(/, draining: bucket deleted\]/g)?.length, 2, status.stdout);

  // The same name again: a new bucket, which replicates nowhere.
  await createBuckets(e, 'site');
  await e.send(new PutObjectCommand({ Bucket: 'site', Key: 'new', Body: 'not for the old targets' }));
  assert.equal((await e.send(new HeadObjectCommand({ Bucket: 'site', Key: 'new' }))).ReplicationStatus, undefined);
  assert.equal((await byId()).get(mirror)!.depth, 3);

  await edge.stop();
  edge = await startNode({ dataDir, keepData: true });
  cleanups.push(() => edge.stop());
  e = edge.client();
  const restarted = await byId();
  assert.equal(typeof restarted.get(mirror)!.target.draining, 'number', 'draining survives a restart');
  assert.equal(restarted.get(archive)!.depth, 1);

  proxy.setMode('pass');
  await waitFor('the draining targets to remove themselves', async () => (await statusOf(edge.endpoint)).length === 0, 30_000);
  assert.deepEqual(await listKeys(u, 'mirror-up'), [], 'the mirror deletes were sent');
  assert.deepEqual(await listKeys(u, 'archive-up'), ['fresh', 'old-1', 'old-2'], 'the archive got fresh, and nothing of the new bucket');
  assert.ok((await snapshot(u, 'archive-up', 'fresh'))?.body.equals(fresh));
  await waitFor('only the new bucket\'s file to be left', async () => (await countDataFiles(dataDir)) === 1, 10_000);

  // A target added now is the new bucket's only one.
  const added = await addTarget(edge.endpoint, 'site', upstream.endpoint, 'mirror-up');
  await e.send(new PutObjectCommand({ Bucket: 'site', Key: 'after', Body: 'a' }));
  await waitForEmptyQueue(edge.endpoint, 'site');
  assert.deepEqual((await statusOf(edge.endpoint)).map((s) => s.target.id), [added]);
  assert.deepEqual(await listKeys(u, 'mirror-up'), ['after']);
});

test('a deleted bucket\'s archive target keeps a version the upstream refused instead of freeing it; an explicit remove frees it', { timeout: 60_000 }, async () => {
  const upstream = await startNode();
  cleanups.push(() => upstream.stop());
  const edge = await startNode();
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'refused');
  // The upstream bucket does not exist: NoSuchBucket (404) is a permanent refusal, the key goes FAILED.
  const id = await addTarget(edge.endpoint, 'refused', upstream.endpoint, 'no-such-bucket', { mode: 'archive' });
  await e.send(new PutObjectCommand({ Bucket: 'refused', Key: 'only-copy', Body: randomBytes(10_000) }));
  await waitFor('the upstream to refuse the object', async () => (await statusOf(edge.endpoint, 'refused'))[0]?.failed === 1);
  await e.send(new DeleteObjectCommand({ Bucket: 'refused', Key: 'only-copy' }));
  await e.send(new DeleteBucketCommand({ Bucket: 'refused' }));
  assert.equal(await countDataFiles(edge.dataDir), 1, 'the refused version is kept for the archive');

  // Its queue is empty, but what it holds is the only copy left: it must not retire and free it.
  const deadline = Date.now() + 2_000;
  while (Date.now() < deadline) {
    const [status] = await statusOf(edge.endpoint, 'refused');
    assert.equal(status?.target.id, id, 'the draining target removed itself with a refused version still kept');
    assert.equal(typeof status.target.draining, 'number');
    assert.equal(status.failed, 1);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(await countDataFiles(edge.dataDir), 1);

  const removed = await replicationCli(['remove', 'refused', '--target', id, '--server', edge.endpoint]);
  assert.equal(removed.code, 0, removed.stderr);
  await waitFor('the removed target\'s kept file to be freed', async () => (await countDataFiles(edge.dataDir)) === 0, 10_000);
});
