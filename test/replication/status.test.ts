// What replication reports: the x-amz-replication-status rule, and queue counters (depth, bytes, lag) that are read in
// O(1) yet stay exact through overwrite storms, deletes, a SIGKILL and a drain, equal to a full walk of the queue.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { adminFetch } from '../../src/cli/admin-client.ts';
import { tempDir } from '../helpers/server.ts';
import type { ChildFerry } from '../helpers/server.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { openStore } from '../../src/store/level-store.ts';
import {
  addTarget, adminOf, countersOnDisk, createBuckets, startNode, statusOf, waitForEmptyQueue,
  spawnEdge,
} from '../helpers/replication.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

test('no replication status for an object older than the target until a resync sends it; PENDING then COMPLETED for new ones', { timeout: 60_000 }, async () => {
  const upstream = await startNode();
  cleanups.push(() => upstream.stop());
  await createBuckets(upstream.client(), 'hdr-up');
  const proxy = await startFaultProxy(upstream.port);
  cleanups.push(() => proxy.close());
  const edge = await startNode();
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'hdr');
  await e.send(new PutObjectCommand({ Bucket: 'hdr', Key: 'older', Body: 'before the target' }));
  await addTarget(edge.endpoint, 'hdr', proxy.endpoint, 'hdr-up');
  const head = async (Key: string) => (await e.send(new HeadObjectCommand({ Bucket: 'hdr', Key }))).ReplicationStatus;
  const get = async (Key: string) => {
    const out = await e.send(new GetObjectCommand({ Bucket: 'hdr', Key }));
    await out.Body!.transformToByteArray();
    return out.ReplicationStatus;
  };
  assert.equal(await head('older'), undefined, 'never queued, so out of scope');
  assert.equal(await get('older'), undefined);

  proxy.setMode('drop');
  await e.send(new PutObjectCommand({ Bucket: 'hdr', Key: 'newer', Body: 'after the target' }));
  assert.equal(await head('newer'), 'PENDING');
  proxy.setMode('pass');
  await waitForEmptyQueue(edge.endpoint, 'hdr');
  assert.equal(await head('newer'), 'COMPLETED');
  assert.equal(await head('older'), undefined);

  await (await adminFetch(adminOf(edge.endpoint), 'POST', 'replication/resync', { bucket: 'hdr' })).text();
  await waitForEmptyQueue(edge.endpoint, 'hdr');
  assert.equal(await head('older'), 'COMPLETED', 'a finished resync covers it');
  assert.equal(await get('older'), 'COMPLETED');
});

/** What each target's counters must say, from the writes the test made while the link was down. */
class Model {
  /** key -> size of the live object, or undefined once deleted. */
  readonly live = new Map<string, number | undefined>();
  /** key -> size of the latest version put (the version an archive target still has to send). */
  readonly latest = new Map<string, number>();

  mirror(): { depth: number; bytes: number; failed: number } {
    let bytes = 0;
    for (const size of this.live.values()) bytes += size ?? 0;
    return { depth: this.live.size, bytes, failed: 0 };
  }

  archive(): { depth: number; bytes: number; failed: number } {
    let bytes = 0;
    for (const size of this.latest.values()) bytes += size;
    return { depth: this.latest.size, bytes, failed: 0 };
  }
}

async function kill(ferry: ChildFerry): Promise<void> {
  ferry.child.kill('SIGKILL');
  await ferry.exited;
}

test('queue counters stay exact through overwrite storms, deletes, a SIGKILL and a drain, and equal a full walk', { timeout: 180_000 }, async () => {
  const upstream = await startNode();
  cleanups.push(() => upstream.stop());
  await createBuckets(upstream.client(), 'count-m', 'count-a');
  const proxy = await startFaultProxy(upstream.port, 'drop');
  cleanups.push(() => proxy.close());
  const dataDir = await tempDir('ferry-repl-counters-');
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  let { ferry, client } = await spawnEdge(dataDir, cleanups);
  await createBuckets(client, 'storm');
  const mirror = await addTarget(ferry.endpoint, 'storm', proxy.endpoint, 'count-m');
  const archive = await addTarget(ferry.endpoint, 'storm', proxy.endpoint, 'count-a', { mode: 'archive' });

  const model = new Model();
  const putKey = async (key: string, size: number): Promise<void> => {
    await client.send(new PutObjectCommand({ Bucket: 'storm', Key: key, Body: randomBytes(size) }));
    model.live.set(key, size);
    model.latest.set(key, size);
  };
  const deleteKey = async (key: string): Promise<void> => {
    await client.send(new DeleteObjectCommand({ Bucket: 'storm', Key: key }));
    if (model.live.get(key) !== undefined) model.live.set(key, undefined);
  };
  // The first key stays untouched: its age is the queue's lag.
  await putKey('first', 1_000);
  const firstAcked = Date.now();
  // Eight writers at once (the store's group commit puts several changes in one batch), each on its own keys.
  const lanes = Array.from({ length: 8 }, (_, lane) => (async () => {
    const keys = Array.from({ length: 6 }, (_, i) => `k${lane}-${i}`);
    for (const key of keys) await putKey(key, Math.floor(Math.random() * 20_000));
    for (let round = 0; round < 25; round++) await putKey(keys[round % 3]!, Math.floor(Math.random() * 20_000));
    await deleteKey(keys[3]!);
    await deleteKey(keys[4]!);
    await putKey(keys[4]!, 777);
    await deleteKey(keys[0]!);
    await deleteKey(`never-${lane}`);
  })());
  await Promise.all(lanes);

  const check = async (edge: string, when: string): Promise<void> => {
    const asked = Date.now();
    const byId = new Map((await statusOf(edge, 'storm')).map((s) => [s.target.id, s]));
    for (const [id, want] of [[mirror, model.mirror()], [archive, model.archive()]] as const) {
      const s = byId.get(id)!;
      assert.deepEqual({ depth: s.depth, bytes: s.bytesPending, failed: s.failed }, want, `${when}: counters of ${id}`);
      assert.ok(s.lagMs >= asked - firstAcked, `${when}: lag ${s.lagMs} ms is not the age of the oldest change`);
    }
  };
  await check(ferry.endpoint, 'after the storm');

  await kill(ferry);
  ({ ferry, client } = await spawnEdge(dataDir, cleanups));
  await check(ferry.endpoint, 'after a SIGKILL');

  await kill(ferry);
  const disk = await countersOnDisk(dataDir);
  assert.deepEqual(disk.get(mirror), { kept: model.mirror(), walked: model.mirror() });
  assert.deepEqual(disk.get(archive), { kept: model.archive(), walked: model.archive() });

  proxy.setMode('pass');
  ({ ferry, client } = await spawnEdge(dataDir, cleanups));
  await waitForEmptyQueue(ferry.endpoint, 'storm', 60_000);
  for (const s of await statusOf(ferry.endpoint, 'storm')) {
    assert.deepEqual({ depth: s.depth, bytes: s.bytesPending, failed: s.failed, lagMs: s.lagMs }, { depth: 0, bytes: 0, failed: 0, lagMs: 0 });
  }
  await kill(ferry);
  const zero = { depth: 0, bytes: 0, failed: 0 };
  for (const id of [mirror, archive]) assert.deepEqual((await countersOnDisk(dataDir)).get(id), { kept: zero, walked: zero });
});

test('a queue written before the counters existed gets them rebuilt at start', { timeout: 60_000 }, async () => {
  const dataDir = await tempDir('ferry-repl-legacy-');
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  let edge = await startNode({ dataDir, keepData: true });
  const e = edge.client();
  await createBuckets(e, 'legacy');
  const id = await addTarget(edge.endpoint, 'legacy', 'http://127.0.0.1:1', 'unreachable');
  await e.send(new PutObjectCommand({ Bucket: 'legacy', Key: 'a', Body: randomBytes(1_000) }));
  await e.send(new PutObjectCommand({ Bucket: 'legacy', Key: 'b', Body: randomBytes(2_000) }));
  await e.send(new PutObjectCommand({ Bucket: 'legacy', Key: 'a', Body: randomBytes(1_500) }));
  await e.send(new PutObjectCommand({ Bucket: 'legacy', Key: 'c', Body: randomBytes(700) }));
  await e.send(new DeleteObjectCommand({ Bucket: 'legacy', Key: 'c' }));
  await edge.stop();

  // The older layout: no counters record, pending entries without their size.
  const store = await openStore({
    dataDir,
    attach: async (core) => {
      const sub = (name: string) => core.db.sublevel<string, { seq: number; at: number; size?: number }>(['outbox', id, name], { valueEncoding: 'json' });
      await sub('meta').clear();
      for await (const [key, entry] of sub('pending').iterator()) await sub('pending').put(key, { seq: entry.seq, at: entry.at });
    },
  });
  await store.close();

  edge = await startNode({ dataDir, keepData: true });
  cleanups.push(() => edge.stop());
  const [status] = await statusOf(edge.endpoint, 'legacy');
  assert.deepEqual({ depth: status!.depth, bytes: status!.bytesPending }, { depth: 3, bytes: 1_500 + 2_000 });
});
