// The replication outbox: targets and per-target queues in LevelDB, written in the same batch as the object change.
//
// State-based: `pending/<key>` -> {seq, at, size} says "this key changed and is not upstream yet"; `queue/<seq>` -> key
// orders the work. A newer change of the same key rewrites `pending`, adds a newer queue entry and drops the older
// one in the same batch, so the queue holds one entry per pending key and its first entry is the oldest change.
// Per-key order and coalescing come from reading the key's CURRENT object when its turn comes. Archive targets
// keep a version deleted before they sent it (retained.ts); `meta/counters` holds the queue totals (counters.ts).
import type { CommitHook, ObjectMutation, ObjectRecord, Op, StoreCore, Sub } from '../store/core.ts';
import { del, put } from '../store/core.ts';
import type { ObjectReader, ReplicationStatus } from '../store/types.ts';
import { COUNTERS_KEY, CounterBook, zero } from './counters.ts';
import type { Counters, Tally } from './counters.ts';
import type { PendingEntry, QueueEntry, TargetQueue } from './queue.ts';
import { matches, seqKey } from './queue.ts';
import { buildCounters, oldestPendingAt, walkCounters } from './queue-stats.ts';
import { fileIds, keepFiles, retainedReader, unreferenced } from './retained.ts';
import type { TargetRecord } from './targets.ts';

/** What a commit needs to know of one target's state for the key, read before it under the key's lock. */
interface KeyState {
  pending?: PendingEntry;
  failed: boolean;
}

function lockOf(target: TargetRecord, key: string): string {
  return `${target.bucket}/${key}`;
}

/**
 * Whether an object modified at `lastModified` went through the target's queue: changed after the target was
 * added, or covered by a finished resync. Live replication skips objects that predate the configuration
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html).
 */
function covered(target: TargetRecord, lastModified: number): boolean {
  return lastModified > target.created || (target.resyncedAt !== undefined && lastModified <= target.resyncedAt);
}

export class Outbox {
  readonly core: StoreCore;
  readonly #targets: Sub<TargetRecord>;
  readonly #byId = new Map<string, TargetRecord>();
  readonly #queues = new Map<string, TargetQueue>();
  readonly #counters = new CounterBook();
  #seq = 0;
  /** Called after a change for these targets is durable. */
  onQueued: (targetIds: string[]) => void = () => {};
  /** Called once a bucket's deletion is durable, with the targets that now drain. */
  onDraining: (targets: TargetRecord[]) => void = () => {};

  constructor(core: StoreCore) {
    this.core = core;
    this.#targets = core.db.sublevel<string, TargetRecord>(['replication', 'targets'], { valueEncoding: 'json' });
  }

  /** Loads targets, their counters and the highest seq ever handed out (seqs only grow); finishes interrupted removals. */
  async load(): Promise<void> {
    const removing: TargetRecord[] = [];
    for await (const [id, record] of this.#targets.iterator()) {
      const queue = this.queueOf(id);
      const [last] = await queue.queue.keys({ reverse: true, limit: 1 }).all();
      if (last !== undefined) this.#seq = Math.max(this.#seq, Number(last));
      if (record.removing) {
        removing.push(record);
        continue;
      }
      this.#byId.set(id, record);
      const stored = await queue.meta.get(COUNTERS_KEY);
      this.#counters.init(id, queue.meta, stored ?? await buildCounters(this.core, record, queue));
    }
    // Once every live target is known: a file another target still retains must not be freed.
    for (const record of removing) await this.#finishRemoval(record);
    this.core.prepareCommit = (bucket, key) => this.#prepare(bucket, key);
    this.core.afterCommit = (change) => {
      const ids = this.targetsOf(change.bucket).filter((t) => matches(t, change.key)).map((t) => t.id);
      if (ids.length > 0) this.onQueued(ids);
    };
    this.core.beforeDeleteBucket = (bucket, ops) => this.#drainTargetsOf(bucket, ops);
    this.core.replicationStatus = (bucket, key) => this.status(bucket, key);
  }

  targets(): TargetRecord[] {
    return [...this.#byId.values()];
  }

  target(id: string): TargetRecord | undefined {
    return this.#byId.get(id);
  }

  /** The bucket's live targets: a draining one belongs to a deleted bucket, not to a re-created one of that name. */
  targetsOf(bucket: string): TargetRecord[] {
    return this.targets().filter((t) => t.bucket === bucket && t.draining === undefined);
  }

  queueOf(id: string): TargetQueue {
    let queue = this.#queues.get(id);
    if (queue === undefined) {
      const sub = <V>(name: string) => this.core.db.sublevel<string, V>(['outbox', id, name], { valueEncoding: 'json' });
      queue = {
        pending: sub('pending'), queue: sub('queue'), failed: sub('failed'), uploads: sub('uploads'), retained: sub('retained'), meta: sub('meta'),
      };
      this.#queues.set(id, queue);
    }
    return queue;
  }

  /** The counters by a full walk of the queue: linear, to check the kept ones. */
  walk(id: string): Promise<Counters> {
    return walkCounters(this.queueOf(id));
  }

  /** Queue depth, bytes pending and failed keys: O(1), kept in memory and persisted with every change. */
  counters(id: string): Counters {
    return this.#counters.get(id);
  }

  /**
   * Under the key's lock, before the mutation is built: reads what its commit step needs. Without targets there
   * is nothing to read, but the step still runs: a target added meanwhile must get the change.
   */
  /** At once, without reads, when no live target covers the key (its hook still sees a target added meanwhile). */
  #prepare(bucket: string, key: string): Promise<CommitHook> | CommitHook {
    const live: TargetRecord[] = [];
    const archive: TargetRecord[] = [];
    for (const target of this.#byId.values()) {
      if (target.bucket !== bucket || !matches(target, key)) continue;
      if (target.draining === undefined) live.push(target);
      if (target.mode === 'archive') archive.push(target);
    }
    if (live.length === 0) return this.#recordFresh;
    return this.#prepareLive(key, live, archive);
  }

  async #prepareLive(key: string, live: TargetRecord[], archive: TargetRecord[]): Promise<CommitHook> {
    const [states, held] = await Promise.all([
      Promise.all(live.map(async (t) => [t.id, await this.#keyState(t, key)] as const)),
      Promise.all(archive.map(async (t) => ({ target: t, record: await this.queueOf(t.id).retained.get(key) }))),
    ]);
    const byId = new Map<string, KeyState>(states);
    return (mutation, previous) => this.#record(mutation, previous, byId, held);
  }

  readonly #recordFresh: CommitHook = (mutation, previous) => this.#record(mutation, previous, new Map(), []);

  async #keyState(target: TargetRecord, key: string): Promise<KeyState> {
    const queue = this.queueOf(target.id);
    const [pending, failed] = await Promise.all([queue.pending.get(key), queue.failed.get(key)]);
    return { pending, failed: failed !== undefined };
  }

  /**
   * Synchronous on purpose: it runs right before the batch is queued, so seqs and counter totals follow commit
   * order. A target added since #prepare has nothing for the key yet (the key's lock is held throughout).
   */
  #record(
    mutation: ObjectMutation<unknown>, previous: ObjectRecord | undefined, states: Map<string, KeyState>,
    held: Array<{ target: TargetRecord; record: ObjectRecord | undefined }>,
  ): () => void {
    const change = mutation.change!;
    const key = change.key;
    const at = Date.now();
    const tally: Tally = [];
    const kept = new Set<string>();
    for (const target of this.targetsOf(change.bucket)) {
      if (!matches(target, key)) continue;
      const state = states.get(target.id) ?? { failed: false };
      if (change.kind === 'delete' && target.mode === 'archive') {
        // Deletes stay local, but a version the archive has not received must still reach it: keep it for the
        // target (a refused one too, so that a resync can send it once the upstream takes it).
        if ((state.pending !== undefined || state.failed) && previous !== undefined) {
          mutation.ops.push(put(this.queueOf(target.id).retained, key, previous));
          for (const id of fileIds(previous)) kept.add(id);
        }
        continue;
      }
      const size = change.kind === 'put' ? change.record.size : 0;
      mutation.ops.push(...this.#enqueueOps(target, key, at, size, state, tally));
    }
    if (change.kind === 'put') {
      // A newer put supersedes the versions live archive targets kept: only the latest bytes must go.
      const released = held.filter((h) => h.record !== undefined && h.target.draining === undefined && this.#byId.has(h.target.id));
      if (released.length > 0) {
        for (const h of released) mutation.ops.push(del(this.queueOf(h.target.id).retained, key));
        const others = held.filter((h) => !released.includes(h)).flatMap((h) => (h.record === undefined ? [] : [h.record]));
        const freed = unreferenced(released.map((h) => h.record!), others);
        mutation.ops.push(...this.core.freeOps(freed));
        mutation.freed.push(...freed);
      }
    }
    if (kept.size > 0) keepFiles(this.core, mutation, kept);
    return () => this.#undo(tally);
  }

  #enqueueOps(target: TargetRecord, key: string, at: number, size: number, state: KeyState, tally: Tally): Op[] {
    const seq = ++this.#seq;
    const queue = this.queueOf(target.id);
    const ops: Op[] = [put(queue.pending, key, { seq, at, size }), put(queue.queue, seqKey(seq), key)];
    if (state.pending !== undefined) ops.push(del(queue.queue, seqKey(state.pending.seq)));
    if (state.failed) ops.push(del(queue.failed, key));
    const delta = { depth: state.pending === undefined ? 1 : 0, bytes: size - (state.pending?.size ?? 0), failed: state.failed ? -1 : 0 };
    ops.push(this.#counters.bump(target.id, delta, tally));
    return ops;
  }

  /** Commits outbox ops whose counter deltas are in `tally` (bumped in this same tick). */
  async #commit(ops: Op[], tally: Tally): Promise<void> {
    try {
      await this.core.commit(ops);
    } catch (err) {
      this.#undo(tally);
      throw err;
    }
  }

  #undo(tally: Tally): void {
    const ops = this.#counters.undo(tally);
    if (ops.length > 0) void this.core.commit(ops).catch((err: unknown) => this.core.log(`replication: could not rewrite queue counters: ${String(err)}`));
  }

  /** DeleteBucket's batch marks the bucket's targets draining; in memory once it is durable. */
  #drainTargetsOf(bucket: string, ops: Op[]): () => void {
    const targets = this.targetsOf(bucket);
    if (targets.length === 0) return () => {};
    const since = Date.now();
    for (const target of targets) ops.push(put(this.#targets, target.id, { ...target, draining: since }));
    return () => {
      for (const target of targets) target.draining = since;
      this.onDraining(targets);
    };
  }

  /** Under the bucket's shared lock: a DeleteBucket cannot slip between the bucket check and the target's commit. */
  async addTarget(record: TargetRecord): Promise<void> {
    const release = await this.core.bucketLocks.shared(record.bucket);
    try {
      this.core.requireBucket(record.bucket);
      // `created` is taken in the tick the commit hooks start seeing the target: an object modified after it was
      // queued for it (see covered()), and its batch is queued behind the target's own.
      record.created = Date.now();
      this.#byId.set(record.id, record);
      const queue = this.queueOf(record.id);
      this.#counters.init(record.id, queue.meta, zero());
      try {
        await this.core.commit([put(this.#targets, record.id, record), this.#counters.persist(record.id)]);
      } catch (err) {
        this.#byId.delete(record.id);
        this.#counters.forget(record.id);
        throw err;
      }
    } finally {
      release();
    }
  }

  /**
   * Under the bucket's shared lock, so the record written carries a draining mark that a DeleteBucket (which holds
   * the lock exclusively until its mark is also in memory) has set: a resync ending then must not erase it.
   */
  async markResynced(target: TargetRecord, startedAt: number): Promise<void> {
    const release = await this.core.bucketLocks.shared(target.bucket);
    try {
      if (!this.#byId.has(target.id)) return;
      target.resyncedAt = startedAt;
      await this.core.commit([put(this.#targets, target.id, { ...target })]);
    } finally {
      release();
    }
  }

  /**
   * Forgets the target, its queue state and the versions it retained (upstream uploads it left are the caller's to
   * abort first). Marked first: the mark is queued behind every batch that still wrote for the target, and a crash
   * from there on is finished by the next load(), so retained files are always freed.
   */
  async removeTarget(id: string): Promise<void> {
    const target = this.#byId.get(id);
    if (target === undefined) return;
    this.#byId.delete(id);
    try {
      await this.core.commit([put(this.#targets, id, { ...target, removing: true })]);
    } catch (err) {
      // Not marked on disk: the target is still configured, so it must keep seeing changes.
      this.#byId.set(id, target);
      throw err;
    }
    await this.#finishRemoval(target);
  }

  async #clear<V>(sub: Sub<V>): Promise<void> {
    for (;;) {
      const keys = await sub.keys({ limit: 1000 }).all();
      if (keys.length === 0) return;
      await this.core.commit(keys.map((key) => del(sub, key)));
    }
  }

  async #finishRemoval(target: TargetRecord): Promise<void> {
    const queue = this.queueOf(target.id);
    for (;;) {
      const keys = await queue.retained.keys({ limit: 1000 }).all();
      if (keys.length === 0) break;
      for (const key of keys) await this.#release(target, key);
    }
    // Through commit(), not sublevel.clear(): every LevelDB write must pass the journal guard (src/store/journal-guard.ts).
    await this.#clear(queue.pending);
    await this.#clear(queue.queue);
    await this.#clear(queue.failed);
    await this.#clear(queue.uploads);
    await this.#clear(queue.retained);
    await this.#clear(queue.meta);
    const subs = [queue.pending, queue.queue, queue.failed, queue.uploads, queue.retained, queue.meta];
    await this.core.commit([del(this.#targets, target.id)]);
    for (const sub of subs) await sub.close();
    this.#queues.delete(target.id);
    this.#counters.forget(target.id);
  }

  /** Drops one retained version of a removed target, freeing its files unless another target holds them. */
  async #release(target: TargetRecord, key: string): Promise<void> {
    await this.core.keyLocks.with(lockOf(target, key), async () => {
      const queue = this.queueOf(target.id);
      const record = await queue.retained.get(key);
      const freed = record === undefined ? [] : await this.#unheld(target, key, record);
      await this.core.commit([del(queue.retained, key), ...this.core.freeOps(freed)]);
      this.core.free(freed);
    });
  }

  /** The files of `record` no other archive target of the bucket still retains for `key`; call under the key's lock. */
  async #unheld(target: TargetRecord, key: string, record: ObjectRecord): Promise<string[]> {
    const others = this.targets().filter((t) => t.id !== target.id && t.bucket === target.bucket && t.mode === 'archive' && matches(t, key));
    const kept = await Promise.all(others.map((t) => this.queueOf(t.id).retained.get(key)));
    return unreferenced([record], kept.filter((r): r is ObjectRecord => r !== undefined));
  }

  /** The next queue entries after `after` (a seqKey, '' from the start), in seq order; a bounded read. */
  async read(targetId: string, after: string, limit: number): Promise<QueueEntry[]> {
    const entries = await this.queueOf(targetId).queue.iterator({ gt: after, limit }).all();
    return entries.map(([k, key]) => ({ seqKey: k, seq: Number(k), key }));
  }

  /** Whether the queue entry is still the key's latest change (else it is stale and can go). */
  async isCurrent(targetId: string, entry: QueueEntry): Promise<PendingEntry | undefined> {
    const pending = await this.queueOf(targetId).pending.get(entry.key);
    return pending?.seq === entry.seq ? pending : undefined;
  }

  /** The version an archive target kept of a key deleted here, pinned until the reader closes; under the key's lock. */
  async openRetained(target: TargetRecord, key: string): Promise<ObjectReader | undefined> {
    return this.core.keyLocks.with(lockOf(target, key), async () => {
      const record = await this.queueOf(target.id).retained.get(key);
      if (record === undefined) return undefined;
      this.core.files.pin(fileIds(record));
      return retainedReader(this.core, key, record);
    });
  }

  /**
   * Ends an entry after an attempt: under the key's lock (writes take it too), removes pending + queue only if no
   * newer change arrived meanwhile; a stale queue entry is always dropped. `failed` records a permanent failure.
   * A sent retained version is freed; a refused one stays, for a later resync.
   */
  async settle(target: TargetRecord, entry: QueueEntry, failed?: string): Promise<void> {
    const queue = this.queueOf(target.id);
    await this.core.keyLocks.with(lockOf(target, entry.key), async () => {
      const [pending, wasFailed, retained] = await Promise.all([
        queue.pending.get(entry.key),
        queue.failed.get(entry.key),
        failed === undefined && target.mode === 'archive' ? queue.retained.get(entry.key) : undefined,
      ]);
      const current = pending?.seq === entry.seq;
      const freed = current && retained !== undefined ? await this.#unheld(target, entry.key, retained) : [];
      if (!this.#byId.has(target.id)) return;
      const ops: Op[] = [del(queue.queue, entry.seqKey)];
      const tally: Tally = [];
      if (current) {
        ops.push(del(queue.pending, entry.key));
        if (failed !== undefined) ops.push(put(queue.failed, entry.key, { at: Date.now(), error: failed }));
        if (retained !== undefined) ops.push(del(queue.retained, entry.key), ...this.core.freeOps(freed));
        const failedDelta = failed === undefined ? 0 : wasFailed === undefined ? 1 : 0;
        ops.push(this.#counters.bump(target.id, { depth: -1, bytes: -(pending.size ?? 0), failed: failedDelta }, tally));
      }
      await this.#commit(ops, tally);
      this.core.free(freed);
    });
  }

  /**
   * Queues a key as it is now (resync): the current object, or for an archive target the version it retained.
   * The lock orders it against a concurrent write or settle. False when there is nothing to send.
   */
  async enqueueExisting(target: TargetRecord, key: string): Promise<boolean> {
    return this.core.keyLocks.with(lockOf(target, key), async () => {
      const [object, retained, state] = await Promise.all([
        target.draining === undefined ? this.core.objectsOf(target.bucket).get(key) : undefined,
        target.mode === 'archive' ? this.queueOf(target.id).retained.get(key) : undefined,
        this.#keyState(target, key),
      ]);
      const source = object ?? retained;
      if (source === undefined || !this.#byId.has(target.id)) return false;
      const tally: Tally = [];
      await this.#commit(this.#enqueueOps(target, key, Date.now(), source.size, state, tally), tally);
      return true;
    });
  }

  /** Whether the target still keeps a version of a deleted key (one the upstream refused, once its queue is empty). */
  async retainsAny(target: TargetRecord): Promise<boolean> {
    return (await this.queueOf(target.id).retained.keys({ limit: 1 }).all()).length > 0;
  }

  /** Re-queues every version an archive target still retains (ones the upstream refused before); returns how many. */
  async requeueRetained(target: TargetRecord): Promise<number> {
    let count = 0;
    let after: string | undefined;
    for (;;) {
      const keys = await this.queueOf(target.id).retained.keys({ limit: 1000, ...(after !== undefined ? { gt: after } : {}) }).all();
      if (keys.length === 0) return count;
      for (const key of keys) if (await this.enqueueExisting(target, key)) count++;
      after = keys.at(-1);
    }
  }

  /**
   * x-amz-replication-status: PENDING if pending for any target, FAILED if refused by any, COMPLETED if it went
   * through one; no header otherwise, as S3 sends none for objects outside a replication's scope.
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html
   */
  async status(bucket: string, key: string): Promise<ReplicationStatus | undefined> {
    const targets = this.targetsOf(bucket).filter((t) => matches(t, key));
    if (targets.length === 0) return undefined;
    let failed = false;
    for (const target of targets) {
      const state = await this.#keyState(target, key);
      if (state.pending !== undefined) return 'PENDING';
      if (state.failed) failed = true;
    }
    if (failed) return 'FAILED';
    const record = await this.core.objectsOf(bucket).get(key);
    if (record === undefined) return undefined;
    return targets.some((t) => covered(t, record.lastModified)) ? 'COMPLETED' : undefined;
  }

  /** Depth, bytes and failed from the counters, lag from the first queue entry: no walk, whatever the queue holds. */
  async stats(target: TargetRecord): Promise<Counters & { oldestAt?: number }> {
    const counters = this.counters(target.id);
    const oldestAt = counters.depth > 0 ? await oldestPendingAt(this.queueOf(target.id)) : undefined;
    return { ...counters, ...(oldestAt !== undefined ? { oldestAt } : {}) };
  }
}
