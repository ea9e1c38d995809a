// ferry runs with two libuv I/O threads unless UV_THREADPOOL_SIZE says otherwise (src/pool-size.ts).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { makeClient, spawnFerry, tempDir, type ChildFerry } from '../helpers/server.ts';

const dirs: string[] = [];
const children: ChildFerry[] = [];
after(async () => {
  for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** The names of a process's threads, from /proc. */
async function threadNames(pid: number): Promise<string[]> {
  const names: string[] = [];
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    names.push((await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8').catch(() => '')).trim());
  }
  return names;
}

async function ioThreadsAfterUse(env: Record<string, string>): Promise<number> {
  const dataDir = await tempDir('ferry-pool-');
  dirs.push(dataDir);
  const f = await spawnFerry(dataDir, env);
  children.push(f);
  const s3 = makeClient(f.endpoint);
  try {
    // File writes, fsyncs and LevelDB batches: the pool has started all its threads.
    await s3.send(new CreateBucketCommand({ Bucket: 'pool' }));
    await Promise.all(Array.from({ length: 8 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: 'pool', Key: `k${i}`, Body: `body ${i}` }))));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'pool', Key: 'k3' }));
    assert.equal(await got.Body!.transformToString(), 'body 3');
    return (await threadNames(f.child.pid!)).filter((n) => n === 'libuv-worker').length;
  } finally {
    s3.destroy();
    f.child.kill('SIGTERM');
    await f.exited;
  }
}

test('two I/O threads by default', { timeout: 60_000 }, async () => {
  assert.equal(await ioThreadsAfterUse({}), 2);
});

test("an operator's UV_THREADPOOL_SIZE wins", { timeout: 60_000 }, async () => {
  assert.equal(await ioThreadsAfterUse({ UV_THREADPOOL_SIZE: '3' }), 3);
});
