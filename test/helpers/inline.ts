// What a stopped ferry keeps inline (small objects' bytes in its metadata database, src/store/core.ts INLINE_MAX_BYTES).
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';

/** Count and total size of the inline values in a data dir; ferry must be stopped (LevelDB takes a lock). */
export async function inlineBlobs(dataDir: string): Promise<{ count: number; bytes: number }> {
  const db = new ClassicLevel<string, unknown>(join(dataDir, 'meta'), { createIfMissing: false });
  try {
    let count = 0;
    let bytes = 0;
    for await (const value of db.sublevel<string, Buffer>('inline', { valueEncoding: 'buffer' }).values()) {
      count++;
      bytes += value.length;
    }
    return { count, bytes };
  } finally {
    await db.close();
  }
}
