// Replication to a second ferry on loopback: steady writes, metadata, deletes per mode, prefixes, status header, admin API.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, PutObjectTaggingCommand, S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { adminFetch } from '../../src/cli/admin-client.ts';
import type { TestServer } from '../helpers/server.ts';
import {
  addTarget, adminOf, assertReplicated, createBuckets, listKeys, snapshot, startNode, statusOf, waitFor, waitForEmptyQueue,
} from '../helpers/replication.ts';

let edge: TestServer;
let upstream: TestServer;
let e: S3Client;
let u: S3Client;
const logged: string[] = [];

before(async () => {
  upstream = await startNode();
  edge = await startNode({ log: (line) => logged.push(line) });
  e = edge.client();
  u = upstream.client();
  await createBuckets(u, 'up-mirror', 'up-archive', 'up-prefix');
});

after(async () => {
  await edge?.stop();
  await upstream?.stop();
});

test('acknowledged puts arrive upstream with identical bytes, headers, user metadata and tags', { timeout: 60_000 }, async () => {
  await createBuckets(e, 'steady');
  await addTarget(edge.endpoint, 'steady', upstream.endpoint, 'up-mirror');
  for (let i = 0; i < 20; i++) {
    await e.send(new PutObjectCommand({
      Bucket: 'steady', Key: `k/${i}`, Body: randomBytes(1000 + i * 97),
      ContentType: 'application/x-test', CacheControl: 'max-age=60', ContentDisposition: 'attachment', ContentEncoding: 'identity',
      Metadata: { colour: 'blue', n: String(i) }, Tagging: 'a=1&b=two',
    }));
  }
  await e.send(new PutObjectCommand({ Bucket: 'steady', Key: 'empty', Body: '' }));
  await waitForEmptyQueue(edge.endpoint, 'steady');
  await assertReplicated(e, 'steady', u, 'up-mirror');
  assert.equal((await listKeys(u, 'up-mirror')).length, 21);
  const head = await e.send(new HeadObjectCommand({ Bucket: 'steady', Key: 'k/3' }));
  assert.equal(head.ReplicationStatus, 'COMPLETED');
});

test('a small multipart object and a tag change replicate too', { timeout: 60_000 }, async () => {
  const body = randomBytes(6 * 1024 * 1024);
  await new Upload({ client: e, params: { Bucket: 'steady', Key: 'mp-small', Body: body, ContentType: 'video/mp4' }, partSize: 5 * 1024 * 1024 }).done();
  await e.send(new PutObjectTaggingCommand({ Bucket: 'steady', Key: 'k/0', Tagging: { TagSet: [{ Key: 'x', Value: 'y' }] } }));
  await waitForEmptyQueue(edge.endpoint, 'steady');
  const up = await snapshot(u, 'up-mirror', 'mp-small');
  assert.ok(up !== undefined && up.body.equals(body));
  assert.equal(up.contentType, 'video/mp4');
  assert.equal((await snapshot(u, 'up-mirror', 'k/0'))?.tagCount, 1);
});

test('mirror mode propagates deletes; a put then delete ends deleted upstream', { timeout: 60_000 }, async () => {
  await e.send(new DeleteObjectCommand({ Bucket: 'steady', Key: 'k/1' }));
  await e.send(new PutObjectCommand({ Bucket: 'steady', Key: 'gone-soon', Body: 'x' }));
  await e.send(new DeleteObjectCommand({ Bucket: 'steady', Key: 'gone-soon' }));
  await waitForEmptyQueue(edge.endpoint, 'steady');
  assert.equal(await snapshot(u, 'up-mirror', 'k/1'), undefined);
  assert.equal(await snapshot(u, 'up-mirror', 'gone-soon'), undefined);
});

test('archive mode keeps upstream what is deleted locally', { timeout: 60_000 }, async () => {
  await createBuckets(e, 'archived');
  await addTarget(edge.endpoint, 'archived', upstream.endpoint, 'up-archive', { mode: 'archive' });
  await e.send(new PutObjectCommand({ Bucket: 'archived', Key: 'keep', Body: 'kept upstream' }));
  await waitForEmptyQueue(edge.endpoint, 'archived');
  await e.send(new DeleteObjectCommand({ Bucket: 'archived', Key: 'keep' }));
  await waitForEmptyQueue(edge.endpoint, 'archived');
  assert.equal((await snapshot(u, 'up-archive', 'keep'))?.body.toString(), 'kept upstream');
});

test('a prefix limits what replicates; keys outside it carry no replication status', { timeout: 60_000 }, async () => {
  await createBuckets(e, 'prefixed');
  await addTarget(edge.endpoint, 'prefixed', upstream.endpoint, 'up-prefix', { prefix: 'logs/' });
  await e.send(new PutObjectCommand({ Bucket: 'prefixed', Key: 'logs/a', Body: 'a' }));
  await e.send(new PutObjectCommand({ Bucket: 'prefixed', Key: 'tmp/b', Body: 'b' }));
  await waitForEmptyQueue(edge.endpoint, 'prefixed');
  assert.deepEqual(await listKeys(u, 'up-prefix'), ['logs/a']);
  const head = await e.send(new HeadObjectCommand({ Bucket: 'prefixed', Key: 'tmp/b' }));
  assert.equal(head.ReplicationStatus, undefined);
});

test('an upstream refusal (missing bucket) marks the object FAILED and does not block the queue', { timeout: 60_000 }, async () => {
  await createBuckets(e, 'refused');
  await addTarget(edge.endpoint, 'refused', upstream.endpoint, 'no-such-upstream-bucket');
  for (const key of ['a', 'b', 'c', 'd']) await e.send(new PutObjectCommand({ Bucket: 'refused', Key: key, Body: key }));
  await waitFor('FAILED status', async () => (await e.send(new HeadObjectCommand({ Bucket: 'refused', Key: 'd' }))).ReplicationStatus === 'FAILED');
  assert.equal((await e.send(new HeadObjectCommand({ Bucket: 'refused', Key: 'a' }))).ReplicationStatus, 'FAILED');
  const [status] = await statusOf(edge.endpoint, 'refused');
  assert.equal(status!.depth, 0);
  assert.equal(status!.failed, 4);
  assert.match(status!.lastError ?? '', /NoSuchBucket/);
  // The same refusal for every object is logged once, not once per object.
  assert.equal(logged.filter((line) => line.includes('NoSuchBucket')).length, 1, logged.join('\n'));
});

test('the admin API never returns secrets and refuses unsigned or bad requests', { timeout: 30_000 }, async () => {
  const res = await adminFetch(adminOf(edge.endpoint), 'GET', 'replication');
  const text = await res.text();
  assert.ok(!text.includes('ferry-test-secret-key'), 'a secret leaked into the list');
  assert.ok(JSON.parse(text).targets.length >= 3);
  assert.ok(!logged.some((line) => line.includes('ferry-test-secret-key')), 'a secret leaked into the log');
  assert.ok(logged.some((line) => line.startsWith('replication: added target')), 'additions are logged');
  const anonymous = await fetch(`${edge.endpoint}/_ferry/replication`);
  assert.equal(anonymous.status, 403);
  await assert.rejects(
    adminFetch({ ...adminOf(edge.endpoint), secretKey: 'wrong-secret-key-0000' }, 'GET', 'replication'),
    (err: { code?: string }) => err.code === 'SignatureDoesNotMatch',
  );
  await assert.rejects(
    adminFetch(adminOf(edge.endpoint), 'POST', 'replication', { bucket: 'steady' }, { endpoint: 'ftp://x', targetBucket: 'b', accessKey: 'a', secretKey: 's' }),
    (err: { code?: string }) => err.code === 'InvalidArgument',
  );
  await assert.rejects(
    adminFetch(adminOf(edge.endpoint), 'POST', 'replication', { bucket: 'nope' }, { endpoint: 'http://x', targetBucket: 'b', accessKey: 'a', secretKey: 's' }),
    (err: { code?: string }) => err.code === 'NoSuchBucket',
  );
});

test('removing a target drops its queue and the status header', { timeout: 30_000 }, async () => {
  const [status] = await statusOf(edge.endpoint, 'refused');
  await adminFetch(adminOf(edge.endpoint), 'DELETE', `replication/${status!.target.id}`);
  assert.deepEqual(await statusOf(edge.endpoint, 'refused'), []);
  const head = await e.send(new HeadObjectCommand({ Bucket: 'refused', Key: 'a' }));
  assert.equal(head.ReplicationStatus, undefined);
});
