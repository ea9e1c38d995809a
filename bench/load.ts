// Closed-loop load: N workers each issue one request after another for a fixed time or op count; latency and throughput.
import { performance } from 'node:perf_hooks';

export interface DriveOptions {
  concurrency: number;
  /** Stop starting new ops after this long (in-flight ops finish and count). */
  durationMs?: number;
  /** Stop after this many ops in total. */
  maxOps?: number;
  /** Runs op number `i` on worker `worker`; resolves with the payload bytes moved. */
  op: (i: number, worker: number) => Promise<number>;
}

export interface DriveStats {
  ops: number;
  seconds: number;
  bytes: number;
  opsPerSec: number;
  mibPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

export async function drive(o: DriveOptions): Promise<DriveStats> {
  if (o.durationMs === undefined && o.maxOps === undefined) throw new Error('drive needs a duration or an op count');
  let next = 0;
  let stopped = false;
  let bytes = 0;
  const latencies: number[] = [];
  const timer = o.durationMs === undefined ? undefined : setTimeout(() => (stopped = true), o.durationMs);
  const started = performance.now();
  const worker = async (w: number) => {
    while (!stopped && (o.maxOps === undefined || next < o.maxOps)) {
      const i = next++;
      const t0 = performance.now();
      // Not `bytes += await ...`: that reads `bytes` before the await and loses the other workers' updates.
      const moved = await o.op(i, w);
      latencies.push(performance.now() - t0);
      bytes += moved;
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  } finally {
    // One failed op ends the run: the others stop at their next turn instead of running on.
    stopped = true;
    clearTimeout(timer);
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    seconds,
    bytes,
    opsPerSec: latencies.length / seconds,
    mibPerSec: bytes / 1048576 / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
