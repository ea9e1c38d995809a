// Helpers for the store tests: request bodies from Buffers, reading readers, counting data files, bounded waits.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openStore } from '../../src/store/level-store.ts';
import type { StoreOptions } from '../../src/store/level-store.ts';
import type { ByteRange, CompletePlanner, ObjectMeta, Store, StreamedBody } from '../../src/store/types.ts';

export const META: ObjectMeta = { headers: { contentType: 'application/octet-stream' }, userMeta: {}, tags: [] };

export function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** A verified body as the S3 layer hands it over; `chunkSize` splits it into several stream chunks. */
export function bodyOf(bytes: Buffer | string, chunkSize = 64 * 1024): StreamedBody {
  const buffer = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const chunks: Buffer[] = [];
  for (let at = 0; at < buffer.length; at += chunkSize) chunks.push(buffer.subarray(at, at + chunkSize));
  let ended = false;
  const stream = Readable.from(chunks).on('end', () => { ended = true; });
  return {
    stream,
    abort: (err) => stream.destroy(err),
    digest() {
      if (!ended) throw new Error('digest() before the end of the body');
      return { md5: md5(buffer), size: buffer.length };
    },
  };
}

/** A body that yields `prefix` and then fails the way the S3 layer's verifiers do. */
export function failingBody(prefix: Buffer, error: Error): StreamedBody {
  async function* chunks(): AsyncGenerator<Buffer> {
    yield prefix;
    throw error;
  }
  const stream = Readable.from(chunks());
  return { stream, abort: (err) => stream.destroy(err), digest: () => { throw new Error('digest() of a failed body'); } };
}

/** A body whose end the test controls: `push` bytes, then `end()` or `fail(err)`. */
export function controlledBody(): StreamedBody & { push(bytes: Buffer): void; end(): void; fail(err: Error): void } {
  const parts: Buffer[] = [];
  const stream = new Readable({ read() {} });
  let ended = false;
  stream.on('end', () => { ended = true; });
  return {
    stream,
    abort: (err) => stream.destroy(err),
    digest() {
      if (!ended) throw new Error('digest() before the end of the body');
      const all = Buffer.concat(parts);
      return { md5: md5(all), size: all.length };
    },
    push(bytes) {
      parts.push(bytes);
      stream.push(bytes);
    },
    end() {
      stream.push(null);
    },
    fail(err) {
      stream.destroy(err);
    },
  };
}

export async function readAll(store: Store, bucket: string, key: string, range?: ByteRange): Promise<Buffer> {
  const reader = await store.getObject(bucket, key);
  return collect(reader.stream(range));
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Names of the files under data/ shards and under tmp/. */
export async function diskFiles(dataDir: string): Promise<{ data: string[]; tmp: string[] }> {
  const data: string[] = [];
  for (const shard of await readdir(join(dataDir, 'data'))) {
    for (const name of await readdir(join(dataDir, 'data', shard))) data.push(`${shard}/${name}`);
  }
  return { data, tmp: await readdir(join(dataDir, 'tmp')) };
}

/** Polls `check` until it holds, for at most `ms`. */
export async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function dataFileCount(dataDir: string): Promise<number> {
  return (await diskFiles(dataDir)).data.length;
}

/** Accepts every stored part in order, as a permissive S3 layer would. */
export const takeAllParts: CompletePlanner = (stored) => ({ parts: stored, etag: `${md5(Buffer.from(stored.map((p) => p.etag).join('')))}-${stored.length}` });

/** A fresh temp dir per test file, removed in `after`. */
export class TempDirs {
  readonly #dirs: string[] = [];

  async make(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-store-'));
    this.#dirs.push(dir);
    return dir;
  }

  async open(options: Partial<StoreOptions> = {}): Promise<{ store: Store; dataDir: string }> {
    const dataDir = options.dataDir ?? await this.make();
    return { store: await openStore({ ...options, dataDir }), dataDir };
  }

  async removeAll(): Promise<void> {
    await Promise.all(this.#dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

/** Runs `tasks` with at most `limit` in flight. */
export async function inPool<T>(items: T[], limit: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await task(items[next++] as T);
  }));
}
