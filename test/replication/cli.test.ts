// `ferry replication ...` as an operator runs it against a running edge: add, list, status, resync, remove, errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { TestServer } from '../helpers/server.ts';
import { ACCESS_KEY, SECRET_KEY, tempDir } from '../helpers/server.ts';
import { assertReplicated, createBuckets, listKeys, replicationCli, startNode, statusOf, waitForEmptyQueue } from '../helpers/replication.ts';

let upstream: TestServer;
let edge: TestServer;
let e: S3Client;
let u: S3Client;
let dir: string;
let secretFile: string;

before(async () => {
  upstream = await startNode();
  edge = await startNode();
  e = edge.client();
  u = upstream.client();
  await createBuckets(u, 'central');
  await createBuckets(e, 'photos');
  dir = await tempDir('ferry-repl-cli-');
  secretFile = join(dir, 'secret');
  await writeFile(secretFile, SECRET_KEY + '\n', { mode: 0o600 });
});

after(async () => {
  await edge?.stop();
  await upstream?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const ferry = replicationCli;

test('add, list and status print the target without its secret; resync queues objects that predate it', { timeout: 90_000 }, async () => {
  for (let i = 0; i < 30; i++) await e.send(new PutObjectCommand({ Bucket: 'photos', Key: `p${i}.jpg`, Body: randomBytes(700), ContentType: 'image/jpeg' }));
  const added = await ferry(['add', 'photos', '--server', edge.endpoint, '--endpoint', upstream.endpoint, '--target-bucket', 'central',
    '--access-key', ACCESS_KEY, '--secret-key-file', secretFile, '--path-style', '--concurrency', '2']);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /^added [0-9a-f]{12} {2}photos -> http:\/\/127\.0\.0\.1:\d+\/central/);
  assert.ok(!added.stdout.includes(SECRET_KEY));

  const listed = await ferry(['list', '--server', edge.endpoint]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /photos -> .*central .*mode mirror.*concurrency 2/);
  assert.ok(!listed.stdout.includes(SECRET_KEY));

  // Objects written before the target existed are not queued until a resync.
  const [before] = await statusOf(edge.endpoint, 'photos');
  assert.equal(before!.depth, 0);
  const resync = await ferry(['resync', 'photos', '--server', edge.endpoint]);
  assert.equal(resync.code, 0, resync.stderr);
  assert.match(resync.stderr, /resync: 30\/30 objects scanned \(100%\)/);
  assert.match(resync.stdout, /30 objects scanned, 30 replication tasks queued/);
  await waitForEmptyQueue(edge.endpoint, 'photos', 30_000);
  await assertReplicated(e, 'photos', u, 'central');
  assert.equal((await listKeys(u, 'central')).length, 30);

  const status = await ferry(['status', 'photos', '--server', edge.endpoint]);
  assert.equal(status.code, 0, status.stderr);
  for (const line of [/link: +up/, /queue depth: +0 object\(s\), 0 B pending/, /lag: +none/, /last success: +20\d\d-/, /last error: +none/]) {
    assert.match(status.stdout, line);
  }
  const json = JSON.parse((await ferry(['status', 'photos', '--server', edge.endpoint, '--json'])).stdout) as { targets: unknown[] };
  assert.equal(json.targets.length, 1);
});

test('the secret comes from FERRY_TARGET_SECRET_KEY too; remove needs --target or --all with several targets', { timeout: 60_000 }, async () => {
  const second = await ferry(['add', 'photos', '--server', edge.endpoint, '--endpoint', upstream.endpoint, '--target-bucket', 'central',
    '--access-key', ACCESS_KEY, '--path-style', '--mode', 'archive', '--window', '22:00-06:00', '--bandwidth', '2MiB/s'], { FERRY_TARGET_SECRET_KEY: SECRET_KEY });
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /mode archive.*bandwidth 2\.0 MiB\/s, window 22:00-06:00/);
  const id = /^added ([0-9a-f]{12})/.exec(second.stdout)![1]!;

  const ambiguous = await ferry(['remove', 'photos', '--server', edge.endpoint]);
  assert.equal(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /has 2 targets: name one with --target <id> or pass --all/);
  const removed = await ferry(['remove', 'photos', '--server', edge.endpoint, '--target', id]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal((await statusOf(edge.endpoint, 'photos')).length, 1);
  const all = await ferry(['remove', 'photos', '--server', edge.endpoint, '--all']);
  assert.equal(all.code, 0, all.stderr);
  assert.match((await ferry(['list', 'photos', '--server', edge.endpoint])).stdout, /bucket photos replicates nowhere/);
});

test('usage errors exit 2, refusals and an unreachable server exit 1, with a clear message', { timeout: 60_000 }, async () => {
  const base = ['add', 'photos', '--server', edge.endpoint, '--endpoint', upstream.endpoint, '--target-bucket', 'central', '--access-key', ACCESS_KEY];
  const noSecret = await ferry(base);
  assert.equal(noSecret.code, 2);
  assert.match(noSecret.stderr, /--secret-key-file <path> or env FERRY_TARGET_SECRET_KEY/);
  const noEndpoint = await ferry(['add', 'photos', '--server', edge.endpoint, '--target-bucket', 'x', '--access-key', 'a'], { FERRY_TARGET_SECRET_KEY: 's' });
  assert.equal(noEndpoint.code, 2);
  assert.match(noEndpoint.stderr, /--endpoint is required/);
  const badWindow = await ferry([...base, '--window', '25:00-01:00'], { FERRY_TARGET_SECRET_KEY: 's' });
  assert.equal(badWindow.code, 2);
  assert.match(badWindow.stderr, /InvalidArgument: window "25:00-01:00" has an invalid time/);
  const noBucket = await ferry(['resync', 'no-such-bucket', '--server', edge.endpoint]);
  assert.equal(noBucket.code, 2);
  assert.match(noBucket.stderr, /NoSuchBucket/);
  const badKey = await ferry(['list', '--server', edge.endpoint], { FERRY_ROOT_SECRET_KEY: 'not-the-secret' });
  assert.equal(badKey.code, 1);
  assert.match(badKey.stderr, /SignatureDoesNotMatch/);
  const unreachable = await ferry(['status', '--server', 'http://127.0.0.1:1']);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot reach ferry at http:\/\/127\.0\.0\.1:1/);
  const noCredentials = await ferry(['list', '--server', edge.endpoint, '--data-dir', dir], { FERRY_ROOT_ACCESS_KEY: '', FERRY_ROOT_SECRET_KEY: '' });
  assert.equal(noCredentials.code, 2);
  assert.match(noCredentials.stderr, /no root credentials/);
  const help = await ferry(['add', '--help']);
  assert.equal(help.code, 0);
  for (const flag of ['--endpoint', '--target-bucket', '--access-key', '--secret-key-file', '--region', '--path-style', '--prefix', '--mode', '--window', '--bandwidth', '--concurrency', '--server', '--data-dir']) {
    assert.ok(help.stdout.includes(flag), `add --help lacks ${flag}`);
  }
});
