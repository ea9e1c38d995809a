// Object bytes on disk: durable writes (file fsync + dir fsync, published by the metadata commit), pinned reads, deferred unlinks.
import { close as fsClose, closeSync, constants, open as fsOpen, read as fsRead, rename as fsRename, writev as fsWritev } from 'node:fs';
import { open, readdir, rm, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fromFsError, S3Error } from '../s3/errors.ts';
import type { ByteRange } from './types.ts';
import { FreeSpace } from './free-space.ts';
import { makeDirsSync } from '../make-dirs.ts';
import { releaseBuffer } from '../release-buffer.ts';
import { isFileId, newFileId, SHARD_COUNT, shardName } from './keys.ts';

/** A piece of an object: a data file and its length. A single PUT has one, a multipart object one per part. */
export type Segment = [fileId: string, size: number];

export interface WrittenFile {
  /** Absent for an empty body: no file is made for zero bytes. */
  fileId?: string;
  size: number;
}

const READ_CHUNK = 128 * 1024;
const WRITE_BATCH = 256 * 1024;
/**
 * A body that fits one batch is written once, with O_DSYNC: the write returns durable (POSIX synchronized I/O
 * data integrity completion, as write + fdatasync), which saves a round trip to the I/O threads per small PUT.
 */
const SMALL_FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC;
// Consecutive files go to the same shard so that concurrent writers share one directory fsync.
const FILES_PER_SHARD_RUN = 32;

export class DataFiles {
  readonly #dataRoot: string;
  readonly #tmpRoot: string;
  readonly #log: (msg: string) => void;
  readonly #dirs = new Map<string, DirSync>();
  readonly #pins = new Map<string, number>();
  readonly #doomed = new Set<string>();
  readonly #pending = new Set<Promise<void>>();
  readonly #space: FreeSpace;
  #cursor = Math.floor(Math.random() * SHARD_COUNT * FILES_PER_SHARD_RUN);
  /** Called once a released file is gone, to drop its gc entry. */
  onUnlinked: (fileId: string) => Promise<void> = async () => {};

  /** `reserve`: bytes of the filesystem that data writes leave free for the metadata (free-space.ts). */
  constructor(dataDir: string, log: (msg: string) => void, reserve = 0) {
    this.#dataRoot = join(dataDir, 'data');
    this.#tmpRoot = join(dataDir, 'tmp');
    this.#log = log;
    this.#space = new FreeSpace(dataDir, reserve);
  }

  /** Creates tmp/ and every shard directory up front, so a write never needs a mkdir. */
  async prepare(): Promise<void> {
    makeDirsSync(this.#tmpRoot);
    makeDirsSync(this.#dataRoot);
    for (let i = 0; i < SHARD_COUNT; i++) makeDirsSync(join(this.#dataRoot, shardName(i)));
  }

  path(fileId: string): string {
    // Concatenation, not path.join: the roots are normalized already and this runs for every request.
    return `${this.#dataRoot}/${fileId.slice(0, 2)}/${fileId}`;
  }

  /**
   * Streams a body (or writes one already in memory) into a new data file and makes it durable; on any error removes
   * it and throws an S3Error.
   * The bytes go to tmp/ first, are made durable there, then renamed into their shard of data/ and the shard
   * directory is fsynced: a crash mid-write leaves only a temp file (tmp/ is emptied at every start), and only
   * the metadata commit that follows publishes the file (Arsenal lib/storage/data/file/DataFileStore.js).
   * `size` (the body's declared length, when known) is checked against the free space first. With `disposable`,
   * each chunk's memory is freed once written (IncomingBody.disposable).
   */
  async write(body: Readable | Buffer[], size?: number, disposable = false): Promise<WrittenFile> {
    const reservation = await this.#space.admit(size ?? 0);
    try {
      // A body of unknown length (a form upload sent chunked) is held to the reserve batch by batch.
      return await this.#write(body, size === undefined ? reservation.grow : undefined, disposable);
    } finally {
      reservation.release();
    }
  }

  async #write(body: Readable | Buffer[], grow: ((bytes: number) => Promise<void>) | undefined, disposable: boolean): Promise<WrittenFile> {
    const fileId = newFileId(Math.floor(this.#cursor++ / FILES_PER_SHARD_RUN));
    const tmpPath = `${this.#tmpRoot}/${fileId}`;
    const dir = this.#dirSync(fileId.slice(0, 2));
    let fh: FileHandle | undefined;
    let created = false;
    let renamed = false;
    let size = 0;
    // One write in flight while the next batch is read from the body: disk and network overlap,
    // and at most two batches are held in memory.
    let writing: Promise<void> | undefined;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const create = async (flags: string | number): Promise<FileHandle> => {
      const handle = await open(tmpPath, flags);
      created = true;
      return handle;
    };
    // Between reads nothing listens: an error then must not go uncaught (nextChunk finds it in body.errored).
    // It stays: a destroyed stream may still emit its 'error' after write() has given up on it.
    if (!Array.isArray(body)) body.on('error', ignore);
    try {
      if (Array.isArray(body)) {
        // Already in memory (a small body read whole): one batch.
        for (const chunk of body) batchBytes += chunk.length;
        batch = body;
        size = batchBytes;
      } else {
        for (;;) {
          const chunk = await nextChunk(body);
          if (chunk === null) break;
          const bytes: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          if (bytes.length === 0) continue;
          batch.push(bytes);
          batchBytes += bytes.length;
          size += bytes.length;
          if (batchBytes < WRITE_BATCH) continue;
          await grow?.(batchBytes);
          fh ??= await create('wx');
          await writing;
          writing = writeAll(fh, batch, disposable);
          writing.catch(() => {});
          batch = [];
          batchBytes = 0;
        }
      }
      await writing;
      if (batchBytes > 0) await grow?.(batchBytes);
      if (fh === undefined) {
        if (batchBytes === 0) return { size: 0 };
        await this.#writeSmall(tmpPath, batch, batchBytes, () => (created = true));
      } else {
        if (batchBytes > 0) await writeAll(fh, batch, disposable);
        await fh.datasync();
        const closing = fh;
        fh = undefined;
        await closing.close();
      }
      await renameFile(tmpPath, this.path(fileId));
      renamed = true;
      // The rename is durable once the shard directory is; concurrent writers share one fsync.
      await dir.sync();
      return { fileId, size };
    } catch (err) {
      await writing?.catch(() => {});
      await fh?.close().catch(() => {});
      if (renamed) await this.discard(fileId);
      else if (created) await unlink(tmpPath).catch(() => {});
      throw fromFsError(err);
    }
  }

  /**
   * A body that fits one batch: one O_DSYNC write, durable when it returns, with no separate fdatasync round trip.
   * Plain fds and callbacks: FileHandle promises cost ~10 KB of garbage and a thread hop more per small PUT.
   */
  async #writeSmall(tmpPath: string, batch: Buffer[], bytes: number, onCreated: () => void): Promise<void> {
    const fd = await new Promise<number>((resolve, reject) => fsOpen(tmpPath, SMALL_FILE_FLAGS, 0o666, (err, n) => (err === null ? resolve(n) : reject(err))));
    onCreated();
    try {
      let done = await writevFd(fd, batch);
      // A short write is legal: finish it from the flattened rest.
      if (done < bytes) {
        const flat = Buffer.concat(batch);
        while (done < bytes) {
          const more = await writevFd(fd, [flat.subarray(done)]);
          if (more === 0) throw new Error('the data file takes no more bytes');
          done += more;
        }
      }
    } finally {
      // close(2) of a file written with O_DSYNC does no I/O: not worth a trip to the thread pool.
      closeSync(fd);
    }
  }

  /** Removes a file that no metadata ever referenced (its commit failed). */
  async discard(fileId: string): Promise<void> {
    await unlink(this.path(fileId)).catch((err: unknown) => this.#log(`could not remove uncommitted file ${fileId}: ${String(err)}`));
  }

  pin(fileIds: Iterable<string>): void {
    for (const id of fileIds) this.#pins.set(id, (this.#pins.get(id) ?? 0) + 1);
  }

  unpin(fileIds: Iterable<string>): void {
    for (const id of fileIds) {
      const left = (this.#pins.get(id) ?? 1) - 1;
      if (left > 0) {
        this.#pins.set(id, left);
        continue;
      }
      this.#pins.delete(id);
      if (this.#doomed.delete(id)) this.#unlink(id);
    }
  }

  /** Files no metadata references any more: unlinked now, or when the last reader holding them closes. */
  release(fileIds: Iterable<string>): void {
    for (const id of fileIds) {
      if (this.#pins.has(id)) this.#doomed.add(id);
      else this.#unlink(id);
    }
  }

  /** Streams `range` of the segments, then calls `onClose` once (on end, error or destroy). */
  open(segments: Segment[], range: ByteRange | undefined, onClose: () => void): Readable {
    const total = segments.reduce((sum, [, size]) => sum + size, 0);
    const start = range?.start ?? 0;
    const end = range === undefined ? total : range.end + 1;
    if (start < 0 || end > total || (range !== undefined && start >= end)) {
      onClose();
      throw new S3Error('InvalidRange');
    }
    const pieces: Piece[] = [];
    let offset = 0;
    for (const [fileId, size] of segments) {
      const from = Math.max(start, offset);
      const to = Math.min(end, offset + size);
      if (from < to) pieces.push({ path: this.path(fileId), pos: from - offset, end: to - offset });
      offset += size;
    }
    return new SegmentStream(pieces, onClose);
  }

  /** Removes every leftover temp file: none of them was ever published. */
  async emptyTmp(): Promise<number> {
    const names = await readdir(this.#tmpRoot);
    for (const name of names) await rm(join(this.#tmpRoot, name), { recursive: true, force: true });
    return names.length;
  }

  /** Every data file id, one shard at a time (used only after an unclean shutdown). Stray names are removed. */
  async *shards(): AsyncGenerator<string[]> {
    for (let i = 0; i < SHARD_COUNT; i++) {
      const dir = join(this.#dataRoot, shardName(i));
      const ids: string[] = [];
      for (const name of await readdir(dir)) {
        if (isFileId(name) && name.startsWith(shardName(i))) ids.push(name);
        else await rm(join(dir, name), { recursive: true, force: true });
      }
      yield ids;
    }
  }

  /** Unlinks a file now (startup sweeps; no reader can hold it yet). */
  async remove(fileId: string): Promise<void> {
    await unlink(this.path(fileId)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    });
  }

  /** Waits for unlinks in progress, then closes the directory handles. */
  async close(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    await Promise.allSettled([...this.#dirs.values()].map((dir) => dir.close()));
    this.#dirs.clear();
  }

  #unlink(fileId: string): void {
    const task = this.remove(fileId)
      .then(() => this.onUnlinked(fileId))
      .catch((err: unknown) => this.#log(`could not remove freed file ${fileId}: ${String(err)}`))
      .finally(() => this.#pending.delete(task));
    this.#pending.add(task);
  }

  #dirSync(shard: string): DirSync {
    let dir = this.#dirs.get(shard);
    if (dir === undefined) {
      dir = new DirSync(join(this.#dataRoot, shard));
      this.#dirs.set(shard, dir);
    }
    return dir;
  }
}

/** writev, resumed after a short write (possible when the disk fills up). */
async function writeAll(fh: FileHandle, buffers: Buffer[], dispose = false): Promise<void> {
  const total = buffers.reduce((sum, b) => sum + b.length, 0);
  const { bytesWritten } = await fh.writev(buffers);
  if (bytesWritten < total) {
    const rest = Buffer.concat(buffers).subarray(bytesWritten);
    for (let done = 0; done < rest.length;) {
      const { bytesWritten: more } = await fh.write(rest, done, rest.length - done);
      done += more;
    }
  }
  // A disposable body's chunks are done with: free them now (release-buffer.ts).
  if (dispose) for (const b of buffers) releaseBuffer(b);
}

/**
 * fsync of one directory, coalesced: an fsync covers every entry created before it started,
 * so callers arriving while one runs share the single next one.
 */
class DirSync {
  readonly #path: string;
  #handle: Promise<FileHandle> | undefined;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  sync(): Promise<void> {
    if (this.#running === undefined) return this.#start();
    this.#next ??= this.#running.catch(() => {}).then(() => {
      this.#next = undefined;
      return this.#start();
    });
    return this.#next;
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle !== undefined) await (await handle).close();
  }

  #start(): Promise<void> {
    const run: Promise<void> = this.#fsync().finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  async #fsync(): Promise<void> {
    this.#handle ??= open(this.#path, 'r');
    const handle = this.#handle;
    try {
      await (await handle).sync();
    } catch (err) {
      if (this.#handle === handle) this.#handle = undefined;
      throw err;
    }
  }
}

interface Piece {
  path: string;
  /** Next byte to read within the file. */
  pos: number;
  /** Byte after the last one to read. */
  end: number;
}

/**
 * Reads pieces of data files in order, one open file at a time. Plain fds and callbacks rather than FileHandle
 * promises: a small GET is one open, one read and one close, and the promise machinery was most of its cost.
 */
class SegmentStream extends Readable {
  /** Every chunk is a fresh Buffer of its own: the reply frees each once the socket has it (reply.ts). */
  readonly disposableChunks = true as const;
  readonly #pieces: Piece[];
  readonly #onClose: () => void;
  #index = 0;
  #fd: number | undefined;
  /** A read is in flight on #fd: closing must wait for it, or the number could be reused under it. */
  #reading = false;
  #closeWhenIdle: (() => void) | undefined;

  constructor(pieces: Piece[], onClose: () => void) {
    super({ highWaterMark: READ_CHUNK });
    this.#pieces = pieces;
    this.#onClose = onClose;
  }

  override _read(): void {
    const piece = this.#pieces[this.#index];
    if (piece === undefined) {
      this.push(null);
      return;
    }
    if (this.#fd !== undefined) {
      this.#readFrom(piece, this.#fd);
      return;
    }
    this.#reading = true;
    fsOpen(piece.path, 'r', (err, fd) => {
      this.#reading = false;
      if (err !== null) {
        this.#idle();
        this.destroy(fromFsError(err));
        return;
      }
      this.#fd = fd;
      if (this.#idle()) return;
      this.#readFrom(piece, fd);
    });
  }

  #readFrom(piece: Piece, fd: number): void {
    const want = Math.min(READ_CHUNK, piece.end - piece.pos);
    const buffer = Buffer.allocUnsafe(want);
    this.#reading = true;
    fsRead(fd, buffer, 0, want, piece.pos, (err, bytesRead) => {
      this.#reading = false;
      if (this.#idle()) return;
      if (err !== null) {
        this.destroy(fromFsError(err));
        return;
      }
      if (bytesRead === 0) {
        this.destroy(fromFsError(new Error(`data file ${piece.path} is shorter than its metadata says`)));
        return;
      }
      piece.pos += bytesRead;
      const chunk = bytesRead === want ? buffer : buffer.subarray(0, bytesRead);
      if (piece.pos < piece.end) {
        this.push(chunk);
        return;
      }
      // The piece is done: its file closes now, and after the last piece the end goes out with the bytes.
      this.#fd = undefined;
      this.#index++;
      fsClose(fd, ignore);
      this.push(chunk);
      if (this.#index >= this.#pieces.length) this.push(null);
    });
  }

  /** After an fs callback: if the stream was destroyed meanwhile, finish the deferred close and say so. */
  #idle(): boolean {
    const close = this.#closeWhenIdle;
    if (close === undefined) return false;
    this.#closeWhenIdle = undefined;
    close();
    return true;
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#onClose();
    const close = (): void => {
      const fd = this.#fd;
      this.#fd = undefined;
      if (fd === undefined) callback(err);
      else fsClose(fd, () => callback(err));
    };
    if (this.#reading) this.#closeWhenIdle = close;
    else close();
  }
}

function ignore(): void {}

/** The next chunk of a paused stream, null at its end: lighter per small body than an async iterator. */
function nextChunk(body: Readable): Promise<Buffer | null> {
  const chunk = body.read() as Buffer | null;
  if (chunk !== null) return Promise.resolve(chunk);
  if (body.readableEnded) return Promise.resolve(null);
  if (body.errored !== null) return Promise.reject(body.errored);
  if (body.destroyed) return Promise.reject(new Error('the body stream was closed before its end'));
  return new Promise((resolve, reject) => {
    const settle = (): void => {
      body.off('readable', onReadable);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onReadable = (): void => {
      const next = body.read() as Buffer | null;
      if (next === null && !body.readableEnded) return;
      settle();
      resolve(next);
    };
    const onEnd = (): void => { settle(); resolve(null); };
    const onError = (err: Error): void => { settle(); reject(err); };
    const onClose = (): void => { settle(); reject(body.errored ?? new Error('the body stream was closed before its end')); };
    body.on('readable', onReadable);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

function writevFd(fd: number, buffers: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => fsWritev(fd, buffers, (err, n) => (err === null ? resolve(n) : reject(err))));
}

function renameFile(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => fsRename(from, to, (err) => (err === null ? resolve() : reject(err))));
}
