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
import { FILE_ID_LENGTH, isFileId, newFileId, SHARD_COUNT, shardName } from './keys.ts';

/**
 * A piece of an object: its bytes' id and length. A single PUT has one, a multipart object one per part. The id is a
 * data file's (keys.ts newFileId), or "<file id>:<hex offset>" for a small body sharing a file with others written
 * at the same moment (writeShared): the same id goes into the files index, gc entries and pins.
 */
export type Segment = [blobId: string, size: number];

/** Bodies up to this size, written at the same moment, share one data file and its one flush (writeShared). */
export const SHARED_MAX_BYTES = 16 * 1024;
/** What one shared file takes at most: one O_DSYNC write (WRITE_BATCH), and dead bytes a survivor can keep alive. */
const SHARED_FILE_BYTES = 128 * 1024;
const SHARED_FILE_MEMBERS = 64;

/** The data file a blob id lives in. */
export function fileOf(blobId: string): string {
  return blobId.length === FILE_ID_LENGTH ? blobId : blobId.slice(0, FILE_ID_LENGTH);
}

function offsetOf(blobId: string): number {
  return blobId.length === FILE_ID_LENGTH ? 0 : Number.parseInt(blobId.slice(FILE_ID_LENGTH + 1), 16);
}

function isShared(blobId: string): boolean {
  return blobId.length > FILE_ID_LENGTH;
}

interface SharedWrite {
  chunks: Buffer[];
  size: number;
  resolve: (written: WrittenFile) => void;
  reject: (err: unknown) => void;
}

/** A shared file whose members' commits have not all settled: it must not be judged unreferenced yet. */
interface OpenGroup {
  unsettled: number;
  /** A member failed: whether the file is still referenced must be checked once all have settled. */
  recheck: boolean;
  /** Members freed meanwhile: they keep their gc entries until then, so a failed check is redone at startup. */
  freed: string[];
}

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
  /** Readers per data file (not per blob: a shared file stays while any of its blobs is being read). */
  readonly #pins = new Map<string, number>();
  /** Freed blobs waiting for their file's readers to finish. */
  readonly #doomed = new Map<string, string[]>();
  readonly #sharedQueue: SharedWrite[] = [];
  #sharedWriting = false;
  readonly #groups = new Map<string, OpenGroup>();
  readonly #pending = new Set<Promise<void>>();
  readonly #space: FreeSpace;
  #cursor = Math.floor(Math.random() * SHARD_COUNT * FILES_PER_SHARD_RUN);
  /** Called once a released file is gone, to drop its gc entry. */
  onUnlinked: (fileId: string) => Promise<void> = async () => {};
  /**
   * Whether the files index still lists a blob of this shared file, once metadata reads in flight have pinned what
   * they found; set by the store core, which owns the index and those reads.
   */
  sharedRefs: (fileId: string) => Promise<boolean> = async () => true;

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
    return `${this.#dataRoot}/${fileId.slice(0, 2)}/${fileOf(fileId)}`;
  }

  /**
   * A small body, written durably into one data file together with the other small bodies that arrive while the
   * previous such file is being written: one file, one O_DSYNC write and one directory fsync for all of them,
   * where each on its own costs a PUT three flushes in sequence. A body alone gets a file of its own (a plain id).
   * The caller must settle() the returned id once its commit succeeded or failed (discard() settles too).
   */
  writeShared(chunks: Buffer[], size: number): Promise<WrittenFile> {
    return new Promise((resolve, reject) => {
      this.#sharedQueue.push({ chunks, size, resolve, reject });
      if (!this.#sharedWriting) void this.#writeSharedQueue();
    });
  }

  async #writeSharedQueue(): Promise<void> {
    this.#sharedWriting = true;
    while (this.#sharedQueue.length > 0) {
      let bytes = 0;
      let count = 0;
      for (const member of this.#sharedQueue) {
        if (count === SHARED_FILE_MEMBERS || (count > 0 && bytes + member.size > SHARED_FILE_BYTES)) break;
        bytes += member.size;
        count++;
      }
      const group = this.#sharedQueue.splice(0, count);
      try {
        const { fileId } = await this.write(group.flatMap((member) => member.chunks), bytes);
        if (fileId === undefined) throw new Error('a shared write of small bodies made no file');
        if (group.length === 1) {
          group[0]!.resolve({ fileId, size: bytes });
          continue;
        }
        this.#groups.set(fileId, { unsettled: group.length, recheck: false, freed: [] });
        let offset = 0;
        for (const member of group) {
          member.resolve({ fileId: `${fileId}:${offset.toString(16)}`, size: member.size });
          offset += member.size;
        }
      } catch (err) {
        for (const member of group) member.reject(err);
      }
    }
    this.#sharedWriting = false;
  }

  /** A blob from writeShared is committed (or failed, `committed` false): once all its file's blobs are, the file can go. */
  settle(blobId: string, committed = true): void {
    if (!isShared(blobId)) return;
    const fileId = fileOf(blobId);
    const group = this.#groups.get(fileId);
    if (group === undefined) return;
    if (!committed) group.recheck = true;
    if (--group.unsettled > 0) return;
    this.#groups.delete(fileId);
    for (const blobId of group.freed) this.#unlink(blobId);
    // Any member's id names the file: remove() checks the whole file (a failed member has no gc entry to drop).
    if (group.recheck && group.freed.length === 0) this.#unlink(`${fileId}:0`, false);
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
    // Other bodies share the file: it goes once none of them is referenced.
    if (isShared(fileId)) return this.settle(fileId, false);
    await unlink(this.path(fileId)).catch((err: unknown) => this.#log(`could not remove uncommitted file ${fileId}: ${String(err)}`));
  }

  pin(blobIds: Iterable<string>): void {
    for (const blobId of blobIds) {
      const id = fileOf(blobId);
      this.#pins.set(id, (this.#pins.get(id) ?? 0) + 1);
    }
  }

  unpin(blobIds: Iterable<string>): void {
    for (const blobId of blobIds) {
      const id = fileOf(blobId);
      const left = (this.#pins.get(id) ?? 1) - 1;
      if (left > 0) {
        this.#pins.set(id, left);
        continue;
      }
      this.#pins.delete(id);
      const doomed = this.#doomed.get(id);
      this.#doomed.delete(id);
      for (const blob of doomed ?? []) this.#unlink(blob);
    }
  }

  #doom(blobId: string): void {
    const id = fileOf(blobId);
    const doomed = this.#doomed.get(id);
    if (doomed === undefined) this.#doomed.set(id, [blobId]);
    else doomed.push(blobId);
  }

  /** Files no metadata references any more: unlinked now, or when the last reader holding them closes. */
  release(blobIds: Iterable<string>): void {
    for (const id of blobIds) {
      if (this.#pins.has(fileOf(id))) this.#doom(id);
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
      const at = offsetOf(fileId) - offset;
      if (from < to) pieces.push({ path: this.path(fileId), pos: at + from, end: at + to });
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

  /**
   * Frees a blob no metadata references any more: its file is unlinked, or for a shared file, once no blob of it is
   * referenced, written but unsettled, or being read. False when readers hold the file: unpin() tries again.
   * Startup sweeps call it directly (no reader can hold a file yet).
   */
  async remove(blobId: string): Promise<boolean> {
    const fileId = fileOf(blobId);
    if (isShared(blobId)) {
      const group = this.#groups.get(fileId);
      if (group !== undefined) {
        // settle() frees it again once the last member's commit is done.
        group.freed.push(blobId);
        return false;
      }
      // sharedRefs also waits for metadata reads in flight, which pin what they found: a reader of a neighbour
      // that has read its record but not pinned yet keeps the file (checked just below).
      if (await this.sharedRefs(fileId)) return true;
      if (this.#pins.has(fileId)) {
        this.#doom(blobId);
        return false;
      }
    }
    await unlink(this.path(fileId)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    });
    return true;
  }

  /** Waits for unlinks in progress, then closes the directory handles. */
  async close(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    await Promise.allSettled([...this.#dirs.values()].map((dir) => dir.close()));
    this.#dirs.clear();
  }

  /** Frees a blob in the background; its gc entry goes once that is done (`gcEntry` false: it has none). */
  #unlink(blobId: string, gcEntry = true): void {
    const task = this.remove(blobId)
      .then((done) => (done && gcEntry ? this.onUnlinked(blobId) : undefined))
      .catch((err: unknown) => this.#log(`could not remove freed file ${fileOf(blobId)}: ${String(err)}`))
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

/** A small stream's chunks, read to its end; more than `limit` bytes is an error (its producer checks sizes first). */
export async function readWhole(body: Readable, limit: number): Promise<Buffer[]> {
  body.on('error', ignore);
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = await nextChunk(body).catch((err: unknown) => {
      throw fromFsError(err);
    });
    if (chunk === null) return chunks;
    const bytes: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += bytes.length;
    if (total > limit) {
      body.destroy();
      throw new S3Error('InternalError', { message: `the body is longer than the ${limit} bytes it declared` });
    }
    chunks.push(bytes);
  }
}

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
