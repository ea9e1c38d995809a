// Hashing large bodies on worker threads: same digests as node:crypto, bounded batches in flight, a dead worker fails the body.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { Crc32c } from '@aws-crypto/crc32c';
import type { AuthContext, PayloadMode } from '../../src/s3/auth/index.ts';
import type { S3ErrorCode } from '../../src/s3/errors.ts';
import { OffloadedHashes, stopHashWorkers } from '../../src/s3/hash-worker.ts';
import { ingestBody } from '../../src/s3/ingest.ts';
import type { IncomingBody } from '../../src/store/types.ts';
import { isS3Code as isCode } from '../helpers/errors.ts';

const MiB = 1024 * 1024;
/** Over the inline threshold and not a multiple of the batch size. */
const BODY = randomBytes(3 * MiB + 12_345);

function context(payload: PayloadMode, extra: Partial<AuthContext> = {}): AuthContext {
  return {
    accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
    payload,
    presigned: false,
    signing: { key: Buffer.alloc(32), amzDate: '20261120T100000Z', scope: '20261120/us-east-1/s3/aws4_request', seedSignature: '' },
    queryHeaders: {},
    ...extra,
  };
}

const digestOf = (name: string, data: Buffer): Buffer => createHash(name).update(data).digest();
function crc32Of(data: Buffer): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(data) >>> 0);
  return out;
}
function crc32cOf(data: Buffer): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(new Crc32c().update(data).digest() >>> 0);
  return out;
}

/** Odd-sized slices, as a socket delivers them. */
function slices(data: Buffer, size = 65_521): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) out.push(data.subarray(at, at + size));
  return out;
}

function ingest(ctx: AuthContext, headers: IncomingHttpHeaders, parts: Buffer[]): IncomingBody {
  return ingestBody(ctx, headers, Readable.from(parts), { maxSize: 1 << 30, requireContentLength: true, hashOffThread: true });
}

async function consume(body: IncomingBody): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body.stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}


async function failsInStream(body: IncomingBody, code: S3ErrorCode): Promise<void> {
  let ended = false;
  body.stream.on('end', () => { ended = true; });
  await assert.rejects(consume(body), isCode(code));
  assert.equal(ended, false, 'the stream must not end before failing');
}

/** Feeds `data` honouring backpressure; returns the most batches ever seen in flight. */
async function feed(hashes: OffloadedHashes, data: Buffer): Promise<number> {
  let most = 0;
  for (const slice of slices(data)) {
    const more = hashes.update(slice);
    most = Math.max(most, hashes.inFlight);
    if (!more) await new Promise<void>((resolve, reject) => hashes.wait((err) => (err ? reject(err) : resolve())));
  }
  return most;
}

describe('OffloadedHashes', () => {
  it('gives the digests node:crypto and zlib give, in the order asked', async () => {
    const hashes = new OffloadedHashes(['md5', 'sha1', 'sha256', 'crc32'], (err) => assert.fail(err));
    await feed(hashes, BODY);
    const [md5, sha1, sha256, crc] = await hashes.digest();
    assert.deepEqual(md5, digestOf('md5', BODY));
    assert.deepEqual(sha1, digestOf('sha1', BODY));
    assert.deepEqual(sha256, digestOf('sha256', BODY));
    assert.deepEqual(crc, crc32Of(BODY));
  });

  it('hashes an empty body and bodies running side by side', async () => {
    const other = randomBytes(2 * MiB + 7);
    const a = new OffloadedHashes(['md5'], (err) => assert.fail(err));
    const b = new OffloadedHashes(['md5'], (err) => assert.fail(err));
    const c = new OffloadedHashes(['md5'], (err) => assert.fail(err));
    await Promise.all([feed(a, BODY), feed(b, other)]);
    assert.deepEqual(await Promise.all([a.digest(), b.digest(), c.digest()]), [
      [digestOf('md5', BODY)], [digestOf('md5', other)], [digestOf('md5', Buffer.alloc(0))],
    ]);
  });

  it('holds at most two batches of a body at the worker, asking the caller to wait past that', async () => {
    const hashes = new OffloadedHashes(['md5'], (err) => assert.fail(err));
    const big = Buffer.alloc(16 * MiB, 7);
    const most = await feed(hashes, big);
    // Fed faster than it hashes, the body reaches the bound exactly: never past it, and the caller waited.
    assert.equal(most, 2);
    assert.deepEqual(await hashes.digest(), [digestOf('md5', big)]);
  });

  it('fails with InternalError, without hanging, when its worker dies; the next body gets a new worker', async () => {
    const hashes = new OffloadedHashes(['md5'], () => {});
    hashes.update(BODY);
    await stopHashWorkers();
    await assert.rejects(hashes.digest(), isCode('InternalError'));
    const again = new OffloadedHashes(['md5'], (err) => assert.fail(err));
    await feed(again, BODY);
    assert.deepEqual(await again.digest(), [digestOf('md5', BODY)]);
  });

  it('tells the owner at once when the worker dies while nobody waits on it', async () => {
    let failure: unknown;
    const hashes = new OffloadedHashes(['md5'], (err) => { failure = err; });
    hashes.update(BODY.subarray(0, 1000));
    await stopHashWorkers();
    assert.ok(isCode('InternalError')(failure));
    assert.equal(hashes.update(BODY), false);
  });
});

describe('ingestBody with a body hashed off the main thread', () => {
  const length = { 'content-length': String(BODY.length) };

  it('passes the bytes through and reports the MD5 and the verified CRC32', async () => {
    const body = ingest(context('unsigned'), { ...length, 'x-amz-checksum-crc32': crc32Of(BODY).toString('base64') }, slices(BODY));
    assert.deepEqual(await consume(body), BODY);
    assert.deepEqual(body.digest(), {
      md5: digestOf('md5', BODY).toString('hex'),
      size: BODY.length,
      checksum: { algorithm: 'CRC32', value: crc32Of(BODY).toString('base64') },
    });
  });

  it('gives the same digest when told to hash inline', async () => {
    const headers = { ...length, 'x-amz-checksum-crc32': crc32Of(BODY).toString('base64') };
    const inline = ingestBody(context('unsigned'), headers, Readable.from(slices(BODY)), { maxSize: 1 << 30, hashOffThread: false });
    const offloaded = ingest(context('unsigned'), headers, slices(BODY));
    await Promise.all([consume(inline), consume(offloaded)]);
    assert.deepEqual(inline.digest(), offloaded.digest());
  });

  it('keeps CRC32C inline while the worker does the MD5', async () => {
    const body = ingest(context('unsigned'), { ...length, 'x-amz-checksum-crc32c': crc32cOf(BODY).toString('base64') }, slices(BODY));
    await consume(body);
    assert.equal(body.digest().md5, digestOf('md5', BODY).toString('hex'));
    assert.equal(body.digest().checksum?.value, crc32cOf(BODY).toString('base64'));
  });

  it('fails a wrong Content-MD5, checksum or payload SHA-256 before the stream ends', async () => {
    await failsInStream(ingest(context('unsigned'), { ...length, 'content-md5': digestOf('md5', Buffer.from('x')).toString('base64') }, slices(BODY)), 'BadDigest');
    await failsInStream(ingest(context('unsigned'), { ...length, 'x-amz-checksum-sha256': digestOf('sha256', Buffer.from('x')).toString('base64') }, slices(BODY)), 'BadDigest');
    await failsInStream(ingest(context('signed', { expectedSha256: '0'.repeat(64) }), length, slices(BODY)), 'XAmzContentSHA256Mismatch');
    const good = ingest(context('signed', { expectedSha256: digestOf('sha256', BODY).toString('hex') }), { ...length, 'content-md5': digestOf('md5', BODY).toString('base64') }, slices(BODY));
    assert.equal((await consume(good)).length, BODY.length);
  });

  it('verifies an aws-chunked body with a CRC32 trailer', async () => {
    const framed = Buffer.concat([
      Buffer.from(`${BODY.length.toString(16)}\r\n`), BODY, Buffer.from(`\r\n0\r\nx-amz-checksum-crc32:${crc32Of(BODY).toString('base64')}\r\n\r\n`),
    ]);
    const headers = { 'content-length': String(framed.length), 'x-amz-decoded-content-length': String(BODY.length), 'x-amz-trailer': 'x-amz-checksum-crc32' };
    const body = ingest(context('streaming-unsigned-trailer'), headers, slices(framed));
    assert.deepEqual(await consume(body), BODY);
    assert.equal(body.digest().checksum?.value, crc32Of(BODY).toString('base64'));
  });

  it('fails the body with InternalError when the worker dies mid-body', async () => {
    const first = BODY.subarray(0, 2 * MiB);
    const source = new Readable({ read() {} });
    source.push(first);
    const body = ingestBody(context('unsigned'), length, source, { maxSize: 1 << 30, requireContentLength: true, hashOffThread: true });
    let ended = false;
    body.stream.on('end', () => { ended = true; });
    const consumed = consume(body);
    await new Promise((resolve) => setImmediate(resolve));
    await stopHashWorkers();
    source.push(BODY.subarray(first.length));
    source.push(null);
    await assert.rejects(consumed, isCode('InternalError'));
    assert.equal(ended, false);
  });
});
