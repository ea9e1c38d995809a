// Upstream multipart uploads with persisted progress (upload id, parts done, their ETags): a dropped link or a restart
// resumes at the first missing part; a changed local object or a vanished upstream upload starts over.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { del, put } from '../store/core.ts';
import type { ObjectInfo, ObjectReader } from '../store/types.ts';
import type { Outbox } from './outbox.ts';
import type { UpstreamUpload } from './queue.ts';
import type { TargetRecord } from './targets.ts';
import { classify, errorCode } from './upstream.ts';
import type { Upstream } from './upstream.ts';

/** A failure the worker retries whatever the upstream said (the upload must restart, or the worker is stopping). */
export class RetryLater extends Error {}

/** Not a failure: the upload stopped between parts (window closed, worker stopping); its progress is kept. */
export class Paused extends Error {}

export interface UploadContext {
  target: TargetRecord;
  outbox: Outbox;
  upstream: Upstream;
  /** Wraps a part for sending (bandwidth cap). */
  body(part: Buffer): Readable;
  /** Why no further part may start now (the window closed, the worker stops), or undefined to go on. */
  halted(): string | undefined;
  onPart(): void;
}

export function md5Base64(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

/**
 * Parts go one after another, each recorded durably once the upstream has it, so a dropped link or a restart
 * resumes at the first missing part. A changed local object (other ETag) aborts the old upload and starts again.
 */
export async function putMultipart(ctx: UploadContext, reader: ObjectReader): Promise<void> {
  const info = reader.info;
  const uploads = ctx.outbox.queueOf(ctx.target.id).uploads;
  const core = ctx.outbox.core;
  let progress = await uploads.get(info.key);
  if (progress !== undefined && progress.sourceEtag !== info.etag) {
    await abortQuietly(ctx.upstream, info.key, progress);
    await core.commit([del(uploads, info.key)]);
    progress = undefined;
  }
  if (progress === undefined) {
    const uploadId = await ctx.upstream.createMultipart(info);
    progress = { uploadId, sourceEtag: info.etag, partSize: ctx.target.partSize, parts: [] };
    await core.commit([put(uploads, info.key, progress)]);
  }
  const done = progress.parts.length * progress.partSize;
  const total = Math.ceil(info.size / progress.partSize);
  // Every part may be upstream already (a crash between the last part and the completion).
  if (done < info.size) {
    const stream = reader.stream({ start: done, end: info.size - 1 });
    const cut = parts(stream, progress.partSize);
    try {
      let partNumber = progress.parts.length + 1;
      // The next part is read from disk while this one uploads (at most two parts in memory per upload).
      let next = cut.next();
      next.catch(() => {});
      for (;;) {
        const { value: part, done: end } = await next;
        if (end) break;
        next = cut.next();
        next.catch(() => {});
        // Checked between parts: the part in flight finishes and is recorded, the next waits for the window.
        const halted = ctx.halted();
        if (halted !== undefined) throw new Paused(halted);
        const etag = await uploadPart(ctx, info, progress, partNumber, part);
        progress.parts.push({ partNumber, etag });
        await core.commit([put(uploads, info.key, progress)]);
        ctx.onPart();
        partNumber++;
      }
    } finally {
      stream.destroy();
    }
  }
  if (progress.parts.length !== total) throw new RetryLater(`read ${progress.parts.length} of ${total} parts`);
  try {
    await ctx.upstream.completeMultipart(info.key, progress.uploadId, progress.parts);
  } catch (err) {
    if (errorCode(err) === 'NoSuchUpload') await restartUpload(ctx, info.key, err);
    throw err;
  }
  await core.commit([del(uploads, info.key)]);
}

async function uploadPart(ctx: UploadContext, info: ObjectInfo, progress: UpstreamUpload, partNumber: number, part: Buffer): Promise<string> {
  try {
    return await ctx.upstream.uploadPart(info.key, progress.uploadId, partNumber, ctx.body(part), part.length, md5Base64(part));
  } catch (err) {
    // The upstream forgot the upload (aborted, expired by a lifecycle rule): start over on the next attempt.
    if (errorCode(err) === 'NoSuchUpload') await restartUpload(ctx, info.key, err);
    throw err;
  }
}

async function restartUpload(ctx: UploadContext, key: string, cause: unknown): Promise<never> {
  await ctx.outbox.core.commit([del(ctx.outbox.queueOf(ctx.target.id).uploads, key)]);
  throw new RetryLater('the upstream upload vanished; restarting it', { cause });
}

/** An upload the upstream no longer knows (or refuses to abort) is as good as aborted. */
async function abortQuietly(upstream: Upstream, key: string, progress: UpstreamUpload): Promise<void> {
  try {
    await upstream.abortMultipart(key, progress.uploadId);
  } catch (err) {
    if (classify(err) !== 'permanent') throw err;
  }
}

/** The key is gone locally: its unfinished upstream upload is abandoned. */
export async function dropUpload(ctx: UploadContext, key: string): Promise<void> {
  const uploads = ctx.outbox.queueOf(ctx.target.id).uploads;
  const progress = await uploads.get(key);
  if (progress === undefined) return;
  await abortQuietly(ctx.upstream, key, progress);
  await ctx.outbox.core.commit([del(uploads, key)]);
}

/** Uploads whose key has nothing pending any more are aborted upstream; false when the link failed meanwhile. */
export async function sweepUploads(ctx: UploadContext): Promise<boolean> {
  const queue = ctx.outbox.queueOf(ctx.target.id);
  try {
    for await (const [key, progress] of queue.uploads.iterator()) {
      if ((await queue.pending.get(key)) !== undefined) continue;
      await abortQuietly(ctx.upstream, key, progress);
      await ctx.outbox.core.commit([del(queue.uploads, key)]);
    }
    return true;
  } catch {
    return false;
  }
}

/** Cuts a stream into `size`-byte buffers (the last one shorter). */
async function* parts(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    let data = chunk as Buffer;
    while (length + data.length >= size) {
      const take = size - length;
      chunks.push(data.subarray(0, take));
      yield Buffer.concat(chunks);
      chunks = [];
      length = 0;
      data = data.subarray(take);
    }
    if (data.length > 0) {
      chunks.push(data);
      length += data.length;
    }
  }
  if (length > 0) yield Buffer.concat(chunks);
}
