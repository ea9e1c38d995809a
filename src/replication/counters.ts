// Per-target queue counters (depth, bytes pending, failed) read in O(1): each batch that moves them also writes the new totals.
//
// The totals live in memory and every change applies its delta there synchronously, in the same tick that its
// batch is queued. Batches reach LevelDB in queue order (src/store/core.ts, group commit), so the last totals
// written are always the totals after the last batch: exact across a crash because they sit in the batch.
import { put } from '../store/core.ts';
import type { Op, Sub } from '../store/core.ts';

export interface Counters {
  /** Keys pending (each has one queue entry). */
  depth: number;
  /** Bytes those pending changes will send. */
  bytes: number;
  /** Keys the upstream refused for good. */
  failed: number;
}

export const COUNTERS_KEY = 'counters';

export function zero(): Counters {
  return { depth: 0, bytes: 0, failed: 0 };
}

/** The deltas one batch applied: undone in memory if that batch fails. */
export type Tally = Array<[string, Counters]>;

export class CounterBook {
  readonly #values = new Map<string, { totals: Counters; sub: Sub<Counters> }>();

  init(id: string, sub: Sub<Counters>, totals: Counters): void {
    this.#values.set(id, { totals: { ...totals }, sub });
  }

  forget(id: string): void {
    this.#values.delete(id);
  }

  get(id: string): Counters {
    const entry = this.#values.get(id);
    return entry === undefined ? zero() : { ...entry.totals };
  }

  /** The op that writes the current totals (a copy: values are encoded when the batch is written, later). */
  persist(id: string): Op {
    const entry = this.#values.get(id);
    if (entry === undefined) throw new Error(`no counters for target ${id}`);
    return put(entry.sub, COUNTERS_KEY, { ...entry.totals });
  }

  /** Applies `delta` now and returns the op persisting the new totals: queue its batch in this same tick. */
  bump(id: string, delta: Counters, tally: Tally): Op {
    const entry = this.#values.get(id);
    if (entry === undefined) throw new Error(`no counters for target ${id}`);
    add(entry.totals, delta, 1);
    tally.push([id, delta]);
    return this.persist(id);
  }

  /**
   * Reverts a failed batch's deltas; returns the ops re-persisting the totals, since a later batch queued before
   * the failure was known may have written totals that counted them.
   */
  undo(tally: Tally): Op[] {
    const ids = new Set<string>();
    for (const [id, delta] of tally) {
      const entry = this.#values.get(id);
      if (entry === undefined) continue;
      add(entry.totals, delta, -1);
      ids.add(id);
    }
    tally.length = 0;
    return [...ids].map((id) => this.persist(id));
  }
}

function add(totals: Counters, delta: Counters, sign: 1 | -1): void {
  totals.depth += sign * delta.depth;
  totals.bytes += sign * delta.bytes;
  totals.failed += sign * delta.failed;
}
