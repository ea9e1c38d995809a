// An independent upstream: s3rver (child process, --openssl-legacy-provider for its paginated listing under Node >= 17).
// It knows no aws-chunked trailers or CRC checksums: replication's Content-MD5 uploads must still work against it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { TestServer } from '../helpers/server.ts';
import { makeClient, tempDir } from '../helpers/server.ts';
import { addTarget, createBuckets, listKeys, snapshot, startNode, waitForEmptyQueue } from '../helpers/replication.ts';

const S3RVER = new URL('../../node_modules/s3rver/bin/s3rver.js', import.meta.url).pathname;
const MiB = 1024 * 1024;

let child: ChildProcess | undefined;
let dir: string;
let endpoint: string;
let s3rver: S3Client;
let edge: TestServer;

before(async () => {
  dir = await tempDir('ferry-s3rver-');
  child = spawn(process.execPath, ['--openssl-legacy-provider', S3RVER, '-d', dir, '-a', '127.0.0.1', '-p', '0', '--silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 20 s:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on [^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child!.stdout!.on('data', onData);
    child!.stderr!.on('data', onData);
    child!.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}):\n${out}`));
    });
  });
  endpoint = `http://127.0.0.1:${port}`;
  s3rver = makeClient(endpoint, { credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestChecksumCalculation: 'WHEN_REQUIRED' });
  await createBuckets(s3rver, 'central');
  edge = await startNode();
});

after(async () => {
  await edge?.stop();
  s3rver?.destroy();
  if (child !== undefined && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('objects, metadata, a multipart-sized object and deletes replicate to s3rver', { timeout: 90_000 }, async () => {
  const e = edge.client();
  await createBuckets(e, 'to-s3rver');
  await addTarget(edge.endpoint, 'to-s3rver', endpoint, 'central', { accessKey: 'S3RVER', secretKey: 'S3RVER', multipartThreshold: 5 * MiB, partSize: 5 * MiB });
  const small = new Map<string, Buffer>();
  for (let i = 0; i < 8; i++) {
    const body = randomBytes(2000 + i);
    small.set(`s/${i}`, body);
    await e.send(new PutObjectCommand({ Bucket: 'to-s3rver', Key: `s/${i}`, Body: body, ContentType: 'text/x-test', Metadata: { origin: 'edge' } }));
  }
  const big = randomBytes(11 * MiB);
  await e.send(new PutObjectCommand({ Bucket: 'to-s3rver', Key: 'big', Body: big, ContentType: 'application/x-big' }));
  await e.send(new DeleteObjectCommand({ Bucket: 'to-s3rver', Key: 's/0' }));
  small.delete('s/0');
  await waitForEmptyQueue(edge.endpoint, 'to-s3rver', 60_000);

  assert.deepEqual((await listKeys(s3rver, 'central')).sort(), ['big', ...small.keys()].sort());
  for (const [key, body] of small) {
    const up = await snapshot(s3rver, 'central', key);
    assert.ok(up !== undefined && up.body.equals(body), `${key} differs on s3rver`);
    assert.equal(up.contentType, 'text/x-test');
    assert.deepEqual(up.metadata, { origin: 'edge' });
  }
  const up = await snapshot(s3rver, 'central', 'big');
  assert.ok(up !== undefined && up.body.equals(big), 'the multipart object differs on s3rver');
  assert.equal(up.contentType, 'application/x-big');
});
