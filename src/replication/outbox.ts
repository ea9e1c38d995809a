// The replication outbox: targets and per-target queues in LevelDB, written in the same batch as the object change.
//
// State-based: `pending/<key>` -> {seq, at} says "this key changed and is not upstream yet"; `queue/<seq>` -> key
// orders the work. A newer change of the same key only rewrites `pending` and adds a newer queue entry; the older
// queue entry goes stale (its seq no longer matches) and the worker drops it. So per-key order and coalescing come
// from reading the key's CURRENT object when its turn comes, and the commit hook stays synchronous.
import type { ObjectChange, Op, StoreCore, Sub } from '../store/core.ts';
import { del, put } from '../store/core.ts';
import type { ReplicationStatus } from '../store/types.ts';
import type { TargetRecord } from './targets.ts';

export interface PendingEntry {
  seq: number;
  /** When the change committed (ms): the lag of the oldest entry is the target's lag. */
  at: number;
}

export interface FailedEntry {
  at: number;
  error: string;
}

/** Persisted progress of an upstream multipart upload, so a restart resumes it. */
export interface UpstreamUpload {
  uploadId: string;
  /** The local ETag the parts were cut from: another ETag means the object changed and the upload restarts. */
  sourceEtag: string;
  partSize: number;
  parts: Array<{ partNumber: number; etag: string }>;
}

export interface QueueEntry {
  seqKey: string;
  seq: number;
  key: string;
}

export interface TargetQueue {
  pending: Sub<PendingEntry>;
  queue: Sub<string>;
  failed: Sub<FailedEntry>;
  uploads: Sub<UpstreamUpload>;
}

/** Fixed width so LevelDB's byte order is numeric order. */
export function seqKey(seq: number): string {
  return seq.toString().padStart(16, '0');
}

export function matches(target: TargetRecord, key: string): boolean {
  return key.startsWith(target.prefix);
}

export class Outbox {
  readonly core: StoreCore;
  readonly #targets: Sub<TargetRecord>;
  readonly #byId = new Map<string, TargetRecord>();
  readonly #queues = new Map<string, TargetQueue>();
  #seq = 0;
  /** Called after a change for these targets is durable. */
  onQueued: (targetIds: string[]) => void = () => {};

  constructor(core: StoreCore) {
    this.core = core;
    this.#targets = core.db.sublevel<string, TargetRecord>(['replication', 'targets'], { valueEncoding: 'json' });
  }

  /** Loads targets and the highest seq ever handed out (seqs only grow, so a restart continues above it). */
  async load(): Promise<void> {
    for await (const [id, record] of this.#targets.iterator()) {
      this.#byId.set(id, record);
      const [last] = await this.queueOf(id).queue.keys({ reverse: true, limit: 1 }).all();
      if (last !== undefined) this.#seq = Math.max(this.#seq, Number(last));
    }
    this.core.beforeCommit = (ops, change) => this.#record(ops, change);
    this.core.afterCommit = (change) => {
      const ids = this.targetsOf(change.bucket).filter((t) => matches(t, change.key)).map((t) => t.id);
      if (ids.length > 0) this.onQueued(ids);
    };
    this.core.replicationStatus = (bucket, key) => this.status(bucket, key);
  }

  targets(): TargetRecord[] {
    return [...this.#byId.values()];
  }

  target(id: string): TargetRecord | undefined {
    return this.#byId.get(id);
  }

  targetsOf(bucket: string): TargetRecord[] {
    return this.targets().filter((t) => t.bucket === bucket);
  }

  queueOf(id: string): TargetQueue {
    let queue = this.#queues.get(id);
    if (queue === undefined) {
      const sub = <V>(name: string) => this.core.db.sublevel<string, V>(['outbox', id, name], { valueEncoding: 'json' });
      queue = { pending: sub('pending'), queue: sub('queue'), failed: sub('failed'), uploads: sub('uploads') };
      this.#queues.set(id, queue);
    }
    return queue;
  }

  /** Synchronous on purpose: it runs inside the commit, adding the outbox ops to the object's own batch. */
  #record(ops: Op[], change: ObjectChange): void {
    const at = Date.now();
    for (const target of this.#byId.values()) {
      if (target.bucket !== change.bucket || !matches(target, change.key)) continue;
      ops.push(...this.#enqueueOps(target.id, change.key, at));
    }
  }

  #enqueueOps(targetId: string, key: string, at: number): Op[] {
    const seq = ++this.#seq;
    const queue = this.queueOf(targetId);
    return [put(queue.pending, key, { seq, at }), put(queue.queue, seqKey(seq), key), del(queue.failed, key)];
  }

  async addTarget(record: TargetRecord): Promise<void> {
    await this.core.commit([put(this.#targets, record.id, record)]);
    this.#byId.set(record.id, record);
  }

  /** Forgets the target and its queue state (upstream uploads it left are the caller's to abort first). */
  async removeTarget(id: string): Promise<void> {
    await this.core.commit([del(this.#targets, id)]);
    this.#byId.delete(id);
    const queue = this.queueOf(id);
    for (const sub of [queue.pending, queue.queue, queue.failed, queue.uploads]) {
      await sub.clear();
      await sub.close();
    }
    this.#queues.delete(id);
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

  /**
   * Ends an entry after an attempt: under the key's lock (writes take it too), removes pending + queue only if no
   * newer change arrived meanwhile; a stale queue entry is always dropped. `failed` records a permanent failure.
   */
  async settle(target: TargetRecord, entry: QueueEntry, failed?: string): Promise<void> {
    const queue = this.queueOf(target.id);
    await this.core.keyLocks.with(`${target.bucket}/${entry.key}`, async () => {
      const pending = await queue.pending.get(entry.key);
      const ops: Op[] = [del(queue.queue, entry.seqKey)];
      if (pending?.seq === entry.seq) {
        ops.push(del(queue.pending, entry.key));
        ops.push(failed === undefined ? del(queue.failed, entry.key) : put(queue.failed, entry.key, { at: Date.now(), error: failed }));
      }
      await this.core.commit(ops);
    });
  }

  /** Queues a key that exists already (resync); the lock orders it against a concurrent write or settle. */
  async enqueueExisting(target: TargetRecord, key: string): Promise<void> {
    await this.core.keyLocks.with(`${target.bucket}/${key}`, () => this.core.commit(this.#enqueueOps(target.id, key, Date.now())));
  }

  async status(bucket: string, key: string): Promise<ReplicationStatus | undefined> {
    const targets = this.targetsOf(bucket).filter((t) => matches(t, key));
    if (targets.length === 0) return undefined;
    let failed = false;
    for (const target of targets) {
      const queue = this.queueOf(target.id);
      if ((await queue.pending.get(key)) !== undefined) return 'PENDING';
      if ((await queue.failed.get(key)) !== undefined) failed = true;
    }
    return failed ? 'FAILED' : 'COMPLETED';
  }

  /** Depth, bytes and lag by walking `pending` once: linear in the queue, meant for the admin status call. */
  async stats(target: TargetRecord): Promise<{ depth: number; bytesPending: number; oldestAt?: number; failed: number }> {
    const queue = this.queueOf(target.id);
    const objects = this.core.objectsOf(target.bucket);
    let depth = 0;
    let bytesPending = 0;
    let oldestAt: number | undefined;
    let keys: string[] = [];
    const flush = async () => {
      for (const record of await objects.getMany(keys)) bytesPending += record?.size ?? 0;
      keys = [];
    };
    for await (const [key, entry] of queue.pending.iterator()) {
      depth++;
      if (oldestAt === undefined || entry.at < oldestAt) oldestAt = entry.at;
      keys.push(key);
      if (keys.length >= 1000) await flush();
    }
    await flush();
    let failed = 0;
    for await (const _ of queue.failed.keys()) failed++;
    return { depth, bytesPending, failed, ...(oldestAt !== undefined ? { oldestAt } : {}) };
  }
}
