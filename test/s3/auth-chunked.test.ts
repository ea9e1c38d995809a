// aws-chunked decoding: AWS's published chunk chains, bodies signed through @smithy/signature-v4, and every framing fault.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { signingKey } from '../../src/s3/auth/canonical.ts';
import type { SigningContext } from '../../src/s3/auth/canonical.ts';
import { AwsChunkedDecoder, ChunkedDecodeStream } from '../../src/s3/auth/chunked.ts';
import type { ChunkedDecoderOptions } from '../../src/s3/auth/chunked.ts';
import { isS3Error } from '../../src/s3/errors.ts';
import type { S3ErrorCode } from '../../src/s3/errors.ts';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function awsSigning(seedSignature: string): SigningContext {
  return {
    key: signingKey(SECRET, '20130524', 'us-east-1'),
    amzDate: '20130524T000000Z',
    scope: '20130524/us-east-1/s3/aws4_request',
    seedSignature,
  };
}

/** Feeds `body` in pieces of `piece` bytes; returns the decoded bytes and trailers, or throws the decoder's error. */
function decode(options: ChunkedDecoderOptions, body: Buffer, piece = body.length): { data: Buffer; trailers: Map<string, string> } {
  const decoder = new AwsChunkedDecoder(options);
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += piece) decoder.write(body.subarray(i, i + piece), (s) => out.push(Buffer.from(s)));
  const trailers = new Map(decoder.end());
  return { data: Buffer.concat(out), trailers };
}

function fails(fn: () => unknown, code: S3ErrorCode, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isS3Error(err), `expected an S3Error, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

function frame(size: number, signature: string | undefined, data: Buffer | string): Buffer {
  const ext = signature === undefined ? '' : `;chunk-signature=${signature}`;
  return Buffer.concat([Buffer.from(`${size.toString(16)}${ext}\r\n`), Buffer.from(data), Buffer.from('\r\n')]);
}

describe('signed chunks: the AWS examples', () => {
  const chunk1 = Buffer.alloc(65536, 'a');
  const chunk2 = Buffer.alloc(1024, 'a');
  const options = (): ChunkedDecoderOptions => ({ signing: awsSigning('4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9'), trailers: false });
  const body = Buffer.concat([
    frame(65536, 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648', chunk1),
    frame(1024, '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497', chunk2),
    frame(0, 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9', ''),
  ]);

  it('decodes the published 66560-byte upload (Content-Length 66824)', () => {
    assert.equal(body.length, 66824);
    const { data, trailers } = decode(options(), body);
    assert.ok(data.equals(Buffer.alloc(66560, 'a')));
    assert.equal(trailers.size, 0);
  });

  it('decodes the same however the body is split', () => {
    for (const piece of [1, 2, 3, 7, 80, 86, 4096, 65537]) {
      assert.equal(decode(options(), body, piece).data.length, 66560, `pieces of ${piece}`);
    }
  });

  it('decodes through the stream form', async () => {
    const stream = new ChunkedDecodeStream(options());
    const out: Buffer[] = [];
    await pipeline(Readable.from([body.subarray(0, 1000), body.subarray(1000)]), stream, async (source: AsyncIterable<Buffer>) => {
      for await (const part of source) out.push(part);
    });
    assert.equal(Buffer.concat(out).length, 66560);
  });

  it('a changed byte fails at the end of its chunk, before any byte of the next chunk is passed on', () => {
    const tampered = Buffer.from(body);
    tampered[100] = 'b'.charCodeAt(0);
    const decoder = new AwsChunkedDecoder(options());
    let passed = 0;
    fails(() => decoder.write(tampered, (s) => { passed += s.length; }), 'SignatureDoesNotMatch');
    assert.equal(passed, 65536);
  });

  it('the trailer example: chunk chain and trailer signature from the seed', () => {
    const trailerBody = Buffer.concat([
      frame(65536, 'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2', chunk1),
      frame(1024, '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7', chunk2),
      Buffer.from('0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n'),
      Buffer.from('x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n'),
    ]);
    const { data, trailers } = decode(
      { signing: awsSigning('106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e'), trailers: true, expectedTrailer: 'x-amz-checksum-crc32c' },
      trailerBody,
      977,
    );
    assert.equal(data.length, 66560);
    assert.deepEqual([...trailers], [['x-amz-checksum-crc32c', 'sOO8/Q==']]);
  });
});

describe('signed chunks built with @smithy/signature-v4 as the HMAC oracle', () => {
  const date = new Date('2026-11-20T10:00:00Z');
  const oracle = new SignatureV4({
    credentials: { accessKeyId: 'AKID', secretAccessKey: SECRET },
    region: 'us-east-1',
    service: 's3',
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
  });
  const scope = '20261120/us-east-1/s3/aws4_request';
  const amzDate = '20261120T100000Z';
  const sha = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

  async function seed(trailer: boolean): Promise<string> {
    const signed = await oracle.sign(
      {
        method: 'PUT', protocol: 'http:', hostname: 'localhost', path: '/b/k', query: {},
        headers: { host: 'localhost', 'x-amz-content-sha256': trailer ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' },
      },
      { signingDate: date },
    );
    return /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))![1]!;
  }

  /** A body as a signing client lays it out: every chunk signed over the previous signature, then a 0-size chunk and the trailer. */
  async function signedBody(chunks: Buffer[], seedSignature: string, trailer?: [string, string]): Promise<{ body: Buffer; signatures: string[] }> {
    let previous = seedSignature;
    const parts: Buffer[] = [];
    const signatures: string[] = [];
    for (const data of [...chunks, Buffer.alloc(0)]) {
      previous = await oracle.sign(`AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${previous}\n${EMPTY}\n${sha(data)}`, { signingDate: date });
      signatures.push(previous);
      parts.push(data.length === 0 && trailer ? Buffer.from(`0;chunk-signature=${previous}\r\n`) : frame(data.length, previous, data));
    }
    if (trailer) {
      const canonical = `${trailer[0]}:${trailer[1]}\n`;
      const signature = await oracle.sign(`AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${previous}\n${sha(canonical)}`, { signingDate: date });
      parts.push(Buffer.from(`${trailer[0]}:${trailer[1]}\r\nx-amz-trailer-signature:${signature}\r\n\r\n`));
    }
    return { body: Buffer.concat(parts), signatures };
  }

  const signing = (seedSignature: string): SigningContext => ({ key: signingKey(SECRET, '20261120', 'us-east-1'), amzDate, scope, seedSignature });
  const chunks = [Buffer.alloc(8192, 1), Buffer.alloc(8192, 2), Buffer.from('tail')];

  it('decodes a three-chunk body', async () => {
    const s = await seed(false);
    const { body } = await signedBody(chunks, s);
    assert.ok(decode({ signing: signing(s), trailers: false }, body, 1000).data.equals(Buffer.concat(chunks)));
  });

  it('refuses a changed signature, a reordered chain, and a changed final signature', async () => {
    const s = await seed(false);
    const { body, signatures } = await signedBody(chunks, s);
    const text = body.toString('latin1');
    const swap = (a: string, b: string): Buffer => Buffer.from(text.replace(a, 'X').replace(b, a).replace('X', b), 'latin1');
    const opts = { signing: signing(s), trailers: false };
    fails(() => decode(opts, Buffer.from(text.replace(signatures[1]!, signatures[1]!.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))), 'latin1')), 'SignatureDoesNotMatch');
    fails(() => decode(opts, swap(signatures[0]!, signatures[1]!)), 'SignatureDoesNotMatch');
    fails(() => decode(opts, Buffer.from(text.replace(signatures[3]!, signatures[2]!), 'latin1')), 'SignatureDoesNotMatch');
    fails(() => decode({ signing: signing(s.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))), trailers: false }, body), 'SignatureDoesNotMatch');
  });

  it('a signed trailer verifies, and a changed trailer value or a missing trailer signature does not', async () => {
    const s = await seed(true);
    const value = Buffer.alloc(4, 0);
    value.writeUInt32BE(crc32(Buffer.concat(chunks)) >>> 0);
    const trailer: [string, string] = ['x-amz-checksum-crc32', value.toString('base64')];
    const { body } = await signedBody(chunks, s, trailer);
    const opts: ChunkedDecoderOptions = { signing: signing(s), trailers: true, expectedTrailer: 'x-amz-checksum-crc32' };
    assert.equal(decode(opts, body, 333).trailers.get('x-amz-checksum-crc32'), trailer[1]);
    const text = body.toString('latin1');
    fails(() => decode(opts, Buffer.from(text.replace(trailer[1], 'AAAAAA=='), 'latin1')), 'SignatureDoesNotMatch');
    fails(() => decode(opts, Buffer.from(text.replace(/x-amz-trailer-signature:\w+\r\n/, ''), 'latin1')), 'SignatureDoesNotMatch', /x-amz-trailer-signature/);
  });

  it('the non-trailer signed mode refuses a trailer section', async () => {
    const s = await seed(false);
    const { body } = await signedBody(chunks, s, ['x-amz-checksum-crc32', 'AAAAAA==']);
    fails(() => decode({ signing: signing(s), trailers: false }, body), 'MalformedTrailerError');
  });
});

describe('framing faults', () => {
  const signing = awsSigning('4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9');
  const signed = (): ChunkedDecoderOptions => ({ signing, trailers: false });
  const sig = 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648';

  const signedCases: Array<[string, string]> = [
    ['a size that is not hex', `zz;chunk-signature=${sig}\r\nhello\r\n`],
    ['an empty size', `;chunk-signature=${sig}\r\nhello\r\n`],
    ['a header without chunk-signature', '5\r\nhello\r\n'],
    ['a short chunk signature', '5;chunk-signature=abc\r\nhello\r\n'],
    ['a header ending in LF only', `5;chunk-signature=${sig}\nhello\r\n`],
    ['an over-long header line', `5;chunk-signature=${sig}${' '.repeat(5000)}\r\nhello\r\n`],
  ];
  for (const [name, body] of signedCases) {
    it(`signed: ${name} is IncompleteBody`, () => fails(() => decode(signed(), Buffer.from(body)), 'IncompleteBody'));
  }

  // The unsigned-trailer bodies AWS answers IncompleteBody to, as versitygw's conformance tests record them.
  const unsignedCases: Array<[string, string]> = [
    ['a header ending in LF only', 'A\ndummy data\r\n0\r\n\r\n'],
    ['data not followed by CRLF', 'A\r\ndummy data0\r\n\r\n'],
    ['a chunk longer than announced', 'A\r\nXYZ\r\ndummy data\r\n0\r\n\r\n'],
    ['a chunk shorter than announced', 'B\r\ndummy data\r\n0\r\n\r\n'],
    ['a body that stops after the size line', 'A\r\n'],
    ['a body that stops inside the data', 'A\r\ndummy'],
    ['a body that stops inside a header', 'A\r\ndummy data\r\n0'],
    ['a doubled size line', 'A\r\nA\r\ndummy data\r\n0\r\n\r\n'],
    ['a size that is not hex', 'invalid_chunk_size\r\ndummy data\r\n0\r\n\r\n'],
    ['a bad size after a good chunk', 'A\r\ndummy data\r\nJ\r\n\r\n'],
    ['data after the final chunk', 'A\r\ndummy data\r\n0\r\n\r\njunk'],
    ['a final chunk announced but missing', 'A\r\ndummy data\r\n'],
    ['an empty body', ''],
  ];
  for (const [name, body] of unsignedCases) {
    it(`unsigned: ${name} is IncompleteBody`, () => {
      fails(() => decode({ trailers: true }, Buffer.from(body)), 'IncompleteBody');
      fails(() => decode({ trailers: true }, Buffer.from(body), 1), 'IncompleteBody');
    });
  }

  it('unsigned: a body cut after "0\\r\\n" is IncompleteBody when a trailer was announced', () => {
    fails(() => decode({ trailers: true, expectedTrailer: 'x-amz-checksum-crc32' }, Buffer.from('A\r\ndummy data\r\n0\r\n')), 'IncompleteBody');
  });

  it('the stream form fails with the decoder\'s error', async () => {
    await assert.rejects(
      pipeline(Readable.from([Buffer.from('5\r\nhel')]), new ChunkedDecodeStream({ trailers: true }), async (s: AsyncIterable<Buffer>) => {
        for await (const _ of s);
      }),
      (err: unknown) => isS3Error(err) && err.code === 'IncompleteBody',
    );
  });
});

describe('unsigned chunks with a trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER)', () => {
  const crc = 'NhCmhg=='; // CRC32 of "hello"
  const opts = (expectedTrailer?: string): ChunkedDecoderOptions => ({ trailers: true, ...(expectedTrailer ? { expectedTrailer } : {}) });

  it('decodes the layout the AWS SDK sends and returns the trailer', () => {
    const body = Buffer.from(`2\r\nhe\r\n3\r\nllo\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`);
    for (const piece of [1, 3, body.length]) {
      const { data, trailers } = decode(opts('x-amz-checksum-crc32'), body, piece);
      assert.equal(data.toString(), 'hello');
      assert.deepEqual([...trailers], [['x-amz-checksum-crc32', crc]]);
    }
  });

  it('accepts upper-case hex sizes, chunk extensions and blanks around the trailer value', () => {
    const body = Buffer.from(`A;ext=1\r\n0123456789\r\n0\r\nX-Amz-Checksum-CRC32:  ${crc} \r\n\r\n`);
    const { data, trailers } = decode(opts('x-amz-checksum-crc32'), body);
    assert.equal(data.toString(), '0123456789');
    assert.equal(trailers.get('x-amz-checksum-crc32'), crc);
  });

  it('accepts the SDK\'s body without checksum, which ends right after "0\\r\\n"', () => {
    assert.equal(decode(opts(), Buffer.from('5\r\nhello\r\n0\r\n')).data.toString(), 'hello');
    assert.equal(decode(opts(), Buffer.from('5\r\nhello\r\n0\r\n\r\n')).data.toString(), 'hello');
  });

  // The trailer faults AWS answers MalformedTrailerError to, as versitygw's conformance tests record them.
  const malformed: Array<[string, string | undefined, string]> = [
    ['the announced trailer is missing', 'x-amz-checksum-crc64nvme', '5\r\nhello\r\n0\r\n\r\n'],
    ['a trailer without a name', 'x-amz-checksum-crc64nvme', '5\r\nhello\r\n0\r\n:M3eFcAZSQlc=\r\n\r\n'],
    ['a trailer that was not announced', undefined, '5\r\nhello\r\n0\r\nx-amz-checksum-crc64nvme:M3eFcAZSQlc=\r\n\r\n'],
    ['another trailer than announced', 'x-amz-checksum-crc64nvme', '5\r\nhello\r\n0\r\ninvalid_trailer:M3eFcAZSQlc=\r\n\r\n'],
    ['a trailer line without a colon', 'x-amz-checksum-crc32', `5\r\nhello\r\n0\r\nx-amz-checksum-crc32 ${crc}\r\n\r\n`],
    ['a trailer signature on an unsigned payload', 'x-amz-checksum-crc32', `5\r\nhello\r\n0\r\nx-amz-checksum-crc32:${crc}\r\nx-amz-trailer-signature:${'0'.repeat(64)}\r\n\r\n`],
  ];
  for (const [name, expected, body] of malformed) {
    it(`${name} is MalformedTrailerError`, () => fails(() => decode(opts(expected), Buffer.from(body)), 'MalformedTrailerError'));
  }

  it('a mode without trailers refuses one', () => {
    fails(() => decode({ trailers: false }, Buffer.from(`5\r\nhello\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`)), 'MalformedTrailerError');
  });
});
