// Upstream secret keys live in the data dir's LevelDB: ferry creates that dir private (0700), and no admin answer,
// CLI output or log line ever carries a secret, even when the upstream refuses it or cannot be reached.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { adminFetch } from '../../src/cli/admin-client.ts';
import { ACCESS_KEY, makeClient, spawnFerry, tempDir } from '../helpers/server.ts';
import { adminOf, createBuckets, replicationCli, startNode, statusOf, waitFor } from '../helpers/replication.ts';

const UPSTREAM_SECRET = 'upstream-secret-that-must-never-show-7d1f';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

test('ferry creates its data dir and LevelDB dir 0700; no list, status or log line shows an upstream secret', { timeout: 90_000 }, async () => {
  const upstream = await startNode();
  cleanups.push(() => upstream.stop());
  await createBuckets(upstream.client(), 'sealed');
  const root = await tempDir('ferry-repl-secret-');
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const dataDir = join(root, 'not', 'yet', 'there');
  const edge = await spawnFerry(dataDir);
  cleanups.push(async () => {
    edge.child.kill('SIGKILL');
    await edge.exited;
  });
  for (const dir of [dataDir, join(dataDir, 'meta')]) {
    assert.equal((await stat(dir)).mode & 0o777, 0o700, `${dir} is not private`);
  }

  const client = makeClient(edge.endpoint);
  cleanups.push(async () => client.destroy());
  await createBuckets(client, 'private');
  const secretFile = join(root, 'upstream.secret');
  await writeFile(secretFile, UPSTREAM_SECRET, { mode: 0o600 });
  const outputs: string[] = [];
  // One target the upstream refuses (a wrong secret for a known key), one whose upstream cannot be reached at all.
  const refused = await replicationCli(['add', 'private', '--server', edge.endpoint, '--endpoint', upstream.endpoint, '--target-bucket', 'sealed',
    '--access-key', ACCESS_KEY, '--secret-key-file', secretFile, '--path-style', '--json']);
  assert.equal(refused.code, 0, refused.stderr);
  outputs.push(refused.stdout, refused.stderr);
  const added = await adminFetch(adminOf(edge.endpoint), 'POST', 'replication', { bucket: 'private' }, {
    endpoint: 'http://127.0.0.1:1', targetBucket: 'nowhere', accessKey: 'AKIAUNREACHABLE', secretKey: UPSTREAM_SECRET, pathStyle: true,
  });
  outputs.push(await added.text());

  await client.send(new PutObjectCommand({ Bucket: 'private', Key: 'doc', Body: 'confidential' }));
  await waitFor('the refusal and the dead link to show', async () => {
    const lines = await statusOf(edge.endpoint, 'private');
    return lines.some((s) => s.failed === 1) && lines.some((s) => s.link === 'down');
  }, 30_000);

  for (const args of [['list'], ['list', '--json'], ['status'], ['status', '--json'], ['status', 'private', '--json']]) {
    const run = await replicationCli([...args, '--server', edge.endpoint]);
    assert.equal(run.code, 0, run.stderr);
    outputs.push(run.stdout, run.stderr);
  }
  for (const path of ['replication', 'replication/status']) outputs.push(await (await adminFetch(adminOf(edge.endpoint), 'GET', path)).text());
  const status = outputs.join('\n');
  assert.match(status, /SignatureDoesNotMatch|InvalidAccessKeyId/, 'the refusal is reported');
  assert.match(status, /AKIAUNREACHABLE/, 'the access key is shown');
  assert.ok(!status.includes(UPSTREAM_SECRET), 'a secret leaked into an admin answer or CLI output');

  const log = edge.output();
  assert.match(log, /replication: added target/);
  assert.match(log, /failed: (SignatureDoesNotMatch|InvalidAccessKeyId)/);
  assert.match(log, /upstream unreachable/);
  assert.ok(!log.includes(UPSTREAM_SECRET), 'a secret leaked into the server log');
});
