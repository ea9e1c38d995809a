// Replication test harness: in-process ferries with fast link probes, the admin API, bounded waits, object checks.
import assert from 'node:assert/strict';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { WorkerOptions } from '../../src/replication/worker.ts';
import { adminFetch } from '../../src/cli/admin-client.ts';
import type { AdminTarget } from '../../src/cli/admin-client.ts';
import { ACCESS_KEY, REGION, SECRET_KEY, startFerry, tempDir } from './server.ts';
import type { StartOptions, TestServer } from './server.ts';

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

export interface StatusLine {
  target: { id: string };
  depth: number;
  bytesPending: number;
  lagMs: number;
  failed: number;
  link: string;
  windowOpen: boolean;
  lastSuccess?: number;
  lastError?: string;
  partsUploaded: number;
}

export async function statusOf(edge: string, bucket?: string): Promise<StatusLine[]> {
  const res = await adminFetch(adminOf(edge), 'GET', 'replication/status', { bucket });
  return ((await res.json()) as { targets: StatusLine[] }).targets;
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
