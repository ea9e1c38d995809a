// Never lose a write: an edge ferry (child process) SIGKILLed with a full queue while the upstream is unreachable,
// restarted, idle at near-zero CPU while the link stays down, then drained once it returns.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { tempDir } from '../helpers/server.ts';
import type { TestServer } from '../helpers/server.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import type { FaultProxy } from '../helpers/fault-proxy.ts';
import { addTarget, adminOf, assertReplicated, createBuckets, listKeys, snapshot, spawnEdge, startNode, statusOf, waitFor } from '../helpers/replication.ts';
import { adminFetch } from '../../src/cli/admin-client.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** An HTTP front for the upstream that answers 503 SlowDown to the requests `refuse` picks and forwards the rest. */
async function startFront(upstreamPort: number, refuse: (url: string) => boolean): Promise<string> {
  const front = createServer((req, res) => {
    if (refuse(req.url ?? '')) {
      req.resume();
      res.writeHead(503, { 'Content-Type': 'application/xml' }).end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    const forward = httpRequest({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => {
    front.closeAllConnections();
    front.close(resolve);
  }));
  return `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
}

/** User + system CPU seconds of a process, from /proc/<pid>/stat (clock ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

test('every acknowledged write is queued across SIGKILL, the edge idles while the link is down, then drains in order', { timeout: 180_000 }, async () => {
  const upstream: TestServer = await startNode();
  cleanups.push(() => upstream.stop());
  const u = upstream.client();
  await createBuckets(u, 'central');
  const proxy: FaultProxy = await startFaultProxy(upstream.port, 'drop');
  cleanups.push(() => proxy.close());
  const dataDir = await tempDir('ferry-repl-kill-');
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));

  let { ferry, client } = await spawnEdge(dataDir, cleanups);
  await createBuckets(client, 'edge');
  await addTarget(ferry.endpoint, 'edge', proxy.endpoint, 'central');

  // Writes while the link is down: new keys, a storm of overwrites on one key, deletes of replicated-never keys.
  const hot = randomBytes(200_000);
  for (let i = 0; i < 25; i++) await client.send(new PutObjectCommand({ Bucket: 'edge', Key: `obj-${i}`, Body: randomBytes(3000), Metadata: { i: String(i) } }));
  let last = hot;
  for (let i = 0; i < 10; i++) {
    last = randomBytes(200_000);
    await client.send(new PutObjectCommand({ Bucket: 'edge', Key: 'hot', Body: last, ContentType: 'application/octet-stream' }));
  }
  for (let i = 0; i < 5; i++) await client.send(new DeleteObjectCommand({ Bucket: 'edge', Key: `obj-${i}` }));
  // Killed the instant after the last acknowledgement.
  ferry.child.kill('SIGKILL');
  await ferry.exited;

  ({ ferry, client } = await spawnEdge(dataDir, cleanups));
  const [queued] = await statusOf(ferry.endpoint, 'edge');
  assert.equal(queued!.depth, 26, 'every changed key is pending (25 objects, one coalesced hot key)');
  const head = await client.send(new HeadObjectCommand({ Bucket: 'edge', Key: 'obj-7' }));
  assert.equal(head.ReplicationStatus, 'PENDING');

  // Link still down: let the worker fail once and settle into probing, then measure its CPU for 5 s.
  await waitFor('the link to be seen down', async () => (await statusOf(ferry.endpoint, 'edge'))[0]!.link === 'down', 30_000);
  const before = await cpuSeconds(ferry.child.pid!);
  await new Promise((r) => setTimeout(r, 5_000));
  const spent = (await cpuSeconds(ferry.child.pid!)) - before;
  assert.ok(spent < 0.25, `the edge used ${spent.toFixed(2)} s of CPU in 5 s while the upstream was down`);
  const down = await statusOf(ferry.endpoint, 'edge');
  assert.equal(down[0]!.depth, 26);
  assert.ok(down[0]!.lagMs >= 5_000);

  // Link back; a new write wakes the worker's probe at once.
  const bytesBefore = proxy.bytesUp;
  proxy.setMode('pass');
  await client.send(new PutObjectCommand({ Bucket: 'edge', Key: 'after', Body: 'back online' }));
  await waitFor('the queue to drain', async () => (await statusOf(ferry.endpoint, 'edge'))[0]!.depth === 0, 30_000);

  await assertReplicated(client, 'edge', u, 'central');
  assert.ok((await snapshot(u, 'central', 'hot'))!.body.equals(last), 'the latest bytes of the hot key are upstream');
  for (let i = 0; i < 5; i++) assert.equal(await snapshot(u, 'central', `obj-${i}`), undefined);
  assert.equal((await listKeys(u, 'central')).length, 22);
  // Ten offline overwrites went up once: 200 kB, not 2 MB.
  const sent = proxy.bytesUp - bytesBefore;
  assert.ok(sent < 600_000, `sent ${sent} bytes upstream: the overwrites were not coalesced`);
  assert.equal((await client.send(new HeadObjectCommand({ Bucket: 'edge', Key: 'hot' }))).ReplicationStatus, 'COMPLETED');
  // State changes only: one "unreachable" and one "reachable again", however many probes failed.
  const logged = ferry.output().split('\n').filter((line) => line.startsWith('replication '));
  assert.ok(logged.length <= 3, `replication logged ${logged.length} lines:\n${logged.join('\n')}`);
});

test('a blackholed link times out into probing, a link reset mid-transfer retries, and both recover', { timeout: 120_000 }, async () => {
  const upstream = await startNode();
  cleanups.push(() => upstream.stop());
  const u = upstream.client();
  await createBuckets(u, 'far');
  const proxy = await startFaultProxy(upstream.port, 'blackhole');
  cleanups.push(() => proxy.close());
  const edge = await startNode();
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'near');
  await addTarget(edge.endpoint, 'near', proxy.endpoint, 'far');

  await e.send(new PutObjectCommand({ Bucket: 'near', Key: 'swallowed', Body: randomBytes(10_000) }));
  // The test edge's idle timeout is 5 s: no answer at all must end as "link down", not a hung worker.
  await waitFor('the blackholed link to be seen down', async () => (await statusOf(edge.endpoint, 'near'))[0]!.link === 'down', 30_000);

  // Now every connection is reset after 64 KiB: a 1 MiB body never gets through, small ones do.
  proxy.resetAfterBytes = 64 * 1024;
  proxy.setMode('pass');
  const big = randomBytes(1024 * 1024);
  await e.send(new PutObjectCommand({ Bucket: 'near', Key: 'cut', Body: big }));
  await waitFor('the small object to arrive', async () => (await snapshot(u, 'far', 'swallowed')) !== undefined, 30_000);
  await new Promise((r) => setTimeout(r, 1_000));
  const [cutting] = await statusOf(edge.endpoint, 'near');
  assert.equal(cutting!.depth, 1, 'the cut object stays queued');
  assert.equal(await snapshot(u, 'far', 'cut'), undefined);

  proxy.resetAfterBytes = undefined;
  await waitFor('the queue to drain', async () => (await statusOf(edge.endpoint, 'near'))[0]!.depth === 0, 60_000);
  await assertReplicated(e, 'near', u, 'far');
});

test('an upstream answering 503 SlowDown is retried with growing back-off, then the object goes through', { timeout: 60_000 }, async () => {
  const upstream = await startNode();
  cleanups.push(() => upstream.stop());
  const u = upstream.client();
  await createBuckets(u, 'busy');
  let slow = true;
  let refused = 0;
  const front = await startFront(upstream.port, () => {
    if (slow) refused++;
    return slow;
  });
  const edge = await startNode();
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'patient');
  await addTarget(edge.endpoint, 'patient', front, 'busy');

  await e.send(new PutObjectCommand({ Bucket: 'patient', Key: 'later', Body: 'eventually' }));
  await new Promise((r) => setTimeout(r, 4_000));
  // Back-off from 0.5 s doubling (with jitter): a handful of attempts in 4 s, not a busy loop.
  assert.ok(refused >= 2 && refused <= 8, `${refused} attempts in 4 s`);
  const [waiting] = await statusOf(edge.endpoint, 'patient');
  assert.equal(waiting!.depth, 1);
  assert.equal(waiting!.link, 'up', 'an HTTP answer is not a dead link');
  assert.match(waiting!.lastError ?? '', /SlowDown/);

  slow = false;
  await waitFor('the queue to drain', async () => (await statusOf(edge.endpoint, 'patient'))[0]!.depth === 0, 30_000);
  // A fresh client: `u` has been idle while the queue drained, and test clients make one attempt only.
  assert.equal((await snapshot(upstream.client(), 'busy', 'later'))?.body.toString(), 'eventually');
});

test('one key the upstream keeps refusing does not hold back the rest of the queue', { timeout: 60_000 }, async () => {
  const upstream = await startNode();
  cleanups.push(() => upstream.stop());
  const u = upstream.client();
  await createBuckets(u, 'mostly');
  const front = await startFront(upstream.port, (url) => url.includes('/a-poison'));
  const edge = await startNode();
  cleanups.push(() => edge.stop());
  const e = edge.client();
  await createBuckets(e, 'queue');
  // Queued all at once by a resync, the refused key first in seq order, ten batches of healthy keys behind it.
  await e.send(new PutObjectCommand({ Bucket: 'queue', Key: 'a-poison', Body: 'never accepted' }));
  for (let i = 0; i < 150; i++) await e.send(new PutObjectCommand({ Bucket: 'queue', Key: `ok-${String(i).padStart(3, '0')}`, Body: `ok ${i}` }));
  await addTarget(edge.endpoint, 'queue', front, 'mostly', { concurrency: 1 });
  await (await adminFetch(adminOf(edge.endpoint), 'POST', 'replication/resync', { bucket: 'queue' })).text();
  await waitFor('every other key upstream', async () => (await listKeys(u, 'mostly')).length === 150, 20_000);
  const [status] = await statusOf(edge.endpoint, 'queue');
  assert.equal(status!.depth, 1, 'only the refused key is left');
  assert.equal((await e.send(new HeadObjectCommand({ Bucket: 'queue', Key: 'a-poison' }))).ReplicationStatus, 'PENDING');
});
