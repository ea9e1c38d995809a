// Turns a request body into a verified stream (a small one into verified bytes): aws-chunked decoding, size limits,
// MD5, the requested checksum, SHA-256.
// Checksums: https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
import { createHash, hash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform } from 'node:stream';
import type { Readable, TransformCallback } from 'node:stream';
import type { BodyDigest, ChecksumAlgorithm, IncomingBody, StreamedBody, WholeBody } from '../store/types.ts';
import type { AuthContext } from './auth/index.ts';
import { AwsChunkedDecoder } from './auth/chunked.ts';
import type { ChunkedDecoderOptions } from './auth/chunked.ts';
import { createHasher, isValidChecksumValue, parseChecksumAlgorithm } from './checksums.ts';
import type { Hasher } from './checksums.ts';
import { S3Error, isS3Error } from './errors.ts';
import { OffloadedHashes } from './hash-worker.ts';
import type { OffloadedHash } from './hash-worker.ts';

export interface IngestOptions {
  /** Bodies larger than this fail with EntityTooLarge. */
  maxSize: number;
  /** Refuse a body whose length is not declared up front (MissingContentLength), as PutObject and UploadPart do. */
  requireContentLength?: boolean;
  /** Compute this checksum even when the client sends none (parts of an upload created with an algorithm). */
  computeAlgorithm?: ChecksumAlgorithm;
  /**
   * Hash a large body on a worker thread (hash-worker.ts), the default. Measured with 4 x 64 MiB PUTs on 2 cores:
   * MD5 inline took ~110 ms of the event loop per object and held PUTs to ~0.7x of the plain node:http ceiling.
   */
  hashOffThread?: boolean;
}

const CHECKSUM_PREFIX = 'x-amz-checksum-';
/** x-amz-checksum-* headers that name no checksum value. */
const NOT_CHECKSUM_VALUES = new Set(['x-amz-checksum-type', 'x-amz-checksum-algorithm', 'x-amz-checksum-mode']);
const CONTENT_MD5 = /^[A-Za-z0-9+/]{22}==$/;
/**
 * Plain bodies declared up to this long are read whole, without a stream (WholeBody). Measured on 4 KiB PUTs at
 * concurrency 16: the event loop's CPU per PUT went from ~630 to ~490 us without the Transform, its pipe and the
 * store's reads of it; throughput +19%.
 */
const WHOLE_MAX_BYTES = 64 * 1024;
/** Bodies declared at least this long are hashed on a worker thread; smaller ones inline (a round trip costs more than the hash). */
const OFFLOAD_MIN_BYTES = 1024 * 1024;
/** The checksums a worker computes with built-ins; CRC32C and CRC64NVME are JS in checksums.ts and stay inline. */
const OFFLOADED_CHECKSUM: Partial<Record<ChecksumAlgorithm, OffloadedHash>> = { CRC32: 'crc32', SHA1: 'sha1', SHA256: 'sha256' };

interface ChecksumPlan {
  algorithm: ChecksumAlgorithm;
  /** The header (or trailer) that carries the client's value. */
  name: string;
  /** The value sent in a header; undefined when it comes in the trailer or was not sent at all. */
  expected?: string;
  trailer: boolean;
}

interface IngestPlan {
  declared?: number;
  limit: number;
  limitError: (size: number) => S3Error;
  contentMd5?: string;
  checksum?: ChecksumPlan;
  decoder?: ChunkedDecoderOptions;
  expectedSha256?: string;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

function invalidRequest(message: string): S3Error {
  return new S3Error('InvalidRequest', { message });
}

/**
 * Picks the checksum to compute and, when the client sent one, to verify: one x-amz-checksum-* header, or the
 * trailer x-amz-trailer announces, or just the algorithm x-amz-sdk-checksum-algorithm names.
 */
function planChecksum(ctx: AuthContext, headers: IncomingHttpHeaders, trailerMode: boolean): ChecksumPlan | undefined {
  const sent = new Map<string, string>();
  for (const source of [ctx.queryHeaders, headers]) {
    for (const [name, value] of Object.entries(source)) {
      const lower = name.toLowerCase();
      if (!lower.startsWith(CHECKSUM_PREFIX) || NOT_CHECKSUM_VALUES.has(lower)) continue;
      const text = single(value);
      if (text !== undefined) sent.set(lower, text);
    }
  }
  const candidates: ChecksumPlan[] = [];
  for (const [name, value] of sent) {
    const algorithm = parseChecksumAlgorithm(name.slice(CHECKSUM_PREFIX.length));
    if (algorithm === undefined) throw invalidRequest('The algorithm type you specified in x-amz-checksum- header is invalid.');
    candidates.push({ algorithm, name, expected: value, trailer: false });
  }
  const trailer = single(headers['x-amz-trailer'])?.trim().toLowerCase();
  if (trailer !== undefined && trailer !== '') {
    const algorithm = trailer.startsWith(CHECKSUM_PREFIX) ? parseChecksumAlgorithm(trailer.slice(CHECKSUM_PREFIX.length)) : undefined;
    // Only the aws-chunked *-TRAILER modes have a place to carry a trailer.
    if (algorithm === undefined || !trailerMode) throw invalidRequest('The value specified in the x-amz-trailer header is not supported');
    candidates.push({ algorithm, name: trailer, trailer: true });
  }
  if (candidates.length > 1) {
    throw invalidRequest('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  }
  let chosen = candidates[0];
  const sdk = single(headers['x-amz-sdk-checksum-algorithm']) ?? ctx.queryHeaders['x-amz-sdk-checksum-algorithm'];
  if (sdk !== undefined) {
    const algorithm = parseChecksumAlgorithm(sdk);
    if (algorithm === undefined || (chosen !== undefined && chosen.algorithm !== algorithm)) {
      throw invalidRequest('Value for x-amz-sdk-checksum-algorithm header is invalid.');
    }
    chosen ??= { algorithm, name: CHECKSUM_PREFIX + algorithm.toLowerCase(), trailer: false };
  }
  if (chosen?.expected !== undefined && !isValidChecksumValue(chosen.algorithm, chosen.expected)) {
    throw invalidRequest(`Value for ${chosen.name} header is invalid.`);
  }
  return chosen;
}

/** Everything decidable from the headers alone; throws before a byte of the body is read. */
function plan(
  ctx: AuthContext,
  headers: IncomingHttpHeaders,
  limit: number,
  limitError: (size: number) => S3Error,
  requireLength: boolean,
  computeAlgorithm?: ChecksumAlgorithm,
): IngestPlan {
  const chunked = ctx.payload.startsWith('streaming-');
  const trailerMode = ctx.payload.endsWith('-trailer');
  let declared: number | undefined;
  if (chunked) {
    // aws-chunked bodies must announce their decoded size. https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
    const raw = single(headers['x-amz-decoded-content-length']);
    if (raw === undefined || !/^\d{1,15}$/.test(raw)) throw new S3Error('MissingContentLength');
    declared = Number(raw);
  } else {
    const raw = single(headers['content-length']);
    if (raw !== undefined && /^\d{1,15}$/.test(raw)) declared = Number(raw);
    else if (requireLength) throw new S3Error('MissingContentLength');
  }
  if (declared !== undefined && declared > limit) throw limitError(declared);

  const result: IngestPlan = { limit, limitError };
  if (declared !== undefined) result.declared = declared;
  const md5 = single(headers['content-md5']);
  if (md5 !== undefined) {
    if (!CONTENT_MD5.test(md5)) {
      throw new S3Error('InvalidDigest', { message: 'The Content-MD5 you specified is not valid.', detail: { 'Content-MD5': md5 } });
    }
    result.contentMd5 = md5;
  }
  const checksum = planChecksum(ctx, headers, trailerMode);
  if (checksum !== undefined) {
    if (computeAlgorithm !== undefined && checksum.algorithm !== computeAlgorithm) {
      throw invalidRequest(`Checksum Type mismatch occurred, expected checksum Type: ${computeAlgorithm.toLowerCase()}, actual checksum Type: ${checksum.algorithm.toLowerCase()}`);
    }
    result.checksum = checksum;
  } else if (computeAlgorithm !== undefined) {
    result.checksum = { algorithm: computeAlgorithm, name: CHECKSUM_PREFIX + computeAlgorithm.toLowerCase(), trailer: false };
  }
  if (chunked) {
    const decoder: ChunkedDecoderOptions = { trailers: trailerMode };
    if (ctx.payload !== 'streaming-unsigned-trailer') decoder.signing = ctx.signing;
    if (checksum?.trailer) decoder.expectedTrailer = checksum.name;
    result.decoder = decoder;
  }
  if (ctx.payload === 'signed' && ctx.expectedSha256 !== undefined) result.expectedSha256 = ctx.expectedSha256;
  return result;
}

/** The raw digests of a body, however they were computed. */
interface Digests {
  md5: Buffer;
  sha256?: Buffer;
  checksum?: Buffer;
}

/** Throws once the bytes read so far break the size limit or run past the declared length. */
function checkSize(plan: IngestPlan, size: number): void {
  if (size > plan.limit) throw plan.limitError(size);
  if (plan.declared !== undefined && size > plan.declared) {
    // A plain body cannot run past its Content-Length (node:http stops there): this is an aws-chunked body.
    throw new S3Error('IncompleteBody', { message: 'The decoded body is longer than x-amz-decoded-content-length.' });
  }
}

/** Checks a body's digests against what the request promised (x-amz-content-sha256, Content-MD5, a checksum) and says what to store. */
function checkDigests(plan: IngestPlan, size: number, digests: Digests, trailers: ReadonlyMap<string, string> | undefined): BodyDigest {
  if (digests.sha256 !== undefined) {
    const computed = digests.sha256.toString('hex');
    if (computed !== plan.expectedSha256) {
      throw new S3Error('XAmzContentSHA256Mismatch', {
        detail: { ClientComputedContentSHA256: plan.expectedSha256 ?? '', S3ComputedContentSHA256: computed },
      });
    }
  }
  const md5 = digests.md5;
  if (plan.contentMd5 !== undefined && md5.toString('base64') !== plan.contentMd5) {
    throw new S3Error('BadDigest', {
      message: 'The Content-MD5 you specified did not match what we received.',
      detail: { ExpectedDigest: plan.contentMd5, CalculatedDigest: md5.toString('base64') },
    });
  }
  const digest: BodyDigest = { md5: md5.toString('hex'), size };
  const checksum = plan.checksum;
  if (checksum !== undefined && digests.checksum !== undefined) {
    let expected = checksum.expected;
    if (checksum.trailer) {
      // The decoder has already insisted that the announced trailer arrived.
      expected = trailers?.get(checksum.name);
      if (expected === undefined || !isValidChecksumValue(checksum.algorithm, expected)) {
        throw invalidRequest(`Value for ${checksum.name} trailing header is invalid.`);
      }
    }
    const computed = digests.checksum.toString('base64');
    if (expected !== undefined && computed !== expected) {
      throw new S3Error('BadDigest', { message: `The ${checksum.algorithm} you specified did not match the calculated checksum.` });
    }
    digest.checksum = { algorithm: checksum.algorithm, value: computed };
  }
  return digest;
}

/**
 * One Transform for the whole job: decoding, limits and every hash happen in a single pass over each slice,
 * and every check runs before the stream ends, so a consumer that sees 'end' holds a verified body.
 * Large bodies are hashed on a worker (hash-worker.ts): their bytes flow on once hashed, and the flush waits for the digests.
 */
class IngestStream extends Transform {
  readonly #plan: IngestPlan;
  readonly #decoder: AwsChunkedDecoder | undefined;
  readonly #md5: Hash | undefined;
  readonly #checksum: Hasher | undefined;
  readonly #sha256: Hash | undefined;
  /** What the worker computes, for a large body; its job starts with the first byte (a refused request never starts one). */
  readonly #offloaded: OffloadedHash[] | undefined;
  #offload: OffloadedHashes | undefined;
  /** A chunk's callback, held while the consumer has not taken the bytes the worker handed back. */
  #held: TransformCallback | undefined;
  /** The body's chunks are nobody else's (a node:http request's): they move to the worker uncopied. */
  readonly #mayDetach: boolean;
  /** Whether the worker also computes the checksum (else #checksum does, inline). */
  readonly #offloadChecksum: boolean = false;
  #size = 0;
  #digest: BodyDigest | undefined;

  constructor(plan: IngestPlan, offload: boolean, mayDetach = false) {
    // One chunk per read() on the way out: a byte-mode read() joins every buffered chunk into a new Buffer, a copy
    // of the whole body whenever the consumer lags (and the joined copies are what the store would free).
    super({ readableObjectMode: true, readableHighWaterMark: 4 });
    this.#plan = plan;
    // Decoded slices of an aws-chunked body share their chunk: they are copied.
    this.#mayDetach = mayDetach && plan.decoder === undefined;
    this.#decoder = plan.decoder === undefined ? undefined : new AwsChunkedDecoder(plan.decoder);
    const algorithm = plan.checksum?.algorithm;
    if (offload && plan.declared !== undefined && plan.declared >= OFFLOAD_MIN_BYTES) {
      const names: OffloadedHash[] = ['md5'];
      if (plan.expectedSha256 !== undefined) names.push('sha256');
      const offloaded = algorithm === undefined ? undefined : OFFLOADED_CHECKSUM[algorithm];
      if (offloaded !== undefined) {
        names.push(offloaded);
        this.#offloadChecksum = true;
      } else if (algorithm !== undefined) {
        this.#checksum = createHasher(algorithm);
      }
      this.#offloaded = names;
      return;
    }
    this.#md5 = createHash('md5');
    this.#checksum = algorithm === undefined ? undefined : createHasher(algorithm);
    this.#sha256 = plan.expectedSha256 === undefined ? undefined : createHash('sha256');
  }

  readonly #onData = (slice: Buffer): void => {
    const size = this.#size + slice.length;
    checkSize(this.#plan, size);
    this.#size = size;
    this.#checksum?.update(slice);
    const job = this.#job();
    if (job !== undefined) {
      // The worker hands the bytes back once hashed; they are pushed on then (#job), in order.
      job.update(slice, this.#mayDetach);
      return;
    }
    this.#md5?.update(slice);
    this.#sha256?.update(slice);
    this.push(slice);
  };

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      if (this.#decoder === undefined) this.#onData(chunk);
      else this.#decoder.write(chunk, this.#onData);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (this.#offload === undefined) {
      callback();
      return;
    }
    // Backpressure both ways: the next chunk is taken once the worker has room and the consumer has taken what was
    // pushed. Transform's own check cannot see bytes pushed later, from the worker's acks.
    this.#offload.wait((err) => {
      if (err !== undefined) callback(err);
      else if (this.readableLength < this.readableHighWaterMark) callback();
      else this.#held = callback;
    });
  }

  override _read(size: number): void {
    const held = this.#held;
    this.#held = undefined;
    // Not now: read() calls _read before it takes its chunk off, so the next chunk would find the buffer still full,
    // be held again, and (no push coming to reset Readable's `reading` flag) never be released: the upload hung.
    if (held !== undefined) process.nextTick(held);
    super._read(size);
  }

  override _flush(callback: TransformCallback): void {
    let trailers: ReadonlyMap<string, string> | undefined;
    try {
      trailers = this.#decoder?.end();
      if (this.#plan.declared !== undefined && this.#size < this.#plan.declared) throw new S3Error('IncompleteBody');
    } catch (err) {
      callback(err as Error);
      return;
    }
    const offload = this.#job();
    if (offload === undefined) {
      const digests: Digests = { md5: this.#md5!.digest() };
      if (this.#sha256 !== undefined) digests.sha256 = this.#sha256.digest();
      if (this.#checksum !== undefined) digests.checksum = this.#checksum.digest();
      this.#settle(trailers, digests, callback);
      return;
    }
    offload.digest().then((raw) => {
      const [md5, ...rest] = raw;
      const digests: Digests = { md5: md5! };
      if (this.#plan.expectedSha256 !== undefined) digests.sha256 = rest.shift();
      const checksum = this.#offloadChecksum ? rest.shift() : this.#checksum?.digest();
      if (checksum !== undefined) digests.checksum = checksum;
      this.#settle(trailers, digests, callback);
    }, (err: Error) => callback(err));
  }

  /** The worker job of a large body, started with its first byte. */
  #job(): OffloadedHashes | undefined {
    if (this.#offloaded === undefined) return undefined;
    this.#offload ??= new OffloadedHashes(this.#offloaded, (err) => this.destroy(err), (bytes) => {
      for (const b of bytes) this.push(b);
    });
    return this.#offload;
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#offload?.abort();
    callback(err);
  }

  #settle(trailers: ReadonlyMap<string, string> | undefined, digests: Digests, callback: TransformCallback): void {
    try {
      this.#digest = checkDigests(this.#plan, this.#size, digests, trailers);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  /** Whether every chunk this stream yields is its own memory, which nothing else reads (see IncomingBody.disposable). */
  get disposable(): boolean {
    return this.#offloaded !== undefined;
  }

  digest(): BodyDigest {
    if (this.#digest === undefined) throw new Error('digest() called before the body stream ended');
    return this.#digest;
  }
}

/**
 * Feeds the request into its verifying stream, but only once someone reads: a request the store refuses before
 * reading (NoSuchBucket, NoSuchUpload) is then never piped, so Node can discard it and nothing holds its buffers.
 * A body that errors or closes early fails the stream; the body is let go when the stream closes.
 */
function connect(body: Readable, stream: IngestStream): void {
  // Until a consumer attaches, an error (client gone mid-wait) must not become an uncaught exception; consumers
  // still see it, because they read from a destroyed stream.
  stream.on('error', () => {});
  const onError = (err: Error): void => {
    stream.destroy(terminated(err));
  };
  const onClose = (): void => {
    if (!body.readableEnded) onError(new Error('request closed before its body ended'));
  };
  body.on('error', onError);
  body.on('close', onClose);
  stream.once('close', () => {
    body.off('error', onError);
    body.off('close', onClose);
    body.unpipe(stream);
  });
  const read = stream._read.bind(stream);
  let piped = false;
  stream._read = (size: number): void => {
    if (!piped) {
      piped = true;
      body.pipe(stream);
    }
    read(size);
  };
}

function withoutChecksumHeaders<T extends Record<string, unknown>>(headers: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith(CHECKSUM_PREFIX) || lower === 'x-amz-sdk-checksum-algorithm') continue;
    out[name] = value;
  }
  return out as T;
}

function entityTooLarge(maxSize: number): (size: number) => S3Error {
  return (size) => new S3Error('EntityTooLarge', { detail: { ProposedSize: size, MaxSizeAllowed: maxSize } });
}

/**
 * Reads a small plain body straight from the request: its chunks are kept, hashed at the end in one call each, and
 * checked exactly as IngestStream checks them. Nothing is read until the store asks (a refused request is never read).
 */
function wholeBody(incoming: IncomingMessage, plan: IngestPlan): WholeBody {
  let digest: BodyDigest | undefined;
  /** Set while reading: fails the read and stops listening. */
  let fail: ((err: Error) => void) | undefined;
  let aborted: Error | undefined;
  let reading: Promise<Buffer[]> | undefined;
  // Once: a second reader would wait for events the first one already took.
  const read = (): Promise<Buffer[]> =>
    (reading ??= new Promise((resolve, reject) => {
      if (aborted !== undefined) return reject(aborted);
      // Gone while the request waited (its 'close' already fired): nothing more would come.
      if (incoming.destroyed) return reject(terminated(incoming.errored ?? new Error('request closed before its body was read')));
      const chunks: Buffer[] = [];
      let size = 0;
      const stop = (): void => {
        fail = undefined;
        incoming.off('data', onData);
        incoming.off('end', onEnd);
        incoming.off('error', onError);
        incoming.off('close', onClose);
      };
      fail = (err: Error): void => {
        stop();
        reject(err);
      };
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        try {
          checkSize(plan, size);
        } catch (err) {
          return fail?.(err as Error);
        }
        chunks.push(chunk);
      };
      const onEnd = (): void => {
        stop();
        try {
          if (plan.declared !== undefined && size < plan.declared) throw new S3Error('IncompleteBody');
          const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
          const digests: Digests = { md5: hash('md5', all, 'buffer') };
          if (plan.expectedSha256 !== undefined) digests.sha256 = hash('sha256', all, 'buffer');
          if (plan.checksum !== undefined) {
            const hasher = createHasher(plan.checksum.algorithm);
            hasher.update(all);
            digests.checksum = hasher.digest();
          }
          digest = checkDigests(plan, size, digests, undefined);
          resolve(chunks);
        } catch (err) {
          reject(err as Error);
        }
      };
      const onError = (err: Error): void => fail?.(terminated(err));
      const onClose = (): void => {
        if (!incoming.readableEnded) fail?.(terminated(new Error('request closed before its body ended')));
      };
      incoming.on('data', onData);
      incoming.on('end', onEnd);
      incoming.on('error', onError);
      incoming.on('close', onClose);
    }));
  return {
    read,
    digest() {
      if (digest === undefined) throw new Error('digest() called before the body was read');
      return digest;
    },
    abort(err) {
      const reason = err ?? new S3Error('IncompleteBody', { message: 'The request body was not read.' });
      aborted ??= reason;
      fail?.(reason);
    },
    ...(plan.declared !== undefined ? { size: plan.declared } : {}),
  };
}

function terminated(cause: Error): S3Error {
  return isS3Error(cause) ? cause : new S3Error('IncompleteBody', { message: 'The request body terminated unexpectedly.', cause });
}

function planFor(ctx: AuthContext, headers: IncomingHttpHeaders, options: IngestOptions): IngestPlan {
  return plan(ctx, headers, options.maxSize, entityTooLarge(options.maxSize), options.requireContentLength ?? false, options.computeAlgorithm);
}

function streamed(ingest: IngestPlan, body: Readable, options: IngestOptions): StreamedBody {
  // A node:http request's body chunks are fresh copies out of the parser, referenced by nothing once read.
  const stream = new IngestStream(ingest, options.hashOffThread ?? true, body instanceof IncomingMessage);
  connect(body, stream);
  return {
    stream,
    digest: () => stream.digest(),
    abort: (err) => stream.destroy(err),
    ...(ingest.declared !== undefined ? { size: ingest.declared } : {}),
    ...(stream.disposable ? { disposable: true } : {}),
  };
}

/**
 * Wraps an upload body (PutObject, UploadPart) in its decoding and verifying stream, or reads a small plain one whole.
 * Header problems (InvalidDigest, MissingContentLength, EntityTooLarge by declared size, bad checksum headers) throw
 * here, before any byte is read; everything else surfaces as an error of the stream before it ends (or of read()).
 */
export function ingestBody(ctx: AuthContext, headers: IncomingHttpHeaders, body: Readable, options: IngestOptions): IncomingBody {
  const ingest = planFor(ctx, headers, options);
  if (body instanceof IncomingMessage && ingest.decoder === undefined && ingest.declared !== undefined && ingest.declared <= WHOLE_MAX_BYTES) {
    return wholeBody(body, ingest);
  }
  return streamed(ingest, body, options);
}

/** ingestBody, always as a stream (a form's file part; tests of the stream itself). */
export function ingestStream(ctx: AuthContext, headers: IncomingHttpHeaders, body: Readable, options: IngestOptions): StreamedBody {
  return streamed(planFor(ctx, headers, options), body, options);
}

/** Reads and verifies a small request body (an XML document) into memory; past `limit` it fails with MaxMessageLengthExceeded. */
export async function readSmallBody(
  ctx: AuthContext,
  headers: IncomingHttpHeaders,
  body: Readable,
  limit: number,
  options: { objectChecksumHeaders?: boolean } = {},
): Promise<{ bytes: Buffer; digest: BodyDigest }> {
  const tooBig = (): S3Error => new S3Error('MaxMessageLengthExceeded', { detail: { MaxMessageLengthBytes: limit } });
  // On CompleteMultipartUpload, x-amz-checksum-* headers carry the whole object's checksum, not the XML body's.
  const bodyHeaders = options.objectChecksumHeaders ? withoutChecksumHeaders(headers) : headers;
  const bodyCtx = options.objectChecksumHeaders ? { ...ctx, queryHeaders: withoutChecksumHeaders(ctx.queryHeaders) } : ctx;
  const stream = new IngestStream(plan(bodyCtx, bodyHeaders, limit, tooBig, false), false);
  connect(body, stream);
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return { bytes: Buffer.concat(parts), digest: stream.digest() };
}
