// Crash recovery at open: empty tmp/, finish pending unlinks, drop unreferenced data files, abort stale uploads.
import { del } from './core.ts';
import type { StoreCore } from './core.ts';
import type { Multipart } from './multipart.ts';
import { fileOf } from './files.ts';

export interface RecoveryOptions {
  /** The previous run closed cleanly: no data file can be unreferenced, so data/ is not walked. */
  clean: boolean;
  /** A brand-new data dir: nothing to recover, nothing worth logging. */
  fresh?: boolean;
  /** Uploads initiated before this instant (ms) are aborted. */
  staleBefore: number;
}

/**
 * The data files of one shard the index lists, whole or by a blob of a shared file (files.ts writeShared): one
 * range read per shard.
 */
async function indexedFilesOfShard(core: StoreCore, shard: string): Promise<Set<string>> {
  const files = new Set<string>();
  // File ids are lower-case hex: 'g' sorts after every key of the shard.
  for await (const key of core.filesIndex.keys({ gte: shard, lt: `${shard}g` })) files.add(fileOf(key));
  return files;
}

export async function recover(core: StoreCore, multipart: Multipart, options: RecoveryOptions): Promise<void> {
  for await (const [name, record] of core.buckets.iterator()) core.bucketCache.set(name, record);

  const temps = await core.files.emptyTmp();

  // Files whose metadata was replaced or deleted before the last stop but not yet unlinked.
  const freed = await core.gc.keys().all();
  for (const fileId of freed) await core.files.remove(fileId);
  if (freed.length > 0) await core.commit(freed.map((fileId) => del(core.gc, fileId)));

  // After a crash, a file may have been renamed into data/ whose metadata never committed.
  let orphans = 0;
  if (!options.clean) {
    for await (const ids of core.files.shards()) {
      if (ids.length === 0) continue;
      const live = await indexedFilesOfShard(core, ids[0]!.slice(0, 2));
      for (const id of ids) {
        if (live.has(id)) continue;
        await core.files.remove(id);
        orphans++;
      }
    }
  }

  const stale = await multipart.abortStale(options.staleBefore);
  // Quiet on a routine start; after a crash (or when anything was cleaned) say what recovery did.
  if ((!options.clean && !options.fresh) || temps + freed.length + orphans + stale > 0) {
    core.log(`recovery${options.clean ? '' : ' after an unclean shutdown'}: removed ${temps} temp files, `
      + `${freed.length} freed files, ${orphans} orphan files; aborted ${stale} stale uploads`);
  }
}
