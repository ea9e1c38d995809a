// Keeps data writes from eating the last free space of the data dir's filesystem: the metadata journal needs it.
// LevelDB's write-ahead log cannot take ENOSPC safely (a torn append misaligns every later record of that log,
// which a restart then drops), and a full disk would also refuse the deletes that free it.
import { statfs } from 'node:fs/promises';
import { fromFsError, S3Error } from '../s3/errors.ts';

/** Free bytes on `dir`'s filesystem. bavail: what an unprivileged writer may still use (root's reserved blocks are not ours to count on). */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** A cached statfs is trusted this long; a refusal always re-reads first. */
const FRESH_MS = 500;

export interface Reservation {
  /** Promises `bytes` more, or throws InsufficientStorage. */
  grow(bytes: number): Promise<void>;
  release(): void;
}

export class FreeSpace {
  readonly #dir: string;
  readonly #reserve: number;
  /** Bytes promised to bodies still being written, on top of what statfs already counts as used. */
  #promised = 0;
  #free = Number.POSITIVE_INFINITY;
  #readAt = Number.NEGATIVE_INFINITY;

  /** `reserve`: bytes data writes must leave free (0 turns the check off). */
  constructor(dir: string, reserve: number) {
    this.#dir = dir;
    this.#reserve = reserve;
  }

  /**
   * Promises `size` bytes to a body about to be written, or refuses with InsufficientStorage when that would leave
   * less than the reserve (counting bodies still being written). A body of unknown length starts at 0 and grows
   * its reservation as its bytes arrive. Release once the body is on disk or abandoned.
   */
  async admit(size: number): Promise<Reservation> {
    let held = 0;
    let released = false;
    const grow = async (bytes: number): Promise<void> => {
      if (this.#reserve === 0) return;
      if (!this.#fits(bytes) || performance.now() - this.#readAt > FRESH_MS) await this.#read();
      if (!this.#fits(bytes)) {
        throw new S3Error('InsufficientStorage', {
          message: `Not enough free disk space to store the object: ferry keeps ${this.#reserve} bytes free for its metadata.`,
        });
      }
      this.#promised += bytes;
      held += bytes;
    };
    await grow(size);
    return {
      grow,
      release: () => {
        if (released) return;
        released = true;
        this.#promised -= held;
        // The bytes now count in statfs's figure (or were never written): until the next read, assume the former.
        this.#free -= held;
      },
    };
  }

  #fits(size: number): boolean {
    return this.#free - this.#promised - size >= this.#reserve;
  }

  async #read(): Promise<void> {
    this.#free = await freeBytes(this.#dir).catch((err: unknown) => {
      throw fromFsError(err);
    });
    this.#readAt = performance.now();
  }
}
