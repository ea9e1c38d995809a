// The workloads, identical for both servers: 4 KiB PUT/GET at concurrency 16, 64 MiB PUT/GET at 4, ListObjectsV2 paging.
import { performance } from 'node:perf_hooks';
import { send, type Target } from './http-client.ts';
import { drive, type DriveStats } from './load.ts';

export const SMALL_SIZE = 4 * 1024;
export const LARGE_SIZE = 64 * 1024 * 1024;
export const SMALL_CONCURRENCY = 16;
export const LARGE_CONCURRENCY = 4;

export async function createBucket(t: Target, bucket: string): Promise<void> {
  await send(t, 'PUT', `/${bucket}`);
}

async function putObject(t: Target, bucket: string, key: string, body: Buffer): Promise<number> {
  await send(t, 'PUT', `/${bucket}/${key}`, { body });
  return body.length;
}

async function getObject(t: Target, bucket: string, key: string, size: number): Promise<number> {
  const r = await send(t, 'GET', `/${bucket}/${key}`);
  if (r.bytes !== size) throw new Error(`${t.name}: GET /${bucket}/${key} gave ${r.bytes} bytes, expected ${size}`);
  return r.bytes;
}

/** Writes `${prefix}/0`, `${prefix}/1`, ... for `durationMs`; every key below `stats.ops` exists afterwards. */
export function smallPut(t: Target, bucket: string, prefix: string, body: Buffer, durationMs: number): Promise<DriveStats> {
  return drive({ concurrency: SMALL_CONCURRENCY, durationMs, op: (i) => putObject(t, bucket, `${prefix}/${i}`, body) });
}

/** Reads the keys a `smallPut` with the same prefix wrote, round robin. */
export function smallGet(t: Target, bucket: string, prefix: string, keyCount: number, durationMs: number): Promise<DriveStats> {
  if (keyCount < 1) throw new Error(`${t.name}: no small objects to read`);
  return drive({ concurrency: SMALL_CONCURRENCY, durationMs, op: (i) => getObject(t, bucket, `${prefix}/${i % keyCount}`, SMALL_SIZE) });
}

/** Each of the 4 workers overwrites its own key `rounds` times, so disk use stays at 4 objects. */
export function largePut(t: Target, bucket: string, body: Buffer, rounds: number): Promise<DriveStats> {
  return drive({ concurrency: LARGE_CONCURRENCY, maxOps: LARGE_CONCURRENCY * rounds, op: (_i, w) => putObject(t, bucket, `large/${w}`, body) });
}

export function largeGet(t: Target, bucket: string, rounds: number): Promise<DriveStats> {
  return drive({ concurrency: LARGE_CONCURRENCY, maxOps: LARGE_CONCURRENCY * rounds, op: (_i, w) => getObject(t, bucket, `large/${w}`, LARGE_SIZE) });
}

/** Empty objects `k/00000`...: zero-padded so the listing order is the creation order. */
export async function fillForList(t: Target, bucket: string, count: number): Promise<DriveStats> {
  const empty = Buffer.alloc(0);
  return drive({ concurrency: SMALL_CONCURRENCY, maxOps: count, op: (i) => putObject(t, bucket, `k/${String(i).padStart(5, '0')}`, empty) });
}

export interface ListRun {
  seconds: number;
  keys: number;
  pages: number;
}

/** Lists the whole bucket with ListObjectsV2, one page after another, following NextContinuationToken.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html */
export async function listAll(t: Target, bucket: string, pageSize: number): Promise<ListRun> {
  let token: string | undefined;
  let keys = 0;
  let pages = 0;
  const started = performance.now();
  for (;;) {
    const query: Array<[string, string]> = [['list-type', '2'], ['max-keys', String(pageSize)]];
    if (token !== undefined) query.push(['continuation-token', token]);
    const r = await send(t, 'GET', `/${bucket}`, { query, keepText: true });
    const text = r.text ?? '';
    pages++;
    // Counting tags is enough to check the page; parsing 1000 entries would bill the client's XML parser to ferry.
    for (let at = text.indexOf('<Key>'); at !== -1; at = text.indexOf('<Key>', at + 5)) keys++;
    if (!text.includes('<IsTruncated>true</IsTruncated>')) break;
    token = /<NextContinuationToken>([^<]+)<\/NextContinuationToken>/.exec(text)?.[1];
    if (token === undefined) throw new Error(`${t.name}: truncated ListObjectsV2 page without NextContinuationToken`);
    if (pages > 10_000) throw new Error(`${t.name}: ListObjectsV2 does not end`);
  }
  return { seconds: (performance.now() - started) / 1000, keys, pages };
}
