// Upstream host names are resolved one at a time (serial-lookup.ts), and a target named by host name replicates.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { serialLookup } from '../../src/replication/serial-lookup.ts';
import type { TestServer } from '../helpers/server.ts';
import { addTarget, assertReplicated, createBuckets, startNode, waitForEmptyQueue } from '../helpers/replication.ts';

test('lookups run one at a time, in order, each answer going to its own caller', async () => {
  let running = 0;
  let most = 0;
  const started: string[] = [];
  const slow = (hostname: string, _options: object, callback: (...answer: unknown[]) => void): void => {
    started.push(hostname);
    running++;
    most = Math.max(most, running);
    setTimeout(() => {
      running--;
      callback(null, `10.0.0.${hostname.length}`, 4);
    }, 30);
  };
  const lookup = serialLookup(slow);
  const ask = (name: string) => new Promise<unknown[]>((resolve) => lookup(name, {}, (...answer: unknown[]) => resolve(answer)));
  const answers = await Promise.all([ask('a'), ask('bb'), ask('ccc')]);
  assert.equal(most, 1, 'two lookups ran at once');
  assert.deepEqual(started, ['a', 'bb', 'ccc']);
  assert.deepEqual(answers, [[null, '10.0.0.1', 4], [null, '10.0.0.2', 4], [null, '10.0.0.3', 4]]);
});

test('a failed lookup does not block the next one', async () => {
  const flaky = (hostname: string, _options: object, callback: (...answer: unknown[]) => void): void => {
    setTimeout(() => (hostname === 'bad' ? callback(Object.assign(new Error('EAI_AGAIN'), { code: 'EAI_AGAIN' })) : callback(null, '127.0.0.1', 4)), 5);
  };
  const lookup = serialLookup(flaky);
  const ask = (name: string) => new Promise<unknown[]>((resolve) => lookup(name, {}, (...answer: unknown[]) => resolve(answer)));
  const [bad, good] = await Promise.all([ask('bad'), ask('good')]);
  assert.equal((bad[0] as NodeJS.ErrnoException).code, 'EAI_AGAIN');
  assert.deepEqual(good, [null, '127.0.0.1', 4]);
});

let edge: TestServer;
let upstream: TestServer;
let e: S3Client;
let u: S3Client;

before(async () => {
  upstream = await startNode();
  edge = await startNode();
  e = edge.client();
  u = upstream.client();
  await createBuckets(u, 'up-named');
});

after(async () => {
  await edge?.stop();
  await upstream?.stop();
});

test('a target whose endpoint is a host name (localhost) replicates through the serial lookup', { timeout: 60_000 }, async () => {
  await createBuckets(e, 'named');
  await addTarget(edge.endpoint, 'named', `http://localhost:${upstream.port}`, 'up-named');
  for (let i = 0; i < 5; i++) await e.send(new PutObjectCommand({ Bucket: 'named', Key: `k${i}`, Body: randomBytes(500 + i) }));
  await waitForEmptyQueue(edge.endpoint, 'named');
  await assertReplicated(e, 'named', u, 'up-named');
});
