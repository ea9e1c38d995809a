// Hashing large bodies on a worker thread: same digests as node:crypto, bounded batches in flight, a dead worker fails the body, bytes intact end to end.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { Crc32c } from '@aws-crypto/crc32c';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { AuthContext, PayloadMode } from '../../src/s3/auth/index.ts';
import type { S3ErrorCode } from '../../src/s3/errors.ts';
import { OffloadedHashes, stopHashWorkers } from '../../src/s3/hash-worker.ts';
import { ingestStream } from '../../src/s3/ingest.ts';
import type { StreamedBody } from '../../src/store/types.ts';
import { isS3Code as isCode } from '../helpers/errors.ts';
import { send } from '../helpers/protocol.ts';
import { startFerry, type TestServer } from '../helpers/server.ts';

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

function ingest(ctx: AuthContext, headers: IncomingHttpHeaders, parts: Buffer[]): StreamedBody {
  return ingestStream(ctx, headers, Readable.from(parts), { maxSize: 1 << 30, requireContentLength: true, hashOffThread: true });
}

async function consume(body: StreamedBody): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body.stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}


async function failsInStream(body: StreamedBody, code: S3ErrorCode): Promise<void> {
  let ended = false;
  body.stream.on('end', () => { ended = true; });
  await assert.rejects(consume(body), isCode(code));
  assert.equal(ended, false, 'the stream must not end before failing');
}

/** Feeds `data` honouring backpressure; returns the most batches ever seen in flight. */
async function feed(hashes: OffloadedHashes, data: Buffer, size?: number): Promise<number> {
  let most = 0;
  for (const slice of slices(data, size)) {
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

  it('hashes six bodies fed side by side in odd slices (MD5 in SIMD lanes), one dropped midway, every byte back in order', async () => {
    const sizes = [5 * MiB + 3, 63, 2 * MiB + 64, 0, 3 * MiB - 1, 65];
    const bodies = sizes.map((n) => randomBytes(n));
    const back = bodies.map((): Buffer[] => []);
    const all = bodies.map((_, i) => new OffloadedHashes(['md5', 'crc32'], (err) => assert.fail(err), (bytes) => back[i]!.push(...bytes)));
    const dropped = new OffloadedHashes(['md5'], (err) => assert.fail(err));
    const feeds = bodies.map(async (body, i) => {
      const hashes = all[i]!;
      for (const [n, slice] of slices(body, 40_000 + 7919 * i).entries()) {
        if (i === 0 && n === 20) dropped.abort();
        else if (i === 0 && n < 20) dropped.update(slice);
        if (!hashes.update(slice)) await new Promise<void>((resolve, reject) => hashes.wait((err) => (err ? reject(err) : resolve())));
        if (n % 3 === i % 3) await new Promise((resolve) => setImmediate(resolve));
      }
      return hashes.digest();
    });
    const digests = await Promise.all(feeds);
    digests.forEach((d, i) => {
      assert.deepEqual(d, [digestOf('md5', bodies[i]!), crc32Of(bodies[i]!)], `body ${i} (${sizes[i]} bytes)`);
      assert.ok(Buffer.concat(back[i]!).equals(bodies[i]!), `body ${i} handed back whole and in order`);
    });
  });

  it('holds at most two batches of a body at the worker, asking the caller to wait past that', async () => {
    const hashes = new OffloadedHashes(['md5'], (err) => assert.fail(err));
    const big = Buffer.alloc(16 * MiB, 7);
    const most = await feed(hashes, big);
    // Fed faster than it hashes, the body reaches the bound exactly: never past it, and the caller waited.
    assert.equal(most, 2);
    assert.deepEqual(await hashes.digest(), [digestOf('md5', big)]);
  });

  it('moves a chunk that alone owns its memory when allowed, copies anything else, and hands every byte back in order', async () => {
    const back: Buffer[] = [];
    const hashes = new OffloadedHashes(['md5'], (err) => assert.fail(err), (bytes) => back.push(...bytes));
    const owned = Buffer.from(randomBytes(300_000));
    const kept = Buffer.from(randomBytes(300_000));
    const shared = randomBytes(600_000);
    const expected = Buffer.concat([owned, kept, shared.subarray(0, 300_000)]);
    hashes.update(owned, true);
    hashes.update(kept);
    hashes.update(shared.subarray(0, 300_000), true);
    assert.equal(owned.length, 0, 'moved to the worker: detached here');
    assert.equal(kept.length, 300_000, 'not allowed to move: copied');
    assert.equal(shared.length, 600_000, 'a view of shared memory: copied');
    assert.deepEqual(await hashes.digest(), [digestOf('md5', expected)]);
    assert.ok(Buffer.concat(back).equals(expected));
  });

  it('takes a body arriving a few bytes at a time (copied into shared pieces: few buffers per message)', async () => {
    const body = randomBytes(1536 * 1024 + 3);
    const back: Buffer[] = [];
    const hashes = new OffloadedHashes(['md5'], (err) => assert.fail(err), (bytes) => back.push(...bytes));
    await feed(hashes, body, 3);
    assert.deepEqual(await hashes.digest(), [digestOf('md5', body)]);
    assert.ok(Buffer.concat(back).equals(body));
    assert.ok(back.length <= Math.ceil(body.length / (64 * 1024)), `handed back in ${back.length} pieces`);
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
    const inline = ingestStream(context('unsigned'), headers, Readable.from(slices(BODY)), { maxSize: 1 << 30, hashOffThread: false });
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

  it('holds a bounded part of the body when the consumer stalls, however fast the source', async () => {
    const total = 64 * MiB;
    let given = 0;
    // Paced so that the worker's acks come back between batches: nothing else would stop the source.
    const source = new Readable({
      read() {
        setTimeout(() => {
          given += 64 * 1024;
          this.push(Buffer.alloc(64 * 1024, 1));
          if (given === total) this.push(null);
        }, 1);
      },
    });
    const body = ingestStream(context('unsigned'), { 'content-length': String(total) }, source, { maxSize: 1 << 30, requireContentLength: true, hashOffThread: true });
    const first = await new Promise<Buffer>((resolve) => body.stream.once('data', (chunk: Buffer) => { body.stream.pause(); resolve(chunk); }));
    assert.ok(first.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.ok(given <= 4 * MiB, `${given} bytes taken from the source while the consumer stalled`);
    body.stream.destroy();
    source.destroy();
  });

  it('ends when the consumer takes one chunk per turn and the worker hands back a full buffer at a time (no hold left behind)', async () => {
    const body = ingest(context('unsigned'), { 'content-length': String(BODY.length) }, slices(BODY, 4096));
    const parts: Buffer[] = [];
    const stream = body.stream;
    const deadline = Date.now() + 20_000;
    // As the store reads (files.ts nextChunk): read() one chunk, then a turn of the event loop (a disk write).
    for (;;) {
      assert.ok(Date.now() < deadline, 'the body never ended');
      const chunk = stream.read() as Buffer | null;
      if (chunk !== null) {
        parts.push(chunk);
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      if (stream.readableEnded) break;
      const ended = await new Promise<boolean>((resolve) => {
        const done = (value: boolean) => () => { stream.off('readable', onReadable); stream.off('end', onEnd); resolve(value); };
        const onReadable = done(false);
        const onEnd = done(true);
        stream.once('readable', onReadable);
        stream.once('end', onEnd);
        setTimeout(onReadable, 2_000).unref();
      });
      if (ended) break;
    }
    assert.ok(Buffer.concat(parts).equals(BODY));
    assert.equal(body.digest().md5, digestOf('md5', BODY).toString('hex'));
  });

  it('fails the body with InternalError when the worker dies mid-body', async () => {
    const first = BODY.subarray(0, 2 * MiB);
    const source = new Readable({ read() {} });
    source.push(first);
    const body = ingestStream(context('unsigned'), length, source, { maxSize: 1 << 30, requireContentLength: true, hashOffThread: true });
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

describe('large bodies through the real server (moved to the hash worker uncopied, freed once written or sent)', () => {
  let server: TestServer;
  before(async () => {
    server = await startFerry();
    const created = await send(server.port, { method: 'PUT', path: '/big' });
    assert.equal(created.status, 200, created.text);
  });
  after(async () => {
    await server?.stop();
  });

  it('stores concurrent plain-body PUTs (UNSIGNED-PAYLOAD and signed) byte for byte, ETag = MD5, and GETs them back whole and in ranges', async () => {
    const bodies = [randomBytes(9 * MiB + 17), randomBytes(5 * MiB), randomBytes(3 * MiB + 1), randomBytes(7 * MiB - 3)];
    const puts = await Promise.all(bodies.map((body, i) => send(server.port, {
      method: 'PUT',
      path: `/big/obj-${i}`,
      body,
      // Two bodies signed (SHA-256 checked on the worker), two unsigned.
      ...(i % 2 === 0 ? { payloadHash: 'UNSIGNED-PAYLOAD' } : {}),
      headers: { 'content-md5': digestOf('md5', body).toString('base64') },
      timeoutMs: 60_000,
    })));
    for (const [i, res] of puts.entries()) {
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.etag, `"${digestOf('md5', bodies[i]!).toString('hex')}"`);
    }
    // The sender's buffers were never lent to the server: still whole after the upload.
    assert.equal(bodies[0]!.length, 9 * MiB + 17);
    const s3 = server.client();
    try {
      const gets = await Promise.all(bodies.map(async (_, i) => {
        const out = await s3.send(new GetObjectCommand({ Bucket: 'big', Key: `obj-${i}` }));
        return Buffer.from(await out.Body!.transformToByteArray());
      }));
      for (const [i, got] of gets.entries()) assert.ok(got.equals(bodies[i]!), `obj-${i} reads back byte for byte`);
      const range = await s3.send(new GetObjectCommand({ Bucket: 'big', Key: 'obj-0', Range: `bytes=${4 * MiB - 3}-${6 * MiB + 2}` }));
      assert.ok(Buffer.from(await range.Body!.transformToByteArray()).equals(bodies[0]!.subarray(4 * MiB - 3, 6 * MiB + 3)));
    } finally {
      s3.destroy();
    }
  });

  it('refuses a plain body whose Content-MD5 is wrong, storing nothing', async () => {
    const body = randomBytes(4 * MiB);
    const res = await send(server.port, {
      method: 'PUT', path: '/big/bad-md5', body, payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'content-md5': digestOf('md5', Buffer.from('other')).toString('base64') }, timeoutMs: 60_000,
    });
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /<Code>BadDigest<\/Code>/);
    const head = await send(server.port, { method: 'HEAD', path: '/big/bad-md5' });
    assert.equal(head.status, 404);
  });
});
