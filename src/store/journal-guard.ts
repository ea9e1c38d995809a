// Stops metadata writes after LevelDB fails to append to its write-ahead log, until the log has been rotated.
// A failed append can leave a torn record, and LevelDB's log writer carries on as if the whole record had landed:
// every later record of that log file is then misaligned, and replaying the log at the next start drops them, so
// writes acknowledged after the failure would be lost. Rotating the log (a memtable flush, which compactRange
// forces) writes the memtable, which holds every acknowledged write, to a table and starts a fresh log.
import { S3Error } from '../s3/errors.ts';
import type { Ballast } from './ballast.ts';
import { freeBytes } from './free-space.ts';

/** How often a broken journal tries to heal. */
const RETRY_MS = 2_000;
/**
 * Margin on top of the memtable's size (its arena, already more than the table a flush writes) for the new log
 * file and the MANIFEST record.
 */
const FLUSH_MARGIN = 256 * 1024;

export interface JournalOptions {
  /** The filesystem to watch for free space. */
  dir: string;
  /** The memtable's size in bytes: what a flush writes, at most. */
  memtableBytes: () => number;
  /** Rotates the log: resolves once a fresh log is in use. */
  rotate: () => Promise<void>;
  /** Released when the disk has no room for the rotation, rebuilt later. */
  ballast: Ballast;
  log: (msg: string) => void;
}

/** LevelDB's I/O errors (classic-level's LEVEL_IO_ERROR) and corruption: anything else is not the log's state. */
export function isJournalFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'LEVEL_IO_ERROR' || code === 'LEVEL_CORRUPTION';
}

/** ENOSPC or EDQUOT as LevelDB words them in its I/O errors. */
export function isNoSpace(err: unknown): boolean {
  return /No space left on device|Disk quota exceeded/i.test(String((err as Error | undefined)?.message ?? err));
}

export class JournalGuard {
  readonly #o: JournalOptions;
  #broken: S3Error | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #attempts = 0;

  constructor(options: JournalOptions) {
    this.#o = options;
  }

  /** The error every write gets while the journal is broken. */
  get broken(): S3Error | undefined {
    return this.#broken;
  }

  /** Records a failed LevelDB write; returns the S3 error for the requests it failed. */
  fail(cause: unknown): S3Error {
    const err = isNoSpace(cause)
      ? new S3Error('InsufficientStorage', { message: 'Not enough free disk space for the metadata journal; free some space.', cause })
      : new S3Error('ServiceUnavailable', { message: 'The metadata journal cannot be written; writes are refused until it can.', cause });
    if (this.#broken === undefined) {
      this.#broken = err;
      this.#o.log(`metadata journal write failed (${String((cause as Error)?.message ?? cause)}): refusing writes until the journal is rotated; reads go on`);
      this.#schedule();
    }
    return err;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#o.ballast.stop();
  }

  async #releaseBallast(): Promise<boolean> {
    if (!(await this.#o.ballast.release())) return false;
    if (!this.#stopped) this.#o.ballast.restoreLater();
    return true;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#heal(), RETRY_MS);
    this.#timer.unref();
  }

  async #heal(): Promise<void> {
    try {
      // A flush that runs out of space too would leave LevelDB refusing writes until a restart: wait for room,
      // making it from the ballast if need be.
      const needed = this.#o.memtableBytes() + FLUSH_MARGIN;
      const free = () => freeBytes(this.#o.dir);
      if ((await free()) < needed && (!(await this.#releaseBallast()) || (await free()) < needed)) return this.#schedule();
      await this.#o.rotate();
      this.#broken = undefined;
      this.#attempts = 0;
      this.#o.log('metadata journal rotated: writes resume');
    } catch (err) {
      // A flush that failed too leaves LevelDB refusing every write: only a restart (a reopen) clears that.
      if (this.#attempts++ % 30 === 0) {
        this.#o.log(`metadata journal still failing (${String((err as Error)?.message ?? err)}); if this persists, restart ferry`);
      }
      this.#schedule();
    }
  }
}
