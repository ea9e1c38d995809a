// Archive mode keeps what it has not sent: an object put then deleted here before its turn still reaches the archive,
// across a SIGKILL or a clean restart, and its data files are freed only once every archive target has it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { tempDir } from '../helpers/server.ts';
import type { TestServer } from '../helpers/server.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { errorOf } from '../helpers/sdk.ts';
import {
  addTarget, countDataFiles, createBuckets, listKeys, snapshot, startNode, statusOf, waitFor,
  spawnEdge,
} from '../helpers/replication.ts';
import type { Snapshot } from '../helpers/replication.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

async function upstreamWith(...buckets: string[]): Promise<{ upstream: TestServer; u: S3Client }> {
  const upstream = await startNode();
  cleanups.push(() => upstream.stop());
  const u = upstream.client();
  await createBuckets(u, ...buckets);
  return { upstream, u };
}

async function assertGoneLocally(client: S3Client, bucket: string, key: string): Promise<void> {
  assert.equal((await errorOf(client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).status, 404, `${key} is still here`);
}

test('archive: objects put then deleted while offline reach the archive after a SIGKILL; their files are freed after', { timeout: 120_000 }, async () => {
  const { upstream, u } = await upstreamWith('vault');
  const proxy = await startFaultProxy(upstream.port, 'drop');
  cleanups.push(() => proxy.close());
  const dataDir = await tempDir('ferry-repl-archive-');
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  let { ferry, client } = await spawnEdge(dataDir, cleanups);
  await createBuckets(client, 'cams');
  await addTarget(ferry.endpoint, 'cams', proxy.endpoint, 'vault', { mode: 'archive' });

  const expected = new Map<string, Snapshot>();
  const putObject = async (key: string, size: number): Promise<void> => {
    const body = randomBytes(size);
    await client.send(new PutObjectCommand({
      Bucket: 'cams', Key: key, Body: body, ContentType: 'image/x-raw', Metadata: { cam: key }, Tagging: `site=42&key=${key}`,
    }));
    expected.set(key, { body, contentType: 'image/x-raw', metadata: { cam: key }, tagCount: 2 });
  };
  const deleteObject = (key: string) => client.send(new DeleteObjectCommand({ Bucket: 'cams', Key: key }));
  await putObject('A', 50_000);
  await putObject('B', 20_000);
  await deleteObject('A');
  await putObject('C', 300_000);
  await deleteObject('C');
  // A newer put supersedes a kept version: only the latest bytes of D go, and the first D's file is freed at once.
  await putObject('D', 10_000);
  await deleteObject('D');
  await putObject('D', 12_000);

  const checkLocal = async (): Promise<void> => {
    await assertGoneLocally(client, 'cams', 'A');
    await assertGoneLocally(client, 'cams', 'C');
    assert.deepEqual(await listKeys(client, 'cams'), ['B', 'D']);
  };
  await checkLocal();
  assert.equal(await countDataFiles(dataDir), 4, 'B and D live; A and C kept for the archive');

  ferry.child.kill('SIGKILL');
  await ferry.exited;
  ({ ferry, client } = await spawnEdge(dataDir, cleanups));
  await checkLocal();
  assert.equal(await countDataFiles(dataDir), 4, 'the startup sweep after the crash keeps the retained files');
  assert.equal((await statusOf(ferry.endpoint, 'cams'))[0]!.depth, 4);

  proxy.setMode('pass');
  await waitFor('the archive queue to drain', async () => (await statusOf(ferry.endpoint, 'cams'))[0]!.depth === 0, 60_000);
  assert.deepEqual(await listKeys(u, 'vault'), ['A', 'B', 'C', 'D']);
  for (const [key, want] of expected) assert.deepEqual(await snapshot(u, 'vault', key), want, `${key} upstream`);
  await checkLocal();
  await waitFor('the sent versions to be freed', async () => (await countDataFiles(dataDir)) === 2, 10_000);
});

test('a version two archive targets keep is freed only once both have it; a clean restart in between keeps it', { timeout: 90_000 }, async () => {
  const { upstream, u } = await upstreamWith('arch-1', 'arch-2');
  const [p1, p2] = [await startFaultProxy(upstream.port, 'drop'), await startFaultProxy(upstream.port, 'drop')];
  cleanups.push(() => p1.close(), () => p2.close());
  const dataDir = await tempDir('ferry-repl-archive-2-');
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  let edge = await startNode({ dataDir, keepData: true });
  let e = edge.client();
  await createBuckets(e, 'shared');
  const t1 = await addTarget(edge.endpoint, 'shared', p1.endpoint, 'arch-1', { mode: 'archive' });
  const t2 = await addTarget(edge.endpoint, 'shared', p2.endpoint, 'arch-2', { mode: 'archive' });
  const body = randomBytes(40_000);
  await e.send(new PutObjectCommand({ Bucket: 'shared', Key: 'x', Body: body, ContentType: 'text/x-once' }));
  await e.send(new DeleteObjectCommand({ Bucket: 'shared', Key: 'x' }));
  assert.equal(await countDataFiles(dataDir), 1);

  await edge.stop();
  edge = await startNode({ dataDir, keepData: true });
  cleanups.push(() => edge.stop());
  e = edge.client();
  const depthOf = async (id: string) => (await statusOf(edge.endpoint, 'shared')).find((s) => s.target.id === id)!.depth;
  assert.equal(await depthOf(t1), 1);
  assert.equal(await depthOf(t2), 1);

  p1.setMode('pass');
  await waitFor('the first archive to get x', async () => (await depthOf(t1)) === 0, 30_000);
  assert.ok((await snapshot(u, 'arch-1', 'x'))?.body.equals(body));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await countDataFiles(dataDir), 1, 'the second archive still needs the file');

  p2.setMode('pass');
  await waitFor('the second archive to get x', async () => (await depthOf(t2)) === 0, 30_000);
  const second = await snapshot(u, 'arch-2', 'x');
  assert.ok(second !== undefined && second.body.equals(body));
  assert.equal(second.contentType, 'text/x-once');
  await waitFor('the file to be freed', async () => (await countDataFiles(dataDir)) === 0, 10_000);
  await assertGoneLocally(e, 'shared', 'x');
});
