// Reads over one target's queue that the hot path never needs: the lag's oldest entry, a full walk, counter building.
import type { StoreCore } from '../store/core.ts';
import { put } from '../store/core.ts';
import type { Op } from '../store/core.ts';
import { COUNTERS_KEY, zero } from './counters.ts';
import type { Counters } from './counters.ts';
import type { TargetQueue } from './queue.ts';
import type { TargetRecord } from './targets.ts';

/**
 * When the oldest pending change committed: the first queue entry that is still its key's latest. The outbox drops
 * a key's older entry when it queues a newer one, so that is the first entry; stale ones left by an older version
 * of the outbox are skipped, within a bound.
 */
export async function oldestPendingAt(queue: TargetQueue, bound = 10_000): Promise<number | undefined> {
  let after = '';
  for (let scanned = 0; scanned < bound;) {
    const entries = await queue.queue.iterator({ gt: after, limit: 100 }).all();
    if (entries.length === 0) return undefined;
    const pending = await queue.pending.getMany(entries.map(([, key]) => key));
    for (const [i, [seq]] of entries.entries()) {
      const entry = pending[i];
      if (entry !== undefined && entry.seq === Number(seq)) return entry.at;
    }
    after = entries.at(-1)![0];
    scanned += entries.length;
  }
  return undefined;
}

/** The counters by walking `pending` and `failed`: linear in the queue, to check the kept ones or to build them. */
export async function walkCounters(queue: TargetQueue): Promise<Counters> {
  const totals = zero();
  for await (const entry of queue.pending.values()) {
    totals.depth++;
    totals.bytes += entry.size ?? 0;
  }
  for await (const _ of queue.failed.keys()) totals.failed++;
  return totals;
}

/** Counters for a queue written before they existed: sizes filled into its pending entries, totals persisted. */
export async function buildCounters(core: StoreCore, target: TargetRecord, queue: TargetQueue): Promise<Counters> {
  let ops: Op[] = [];
  for await (const [key, entry] of queue.pending.iterator()) {
    if (entry.size !== undefined) continue;
    const object = target.draining === undefined ? await core.objectsOf(target.bucket).get(key) : undefined;
    const source = object ?? await queue.retained.get(key);
    ops.push(put(queue.pending, key, { ...entry, size: source?.size ?? 0 }));
    if (ops.length >= 1000) {
      await core.commit(ops);
      ops = [];
    }
  }
  if (ops.length > 0) await core.commit(ops);
  const totals = await walkCounters(queue);
  await core.commit([put(queue.meta, COUNTERS_KEY, totals)]);
  return totals;
}
