// Replication throughput to a local upstream ferry next to a plain SDK copy of the same objects in the same run.
//
// Two ferry children: a source holding the objects and an upstream. "plain copy" GETs each object from the source and
// PUTs it upstream with @aws-sdk/client-s3 at the target's concurrency; "replication" adds a target, resyncs the
// bucket and times until its queue is empty. Same objects, same SDK, same concurrency; the ratio is the figure.
// Run alone: node bench/replication.ts [--quick]
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { adminFetch } from '../src/cli/admin-client.ts';
import type { AdminTarget } from '../src/cli/admin-client.ts';
import { installCleanup, makeTempDir, removeTempDirs, startServerChild } from './children.ts';
import type { ServerChild } from './children.ts';
import { renderTable } from './report.ts';
import type { Row } from './report.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const CREDS = { accessKeyId: 'BENCHREPLACCESSKEY', secretAccessKey: 'bench-replication-secret-0123456789', region: 'us-east-1' };
const KiB = 1024;
const MiB = 1024 * KiB;
const CONCURRENCY = 4;

export interface ReplicationPhaseOptions {
  /** 4 KiB objects per repetition. */
  smallCount: number;
  /** 64 MiB objects per repetition. */
  largeCount: number;
  reps: number;
  /** The ferry command line before `--data-dir`: default `node src/main.ts serve`. */
  ferryArgs?: string[];
}

export const QUICK_REPLICATION: ReplicationPhaseOptions = { smallCount: 200, largeCount: 2, reps: 1 };
export const FULL_REPLICATION: ReplicationPhaseOptions = { smallCount: 1000, largeCount: 4, reps: 2 };

interface Timing {
  seconds: number;
  bytes: number;
  count: number;
}

async function startFerry(name: string, args: string[]): Promise<ServerChild> {
  const dataDir = await makeTempDir(`ferry-bench-${name}-`);
  return startServerChild(name, [...args, '--data-dir', dataDir, '--address', '127.0.0.1:0'], {
    FERRY_ROOT_ACCESS_KEY: CREDS.accessKeyId, FERRY_ROOT_SECRET_KEY: CREDS.secretAccessKey, FERRY_REGION: CREDS.region, ...(process.env.UV_THREADPOOL_SIZE ? { UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE } : {}),
  });
}

async function pool<T>(items: T[], concurrency: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await run(items[next++]!);
  }));
}

/** Runs the phase and returns table rows (ratio goal 0.8 against the plain copy). */
export async function runReplicationPhase(o: ReplicationPhaseOptions): Promise<Row[]> {
  const { S3Client, CreateBucketCommand, GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const args = o.ferryArgs ?? [join(ROOT, 'src/main.ts'), 'serve'];
  const source = await startFerry('source', args);
  const upstream = await startFerry('upstream', args);
  const endpointOf = (s: ServerChild) => `http://127.0.0.1:${s.port}`;
  const clientOf = (s: ServerChild) => new S3Client({
    endpoint: endpointOf(s), region: CREDS.region, forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId: CREDS.accessKeyId, secretAccessKey: CREDS.secretAccessKey },
  });
  const src = clientOf(source);
  const up = clientOf(upstream);
  const admin: AdminTarget = { server: endpointOf(source), accessKey: CREDS.accessKeyId, secretKey: CREDS.secretAccessKey, region: CREDS.region };
  const rows: Row[] = [];
  try {
    const results: Record<'small' | 'large', { plain: Timing[]; repl: Timing[] }> = { small: { plain: [], repl: [] }, large: { plain: [], repl: [] } };
    for (let rep = 0; rep < o.reps; rep++) {
      for (const kind of ['small', 'large'] as const) {
        const size = kind === 'small' ? 4 * KiB : 64 * MiB;
        const count = kind === 'small' ? o.smallCount : o.largeCount;
        const bucket = `${kind}-${rep}`;
        await src.send(new CreateBucketCommand({ Bucket: bucket }));
        const body = randomBytes(size);
        const keys = Array.from({ length: count }, (_, i) => `${kind}/${String(i).padStart(6, '0')}`);
        await pool(keys, 8, async (Key) => {
          await src.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body }));
        });

        // Plain copy: stream each GET body into a PUT upstream, the SDK at its defaults.
        await up.send(new CreateBucketCommand({ Bucket: `${bucket}-plain` }));
        let started = performance.now();
        await pool(keys, CONCURRENCY, async (Key) => {
          const got = await src.send(new GetObjectCommand({ Bucket: bucket, Key }));
          await up.send(new PutObjectCommand({ Bucket: `${bucket}-plain`, Key, Body: got.Body as Readable, ContentLength: got.ContentLength }));
        });
        results[kind].plain.push({ seconds: (performance.now() - started) / 1000, bytes: size * count, count });

        // Replication: a target added after the fact, a resync, and the time until its queue is empty.
        await up.send(new CreateBucketCommand({ Bucket: `${bucket}-repl` }));
        started = performance.now();
        await adminFetch(admin, 'POST', 'replication', { bucket }, {
          endpoint: endpointOf(upstream), targetBucket: `${bucket}-repl`, accessKey: CREDS.accessKeyId, secretKey: CREDS.secretAccessKey,
          pathStyle: true, concurrency: CONCURRENCY,
        });
        await (await adminFetch(admin, 'POST', 'replication/resync', { bucket })).text();
        for (;;) {
          const res = await adminFetch(admin, 'GET', 'replication/status', { bucket });
          const { targets } = (await res.json()) as { targets: Array<{ depth: number; failed: number; lastError?: string }> };
          if (targets[0]!.failed > 0) throw new Error(`replication failed: ${targets[0]!.lastError}`);
          if (targets[0]!.depth === 0) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        results[kind].repl.push({ seconds: (performance.now() - started) / 1000, bytes: size * count, count });
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const section = 'replication to a local upstream ferry (baseline: plain SDK copy, c=4)';
    const small = results.small;
    const large = results.large;
    rows.push({
      section, phase: `4 KiB objects (${o.smallCount})`, unit: 'objects/s', digits: 0,
      baseline: median(small.plain.map((t) => t.count / t.seconds)), ferry: median(small.repl.map((t) => t.count / t.seconds)),
      repRatios: small.repl.map((t, i) => (t.count / t.seconds) / (small.plain[i]!.count / small.plain[i]!.seconds)),
      goal: { kind: 'ratio-at-least', value: 0.8 },
    });
    rows.push({
      section, phase: `64 MiB objects (${o.largeCount})`, unit: 'MiB/s', digits: 0,
      baseline: median(large.plain.map((t) => t.bytes / MiB / t.seconds)), ferry: median(large.repl.map((t) => t.bytes / MiB / t.seconds)),
      repRatios: large.repl.map((t, i) => (t.bytes / t.seconds) / (large.plain[i]!.bytes / large.plain[i]!.seconds)),
      goal: { kind: 'ratio-at-least', value: 0.8 },
    });
    return rows;
  } finally {
    src.destroy();
    up.destroy();
    await source.stop();
    await upstream.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
  installCleanup();
  const rows = await runReplicationPhase(values.quick ? QUICK_REPLICATION : FULL_REPLICATION);
  console.log(renderTable(rows));
  await removeTempDirs();
}
