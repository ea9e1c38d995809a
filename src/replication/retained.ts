// Archive mode's retained versions: an object deleted here before an archive target sent it keeps its record (under
// the target's `retained/<key>`) and its data files until the worker has uploaded it; then the files go through gc.
import { objectInfo } from '../store/core.ts';
import type { ObjectMutation, ObjectRecord, StoreCore } from '../store/core.ts';
import type { ByteRange, ObjectReader } from '../store/types.ts';

export function fileIds(record: ObjectRecord): string[] {
  return record.segments.map(([id]) => id);
}

/** The files of `released` that none of `kept` still references (several archive targets may hold one version). */
export function unreferenced(released: ObjectRecord[], kept: ObjectRecord[]): string[] {
  const held = new Set(kept.flatMap(fileIds));
  return [...new Set(released.flatMap(fileIds))].filter((id) => !held.has(id));
}

/**
 * Takes `ids` back from a mutation's frees: their index entries stay (so the startup orphan sweep keeps the files)
 * and no gc entry is written, all in the delete's own batch.
 */
export function keepFiles(core: StoreCore, mutation: ObjectMutation<unknown>, ids: Set<string>): void {
  mutation.freed = mutation.freed.filter((id) => !ids.has(id));
  mutation.ops = mutation.ops.filter((op) => {
    const key = typeof op.key === 'string' ? op.key : '';
    if (op.sublevel === core.gc && ids.has(key)) return false;
    return !(op.type === 'del' && op.sublevel === core.filesIndex && ids.has(key));
  });
}

/**
 * A reader over a retained version whose files the caller has pinned (under the key's lock, where the version is
 * also freed, so it cannot vanish between the read and the pin).
 */
export function retainedReader(core: StoreCore, key: string, record: ObjectRecord): ObjectReader {
  const ids = fileIds(record);
  let pinned = true;
  let opened = false;
  const release = (): void => {
    if (!pinned) return;
    pinned = false;
    core.files.unpin(ids);
  };
  return {
    info: objectInfo(key, record),
    stream(range?: ByteRange) {
      if (opened) throw new Error('ObjectReader.stream() may be called once, and not after close()');
      opened = true;
      return core.files.open(record.segments, range, release);
    },
    close() {
      if (opened) return;
      opened = true;
      release();
    },
  };
}
