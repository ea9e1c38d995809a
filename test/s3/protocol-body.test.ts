// Upload bodies over a raw socket: payload hashes, hand-built aws-chunked bodies and trailers, digests, truncation; refused writes store nothing.
// Chunked uploads: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and sigv4-streaming-trailers.html
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { canonicalTrailers, signTrailer } from '../../src/s3/auth/chunked.ts';
import { rawRequest, sha256Hex } from '../helpers/raw.ts';
import type { RawResponse } from '../helpers/raw.ts';
import {
  assertAbsent, assertDataFilesUnchanged, assertS3Error, dataFiles, expectContinue, frameChunk, requestHead, send, signHeaders,
  signedChunks, signingOf, socketExchange,
} from '../helpers/protocol.ts';

let srv: TestServer;
const B = 'proto-body';

before(async () => {
  srv = await startFerry();
  assert.equal((await send(srv.port, { method: 'PUT', path: `/${B}` })).status, 200);
});
after(async () => srv.stop());

const crc32b64 = (b: Buffer): string => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b));
  return out.toString('base64');
};
const md5b64 = (b: Buffer | string): string => createHash('md5').update(b).digest('base64');
const sha256b64 = (b: Buffer | string): string => createHash('sha256').update(b).digest('base64');

/** Expects `res` to be the error, then checks the key was not stored and no data file was left. */
async function assertRefused(res: RawResponse, status: number, code: string, key: string, filesBefore: string[]): Promise<void> {
  assertS3Error(res, status, code);
  await assertAbsent(srv.port, B, key);
  await assertDataFilesUnchanged(srv.dataDir, filesBefore);
}

async function getBody(key: string): Promise<Buffer> {
  const res = await send(srv.port, { method: 'GET', path: `/${B}/${key}` });
  assert.equal(res.status, 200, res.text);
  return res.body;
}

/** Sends an object PUT with a body signed as STREAMING-AWS4-HMAC-SHA256-PAYLOAD; `mangle` edits the chunks or the wire bytes. */
async function chunkedPut(
  key: string,
  pieces: Buffer[],
  mangle: (frames: Buffer[], chunks: ReturnType<typeof signedChunks>) => Buffer[] = (f) => f,
  decodedLength = pieces.reduce((n, p) => n + p.length, 0),
): Promise<RawResponse> {
  const path = `/${B}/${key}`;
  const headers = await signHeaders(srv.port, {
    method: 'PUT', path, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decodedLength) },
  });
  const chunks = signedChunks(signingOf(headers), pieces);
  const body = Buffer.concat(mangle(chunks.map(frameChunk), chunks));
  return rawRequest(srv.port, { method: 'PUT', path, headers, body });
}

describe('x-amz-content-sha256', () => {
  it('a hash that does not match the body is 400 XAmzContentSHA256Mismatch', async () => {
    const before = await dataFiles(srv.dataDir);
    const res = await send(srv.port, { method: 'PUT', path: `/${B}/sha-mismatch`, body: 'actual body', payloadHash: sha256Hex('another body') });
    await assertRefused(res, 400, 'XAmzContentSHA256Mismatch', 'sha-mismatch', before);
    assert.match(res.text, /<ClientComputedContentSHA256>[0-9a-f]{64}</);
  });

  it('a value that is neither a SHA-256 nor a known keyword is 400 InvalidArgument', async () => {
    const before = await dataFiles(srv.dataDir);
    for (const value of ['abc', 'STREAMING-PAYLOAD', sha256Hex('x').slice(1), 'unsigned-payload']) {
      const res = await send(srv.port, { method: 'PUT', path: `/${B}/bad-sha`, body: 'body', payloadHash: value });
      await assertRefused(res, 400, 'InvalidArgument', 'bad-sha', before);
    }
  });
});

describe('aws-chunked with chunk signatures', () => {
  const one = randomBytes(65536);
  const two = randomBytes(1000);

  it('a valid hand-built body stores exactly the decoded bytes', async () => {
    const res = await chunkedPut('chunked-ok', [one, two]);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.etag, `"${createHash('md5').update(Buffer.concat([one, two])).digest('hex')}"`);
    assert.ok((await getBody('chunked-ok')).equals(Buffer.concat([one, two])));
    const head = await send(srv.port, { method: 'HEAD', path: `/${B}/chunked-ok` });
    assert.equal(head.headers['content-encoding'], undefined, 'aws-chunked is framing, not a stored content coding');
  });

  it('a flipped data byte is 403 SignatureDoesNotMatch', async () => {
    const before = await dataFiles(srv.dataDir);
    const res = await chunkedPut('chunked-byte', [one, two], (frames) => {
      const f = Buffer.from(frames[1]!);
      f[f.indexOf('\r\n') + 10]! ^= 0x01;
      return [frames[0]!, f, frames[2]!];
    });
    await assertRefused(res, 403, 'SignatureDoesNotMatch', 'chunked-byte', before);
  });

  it('a tampered chunk signature is 403 SignatureDoesNotMatch', async () => {
    const before = await dataFiles(srv.dataDir);
    for (const index of [0, 1, 2]) {
      const res = await chunkedPut('chunked-sig', [one, two], (frames, chunks) => {
        const c = chunks[index]!;
        const sig = (c.signature[0] === 'a' ? 'b' : 'a') + c.signature.slice(1);
        return frames.map((f, i) => (i === index ? frameChunk({ data: c.data, signature: sig }) : f));
      });
      await assertRefused(res, 403, 'SignatureDoesNotMatch', 'chunked-sig', before);
    }
  });

  it('a chunk size that disagrees with its data is 400 IncompleteBody', async () => {
    const before = await dataFiles(srv.dataDir);
    for (const delta of [-1, 1]) {
      const res = await chunkedPut('chunked-size', [one, two], (frames, chunks) =>
        frames.map((f, i) => (i === 1 ? frameChunk({ ...chunks[1]!, size: two.length + delta }) : f)));
      await assertRefused(res, 400, 'IncompleteBody', 'chunked-size', before);
    }
    const notHex = await chunkedPut('chunked-size', [one], (frames) => [Buffer.from(frames[0]!.toString('latin1').replace(/^10000/, '1000g'), 'latin1'), frames[1]!]);
    await assertRefused(notHex, 400, 'IncompleteBody', 'chunked-size', before);
  });

  it('reordered chunks are 403 SignatureDoesNotMatch', async () => {
    const before = await dataFiles(srv.dataDir);
    const res = await chunkedPut('chunked-order', [one, two], (frames) => [frames[1]!, frames[0]!, frames[2]!]);
    await assertRefused(res, 403, 'SignatureDoesNotMatch', 'chunked-order', before);
  });

  it('a body without its final zero-length chunk is 400 IncompleteBody', async () => {
    const before = await dataFiles(srv.dataDir);
    const res = await chunkedPut('chunked-cut', [one, two], (frames) => frames.slice(0, 2));
    await assertRefused(res, 400, 'IncompleteBody', 'chunked-cut', before);
  });

  it('bytes after the final chunk are refused', async () => {
    const before = await dataFiles(srv.dataDir);
    const res = await chunkedPut('chunked-tail', [one, two], (frames) => [...frames, Buffer.from('garbage')]);
    await assertRefused(res, 400, 'IncompleteBody', 'chunked-tail', before);
    const extraChunk = await chunkedPut('chunked-tail', [two], (frames) => [...frames, frames[0]!]);
    await assertRefused(extraChunk, 400, 'IncompleteBody', 'chunked-tail', before);
  });

  it('a decoded length that disagrees with the chunks is 400 IncompleteBody', async () => {
    const before = await dataFiles(srv.dataDir);
    for (const declared of [one.length - 1, one.length + 1]) {
      const res = await chunkedPut('chunked-declared', [one], undefined, declared);
      await assertRefused(res, 400, 'IncompleteBody', 'chunked-declared', before);
    }
  });

  it('a chunked body without x-amz-decoded-content-length is 411 MissingContentLength', async () => {
    const path = `/${B}/chunked-nolen`;
    const headers = await signHeaders(srv.port, { method: 'PUT', path, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', headers: { 'content-encoding': 'aws-chunked' } });
    const before = await dataFiles(srv.dataDir);
    const body = Buffer.concat(signedChunks(signingOf(headers), [two]).map(frameChunk));
    await assertRefused(await rawRequest(srv.port, { method: 'PUT', path, headers, body }), 411, 'MissingContentLength', 'chunked-nolen', before);
  });
});

describe('aws-chunked with an unsigned trailer', () => {
  const data = randomBytes(5000);

  async function trailerPut(key: string, tail: string, trailer = 'x-amz-checksum-crc32'): Promise<RawResponse> {
    const path = `/${B}/${key}`;
    const headers = await signHeaders(srv.port, {
      method: 'PUT', path, payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': trailer },
    });
    const body = Buffer.concat([frameChunk({ data }), Buffer.from(`0\r\n${tail}`)]);
    return rawRequest(srv.port, { method: 'PUT', path, headers, body });
  }

  it('the right x-amz-checksum-crc32 trailer stores the object with that checksum', async () => {
    const res = await trailerPut('trailer-ok', `x-amz-checksum-crc32:${crc32b64(data)}\r\n\r\n`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-amz-checksum-crc32'], crc32b64(data));
    assert.ok((await getBody('trailer-ok')).equals(data));
  });

  it('a wrong checksum in the trailer is 400 BadDigest', async () => {
    const before = await dataFiles(srv.dataDir);
    const res = await trailerPut('trailer-bad', `x-amz-checksum-crc32:${crc32b64(Buffer.from('other'))}\r\n\r\n`);
    await assertRefused(res, 400, 'BadDigest', 'trailer-bad', before);
  });

  it('an announced trailer that never comes is refused', async () => {
    const before = await dataFiles(srv.dataDir);
    await assertRefused(await trailerPut('trailer-missing', '\r\n'), 400, 'MalformedTrailerError', 'trailer-missing', before);
    await assertRefused(await trailerPut('trailer-missing', ''), 400, 'IncompleteBody', 'trailer-missing', before);
    const other = await trailerPut('trailer-missing', `x-amz-checksum-sha256:${sha256b64(data)}\r\n\r\n`);
    await assertRefused(other, 400, 'MalformedTrailerError', 'trailer-missing', before);
  });

  it('a trailer value that is not a checksum is 400 InvalidRequest', async () => {
    const before = await dataFiles(srv.dataDir);
    await assertRefused(await trailerPut('trailer-junk', 'x-amz-checksum-crc32:not base64!\r\n\r\n'), 400, 'InvalidRequest', 'trailer-junk', before);
  });
});

describe('aws-chunked with chunk signatures and a signed trailer', () => {
  const data = randomBytes(3000);

  async function signedTrailerPut(key: string, trailerSignature: (real: string) => string): Promise<RawResponse> {
    const path = `/${B}/${key}`;
    const headers = await signHeaders(srv.port, {
      method: 'PUT', path, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc32' },
    });
    const signing = signingOf(headers);
    const chunks = signedChunks(signing, [data]);
    const trailers = new Map([['x-amz-checksum-crc32', crc32b64(data)]]);
    const real = signTrailer(signing, chunks[chunks.length - 1]!.signature, canonicalTrailers(trailers));
    // The final chunk of a trailer body has no closing CRLF of its own: the trailer section follows it.
    const last = `0;chunk-signature=${chunks[chunks.length - 1]!.signature}\r\n`;
    const body = Buffer.concat([frameChunk(chunks[0]!), Buffer.from(`${last}x-amz-checksum-crc32:${crc32b64(data)}\r\nx-amz-trailer-signature:${trailerSignature(real)}\r\n\r\n`)]);
    return rawRequest(srv.port, { method: 'PUT', path, headers, body });
  }

  it('a correctly signed trailer stores the object', async () => {
    const res = await signedTrailerPut('signed-trailer', (real) => real);
    assert.equal(res.status, 200, res.text);
    assert.ok((await getBody('signed-trailer')).equals(data));
  });

  it('a wrong trailer signature is 403 SignatureDoesNotMatch', async () => {
    const before = await dataFiles(srv.dataDir);
    const res = await signedTrailerPut('signed-trailer-bad', (real) => (real[0] === 'a' ? 'b' : 'a') + real.slice(1));
    await assertRefused(res, 403, 'SignatureDoesNotMatch', 'signed-trailer-bad', before);
  });
});

describe('digests and lengths', () => {
  const body = 'the quick brown fox';

  it('a malformed Content-MD5 is 400 InvalidDigest', async () => {
    const before = await dataFiles(srv.dataDir);
    for (const md5 of ['not-an-md5', md5b64(body).slice(0, -4), createHash('md5').update(body).digest('hex')]) {
      const res = await send(srv.port, { method: 'PUT', path: `/${B}/md5-bad`, body, headers: { 'content-md5': md5 } });
      await assertRefused(res, 400, 'InvalidDigest', 'md5-bad', before);
    }
  });

  it('a Content-MD5 of other bytes is 400 BadDigest', async () => {
    const before = await dataFiles(srv.dataDir);
    const res = await send(srv.port, { method: 'PUT', path: `/${B}/md5-wrong`, body, headers: { 'content-md5': md5b64('other bytes') } });
    await assertRefused(res, 400, 'BadDigest', 'md5-wrong', before);
    const ok = await send(srv.port, { method: 'PUT', path: `/${B}/md5-right`, body, headers: { 'content-md5': md5b64(body) } });
    assert.equal(ok.status, 200, ok.text);
  });

  it('a wrong x-amz-checksum-sha256 is 400 BadDigest; a malformed one 400 InvalidRequest', async () => {
    const before = await dataFiles(srv.dataDir);
    const wrong = await send(srv.port, { method: 'PUT', path: `/${B}/sum-wrong`, body, headers: { 'x-amz-checksum-sha256': sha256b64('other') } });
    await assertRefused(wrong, 400, 'BadDigest', 'sum-wrong', before);
    const malformed = await send(srv.port, { method: 'PUT', path: `/${B}/sum-wrong`, body, headers: { 'x-amz-checksum-sha256': 'AAAA' } });
    await assertRefused(malformed, 400, 'InvalidRequest', 'sum-wrong', before);
  });

  it('two different x-amz-checksum-* headers are 400 InvalidRequest', async () => {
    const before = await dataFiles(srv.dataDir);
    const res = await send(srv.port, {
      method: 'PUT', path: `/${B}/two-sums`, body,
      headers: { 'x-amz-checksum-sha256': sha256b64(body), 'x-amz-checksum-crc32': crc32b64(Buffer.from(body)) },
    });
    await assertRefused(res, 400, 'InvalidRequest', 'two-sums', before);
  });

  it('a PUT without Content-Length is 411 MissingContentLength, with HTTP chunking or with no body', async () => {
    const path = `/${B}/no-length`;
    const before = await dataFiles(srv.dataDir);
    const headers = await signHeaders(srv.port, { method: 'PUT', path, payloadHash: 'UNSIGNED-PAYLOAD' });
    const chunked = await socketExchange(srv.port, [requestHead('PUT', path, { ...headers, 'transfer-encoding': 'chunked' }), '5\r\nhello\r\n0\r\n\r\n'], 'open');
    assert.equal(chunked.status, 411, chunked.raw);
    assert.match(chunked.raw, /<Code>MissingContentLength<\/Code>/);
    assert.match(chunked.raw, /x-amz-request-id: [0-9A-F]+/i);
    const bare = await socketExchange(srv.port, [requestHead('PUT', path, headers)], 'open');
    assert.equal(bare.status, 411, bare.raw);
    assert.match(bare.raw, /<Code>MissingContentLength<\/Code>/);
    await assertAbsent(srv.port, B, 'no-length');
    await assertDataFilesUnchanged(srv.dataDir, before);
  });

  it('a body cut short by the client stores nothing and the server keeps serving', async () => {
    const before = await dataFiles(srv.dataDir);
    // 200,000 bytes go through the ingest stream; 40,000 are read whole (ingest.ts WHOLE_MAX_BYTES).
    for (const full of [randomBytes(200_000), randomBytes(40_000)]) {
      for (const [i, payloadHash] of [sha256Hex(full), 'UNSIGNED-PAYLOAD'].entries()) {
        for (const finish of ['destroy', 'half'] as const) {
          const key = `cut-${full.length}-${i}-${finish}`;
          const path = `/${B}/${key}`;
          const headers = await signHeaders(srv.port, { method: 'PUT', path, payloadHash, headers: { 'content-length': String(full.length) } });
          const res = await socketExchange(srv.port, [requestHead('PUT', path, headers), full.subarray(0, full.length / 2)], finish);
          // Either the server answers IncompleteBody or it just closes: never a success, never a hang.
          if (res.status !== undefined) assert.equal(res.status, 400, res.raw);
          else assert.ok(res.closed, 'the server closed the connection');
          await assertAbsent(srv.port, B, key);
        }
      }
    }
    await assertDataFilesUnchanged(srv.dataDir, before);
    const ok = await send(srv.port, { method: 'PUT', path: `/${B}/after-cut`, body: 'still serving' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await getBody('after-cut')).toString(), 'still serving');
  });

  it('an aws-chunked body cut mid-chunk stores nothing', async () => {
    const data = randomBytes(100_000);
    const path = `/${B}/cut-chunked`;
    const headers = await signHeaders(srv.port, {
      method: 'PUT', path, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length) },
    });
    const wire = Buffer.concat(signedChunks(signingOf(headers), [data]).map(frameChunk));
    const before = await dataFiles(srv.dataDir);
    const res = await socketExchange(srv.port, [requestHead('PUT', path, { ...headers, 'content-length': String(wire.length) }), wire.subarray(0, 60_000)], 'destroy');
    assert.ok(res.status === undefined || res.status === 400, res.raw);
    await assertAbsent(srv.port, B, 'cut-chunked');
    await assertDataFilesUnchanged(srv.dataDir, before);
  });
});

// "If the message is rejected based on the headers, the body of the message is not sent."
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (Expect), RFC 9110 10.1.1
describe('Expect: 100-continue', () => {
  const body = randomBytes(300_000);

  it('a request refused from its headers gets its final status without 100 Continue', async () => {
    const before = await dataFiles(srv.dataDir);
    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['anonymous', { host: `127.0.0.1:${srv.port}` }, 403, 'AccessDenied'],
      ['wrong secret', await signHeaders(srv.port, { method: 'PUT', path: `/${B}/expect-refused`, payloadHash: 'UNSIGNED-PAYLOAD', secret: 'wrong-secret-key' }), 403, 'SignatureDoesNotMatch'],
      ['bad Content-MD5', await signHeaders(srv.port, { method: 'PUT', path: `/${B}/expect-refused`, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-md5': 'nope' } }), 400, 'InvalidDigest'],
    ];
    for (const [why, headers, status, code] of cases) {
      const res = await expectContinue(srv.port, requestHead('PUT', `/${B}/expect-refused`, { ...headers, 'content-length': String(body.length), expect: '100-continue' }), body);
      assert.equal(res.continued, false, `${why}: the body was not invited`);
      assert.equal(res.status, status, `${why}: ${res.raw}`);
      assert.match(res.raw, new RegExp(`<Code>${code}</Code>`));
      assert.match(res.raw, /x-amz-request-id: [0-9A-F]+/i);
    }
    await assertAbsent(srv.port, B, 'expect-refused');
    await assertDataFilesUnchanged(srv.dataDir, before);
  });

  it('an accepted request gets 100 Continue, then stores the body', async () => {
    const headers = await signHeaders(srv.port, { method: 'PUT', path: `/${B}/expect-ok`, body });
    const res = await expectContinue(srv.port, requestHead('PUT', `/${B}/expect-ok`, { ...headers, 'content-length': String(body.length), expect: '100-continue' }), body);
    assert.equal(res.continued, true, res.raw);
    assert.equal(res.status, 200, res.raw);
    assert.ok((await getBody('expect-ok')).equals(body));
  });
});
