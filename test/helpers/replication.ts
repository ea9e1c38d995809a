// Replication test harness: in-process ferries with fast link probes, the admin API, the CLI, bounded waits, object checks.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { TargetStatus } from '../../src/replication/manager.ts';
import type { WorkerOptions } from '../../src/replication/worker.ts';
import { adminFetch } from '../../src/cli/admin-client.ts';
import type { AdminTarget } from '../../src/cli/admin-client.ts';
import type { Counters } from '../../src/replication/counters.ts';
import { Outbox } from '../../src/replication/outbox.ts';
import { openStore } from '../../src/store/level-store.ts';
import { ACCESS_KEY, makeClient, REGION, SECRET_KEY, spawnFerry, startFerry, tempDir } from './server.ts';
import type { ChildFerry, StartOptions, TestServer } from './server.ts';

export const FAST: WorkerOptions = { maxProbeIntervalMs: 1_000, connectTimeoutMs: 2_000, idleTimeoutMs: 5_000 };

/** startFerry with replication tuned for tests (probe at least every second) and an optional fixed data dir. */
export async function startNode(options: Omit<StartOptions, 'replication'> & { replication?: WorkerOptions } = {}): Promise<TestServer> {
  return startFerry({}, { ...options, dataDir: options.dataDir ?? await tempDir('ferry-repl-'), replication: options.replication ?? FAST });
}

export function adminOf(endpoint: string): AdminTarget {
  return { server: endpoint, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, region: REGION };
}

export interface TargetOptions {
  mode?: 'mirror' | 'archive';
  prefix?: string;
  window?: string;
  bandwidth?: string;
  concurrency?: number;
  multipartThreshold?: number;
  partSize?: number;
  accessKey?: string;
  secretKey?: string;
}

/** Adds a target through the admin API; returns its id. */
export async function addTarget(edge: string, bucket: string, upstream: string, targetBucket: string, options: TargetOptions = {}): Promise<string> {
  const res = await adminFetch(adminOf(edge), 'POST', 'replication', { bucket }, {
    endpoint: upstream, targetBucket, accessKey: options.accessKey ?? ACCESS_KEY, secretKey: options.secretKey ?? SECRET_KEY, pathStyle: true, ...options,
  });
  return ((await res.json()) as { target: { id: string } }).target.id;
}

export async function statusOf(edge: string, bucket?: string): Promise<TargetStatus[]> {
  const res = await adminFetch(adminOf(edge), 'GET', 'replication/status', { bucket });
  return ((await res.json()) as { targets: TargetStatus[] }).targets;
}

/** Polls `check` every 50 ms until it returns true, at most `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitForEmptyQueue(edge: string, bucket: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(`the ${bucket} replication queue to drain`, async () => (await statusOf(edge, bucket)).every((s) => s.depth === 0), timeoutMs);
}

export async function createBuckets(client: S3Client, ...names: string[]): Promise<void> {
  for (const Bucket of names) await client.send(new CreateBucketCommand({ Bucket }));
}

export interface Snapshot {
  body: Buffer;
  contentType?: string;
  metadata: Record<string, string>;
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  tagCount?: number;
}

export async function snapshot(client: S3Client, Bucket: string, Key: string): Promise<Snapshot | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket, Key }));
    const snap: Snapshot = { body: Buffer.from(await out.Body!.transformToByteArray()), metadata: out.Metadata ?? {} };
    if (out.ContentType !== undefined) snap.contentType = out.ContentType;
    if (out.CacheControl !== undefined) snap.cacheControl = out.CacheControl;
    if (out.ContentDisposition !== undefined) snap.contentDisposition = out.ContentDisposition;
    if (out.ContentEncoding !== undefined) snap.contentEncoding = out.ContentEncoding;
    if (out.TagCount !== undefined) snap.tagCount = out.TagCount;
    return snap;
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

export async function listKeys(client: S3Client, Bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(new ListObjectsV2Command({ Bucket, ContinuationToken: token }));
    for (const o of out.Contents ?? []) keys.push(o.Key!);
    token = out.NextContinuationToken;
  } while (token);
  return keys;
}

/** Every key of the source bucket (within `prefix`) is upstream with the same bytes and metadata. */
export async function assertReplicated(source: S3Client, sourceBucket: string, upstream: S3Client, targetBucket: string, prefix = ''): Promise<void> {
  const keys = (await listKeys(source, sourceBucket)).filter((k) => k.startsWith(prefix));
  for (const key of keys) {
    const [a, b] = [await snapshot(source, sourceBucket, key), await snapshot(upstream, targetBucket, key)];
    assert.ok(b, `${key} is missing upstream`);
    assert.ok(a!.body.equals(b.body), `${key}: upstream bytes differ`);
    assert.deepEqual({ ...b, body: undefined }, { ...a, body: undefined }, `${key}: upstream metadata differs`);
  }
}

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ferry replication <args>` as a child process (the servers may live in this process), bounded to 30 s. */
export function replicationCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [MAIN, 'replication', ...args], {
    env: { PATH: process.env.PATH ?? '', FERRY_ROOT_ACCESS_KEY: ACCESS_KEY, FERRY_ROOT_SECRET_KEY: SECRET_KEY, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.once('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}

/** How many data files the data dir holds (every shard of data/). */
export async function countDataFiles(dataDir: string): Promise<number> {
  let count = 0;
  for (const shard of await readdir(join(dataDir, 'data'))) count += (await readdir(join(dataDir, 'data', shard))).length;
  return count;
}

/**
 * Opens a stopped edge's data dir with the real store and outbox (recovery included) and returns, per target id,
 * the counters it keeps and the counters a full walk of its queue finds.
 */
export async function countersOnDisk(dataDir: string): Promise<Map<string, { kept: Counters; walked: Counters }>> {
  let outbox: Outbox | undefined;
  const store = await openStore({
    dataDir,
    attach: async (core) => {
      outbox = new Outbox(core);
      await outbox.load();
    },
  });
  try {
    const out = new Map<string, { kept: Counters; walked: Counters }>();
    for (const target of outbox!.targets()) out.set(target.id, { kept: outbox!.counters(target.id), walked: await outbox!.walk(target.id) });
    return out;
  } finally {
    await store.close();
  }
}

/** A ferry child process for the edge (so a test can SIGKILL it) and its client; both are undone by `cleanups`. */
export async function spawnEdge(dataDir: string, cleanups: Array<() => Promise<unknown>>): Promise<{ ferry: ChildFerry; client: S3Client }> {
  const ferry = await spawnFerry(dataDir);
  cleanups.push(async () => {
    ferry.child.kill('SIGKILL');
    await ferry.exited;
  });
  const client = makeClient(ferry.endpoint);
  cleanups.push(async () => client.destroy());
  return { ferry, client };
}
