// One target's queue state in LevelDB: what each sublevel holds, and the key encodings.
import type { ObjectRecord, Sub } from '../store/core.ts';
import type { Counters } from './counters.ts';
import type { TargetRecord } from './targets.ts';

export interface PendingEntry {
  seq: number;
  /** When the change committed (ms): the lag of the oldest entry is the target's lag. */
  at: number;
  /** Bytes the change will send (0 for a delete); absent only in entries written before the counters existed. */
  size?: number;
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
  /** key -> its latest change not yet upstream. */
  pending: Sub<PendingEntry>;
  /** seqKey -> key: the work in commit order, one entry per pending key. */
  queue: Sub<string>;
  /** key -> why the upstream refused it for good. */
  failed: Sub<FailedEntry>;
  /** key -> progress of its upstream multipart upload. */
  uploads: Sub<UpstreamUpload>;
  /** key -> the version an archive target keeps of a key deleted here before it was sent (retained.ts). */
  retained: Sub<ObjectRecord>;
  /** 'counters' -> the queue's totals (counters.ts). */
  meta: Sub<Counters>;
}

/** Fixed width so LevelDB's byte order is numeric order. */
export function seqKey(seq: number): string {
  return seq.toString().padStart(16, '0');
}

export function matches(target: TargetRecord, key: string): boolean {
  return key.startsWith(target.prefix);
}
