// A file of real, allocated bytes kept in the data dir for one emergency: when something else has filled the disk,
// LevelDB cannot rotate its journal or even open without room for one table. Deleting the ballast gives it that
// room (the same trick as CockroachDB's ballast file). Rebuilt once the disk has space again.
import { randomFillSync } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { freeBytes } from './free-space.ts';

const NAME = 'ballast';
// Below malloc's mmap threshold: a 1 MiB buffer raised that threshold and left ~0.3 MB in the heap after start-up.
const CHUNK = 64 * 1024;
/** How often a missing ballast tries to come back. */
const RETRY_MS = 30_000;

export class Ballast {
  readonly #dir: string;
  readonly #path: string;
  readonly #size: number;
  readonly #log: (msg: string) => void;
  #retry: NodeJS.Timeout | undefined;

  /** `size` 0: no ballast. */
  constructor(dir: string, size: number, log: (msg: string) => void) {
    this.#dir = dir;
    this.#path = join(dir, NAME);
    this.#size = size;
    this.#log = log;
  }

  /**
   * Creates the ballast (random bytes written and synced: a sparse file, or zeros on a compressing filesystem such
   * as ZFS or btrfs with compression, would reserve nothing) when it is missing or short
   * and the disk can spare it twice over; true once it is in place. Never throws: without a ballast ferry runs,
   * with less to fall back on.
   */
  async ensure(): Promise<boolean> {
    if (this.#size === 0) return true;
    let fh;
    try {
      fh = await open(this.#path, 'a+');
      const have = (await fh.stat()).size;
      if (have >= this.#size) return true;
      if ((await freeBytes(this.#dir)) < 2 * (this.#size - have)) return false;
      const chunk = Buffer.allocUnsafe(CHUNK);
      for (let at = have; at < this.#size; at += CHUNK) await fh.write(randomFillSync(chunk), 0, Math.min(CHUNK, this.#size - at));
      await fh.sync();
      return true;
    } catch (err) {
      this.#log(`could not set aside the ${this.#size}-byte ballast file (${(err as Error).message}); continuing without it`);
      await fh?.close().catch(() => {});
      fh = undefined;
      await unlink(this.#path).catch(() => {});
      return false;
    } finally {
      await fh?.close().catch(() => {});
    }
  }

  /** Retries ensure() every 30 s until the ballast is in place (after a release, or a start on a tight disk). */
  restoreLater(): void {
    if (this.#size === 0 || this.#retry !== undefined) return;
    this.#retry = setInterval(() => {
      void this.ensure().then((placed) => {
        if (placed) this.stop();
      });
    }, RETRY_MS);
    this.#retry.unref();
  }

  stop(): void {
    clearInterval(this.#retry);
    this.#retry = undefined;
  }

  /** Deletes the ballast; true when that freed space. */
  async release(): Promise<boolean> {
    if (this.#size === 0) return false;
    try {
      await unlink(this.#path);
      this.#log(`released the ${this.#size}-byte ballast file to give the metadata room`);
      return true;
    } catch {
      return false;
    }
  }
}
