// Body ingest: requests exactly as the AWS SDK sends them, AWS's chunked example, and each integrity failure by its code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { S3Client, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { HttpResponse, buildQueryString } from '@smithy/core/protocols';
import type { HttpRequest } from '@smithy/core/protocols';
import { authenticate } from '../../src/s3/auth/index.ts';
import type { AuthContext, PayloadMode } from '../../src/s3/auth/index.ts';
import { ingestStream, readSmallBody } from '../../src/s3/ingest.ts';
import type { S3ErrorCode } from '../../src/s3/errors.ts';
import type { StreamedBody } from '../../src/store/types.ts';
import { isS3Code as isCode } from '../helpers/errors.ts';

const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const MAX = 1 << 30;

function context(payload: PayloadMode, extra: Partial<AuthContext> = {}): AuthContext {
  return {
    accessKeyId: AKID,
    payload,
    presigned: false,
    signing: { key: Buffer.alloc(32), amzDate: '20261120T100000Z', scope: '20261120/us-east-1/s3/aws4_request', seedSignature: '' },
    queryHeaders: {},
    ...extra,
  };
}

const md5 = (data: Buffer | string): Buffer => createHash('md5').update(data).digest();
const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');
function crc32b64(data: Buffer | string): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(data) >>> 0);
  return out.toString('base64');
}

async function consume(body: StreamedBody): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body.stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}


function ingest(ctx: AuthContext, headers: IncomingHttpHeaders, body: Buffer | Buffer[], maxSize = MAX, requireContentLength = true): StreamedBody {
  return ingestStream(ctx, headers, Readable.from(Array.isArray(body) ? body : [body]), { maxSize, requireContentLength });
}

/** Runs a body through ingest and expects it to fail with `code`, without 'end' ever being emitted. */
async function failsInStream(body: StreamedBody, code: S3ErrorCode, message?: RegExp): Promise<void> {
  let ended = false;
  body.stream.on('end', () => { ended = true; });
  await assert.rejects(consume(body), isCode(code, message));
  assert.equal(ended, false, 'the stream must not end before failing');
}

interface Captured {
  method: string;
  path: string;
  rawQuery: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** An S3 client whose transport records the request it would have sent, as raw bytes. */
function capturingClient(requestChecksumCalculation: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED' = 'WHEN_SUPPORTED'): { client: S3Client; sent: Captured[] } {
  const sent: Captured[] = [];
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9000',
    forcePathStyle: true,
    credentials: { accessKeyId: AKID, secretAccessKey: SECRET },
    requestChecksumCalculation,
    requestHandler: {
      handle: async (request: HttpRequest) => {
        const parts: Buffer[] = [];
        const body: unknown = request.body;
        if (body instanceof Readable) for await (const part of body) parts.push(Buffer.from(part as Uint8Array));
        else if (typeof body === 'string' || body instanceof Uint8Array) parts.push(Buffer.from(body));
        const headers: IncomingHttpHeaders = {};
        for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v;
        sent.push({ method: request.method, path: request.path, rawQuery: buildQueryString(request.query ?? {}), headers, body: Buffer.concat(parts) });
        return { response: new HttpResponse({ statusCode: 200, headers: { etag: '"x"' }, body: Readable.from([]) }) };
      },
    },
  });
  return { client, sent };
}

async function authenticateCaptured(c: Captured): Promise<AuthContext> {
  return authenticate(
    { method: c.method, rawPath: c.path, rawQuery: c.rawQuery, headers: c.headers },
    { region: 'us-east-1', lookupSecret: (id) => (id === AKID ? SECRET : undefined) },
  );
}

describe('bodies as the AWS SDK sends them', () => {
  const data = [Buffer.alloc(70000, 'x'), Buffer.from('the end')];
  const all = Buffer.concat(data);

  it('PutObject with a stream body: aws-chunked, unsigned, CRC32 in the trailer', async () => {
    const { client, sent } = capturingClient();
    await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: Readable.from(data), ContentLength: all.length }));
    const req = sent[0]!;
    assert.equal(req.headers['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    const ctx = await authenticateCaptured(req);
    // Deliver it in awkward pieces, as a socket might.
    const pieces = [req.body.subarray(0, 3), req.body.subarray(3, 70001), req.body.subarray(70001)];
    const body = ingest(ctx, req.headers, pieces);
    assert.ok((await consume(body)).equals(all));
    assert.deepEqual(body.digest(), { md5: md5(all).toString('hex'), size: all.length, checksum: { algorithm: 'CRC32', value: crc32b64(all) } });
    client.destroy();
  });

  it('PutObject with a buffer body and SHA256: checksum header and signed payload hash', async () => {
    const { client, sent } = capturingClient();
    await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'dir/ünï code+.txt', Body: all, ChecksumAlgorithm: 'SHA256', ContentMD5: md5(all).toString('base64') }));
    const req = sent[0]!;
    const ctx = await authenticateCaptured(req);
    const body = ingest(ctx, req.headers, req.body);
    await consume(body);
    assert.equal(body.digest().checksum?.algorithm, 'SHA256');
    assert.equal(body.digest().checksum?.value, createHash('sha256').update(all).digest('base64'));
    client.destroy();
  });

  it('UploadPart with checksums off (WHEN_REQUIRED)', async () => {
    const { client, sent } = capturingClient('WHEN_REQUIRED');
    await client.send(new UploadPartCommand({ Bucket: 'b', Key: 'k', UploadId: 'u-1', PartNumber: 3, Body: all }));
    const req = sent[0]!;
    const ctx = await authenticateCaptured(req);
    const body = ingest(ctx, req.headers, req.body);
    await consume(body);
    assert.deepEqual(body.digest(), { md5: md5(all).toString('hex'), size: all.length });
    client.destroy();
  });

  it('a tampered SDK body fails its trailer checksum', async () => {
    const { client, sent } = capturingClient();
    await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: Readable.from(data), ContentLength: all.length }));
    const req = sent[0]!;
    const tampered = Buffer.from(req.body);
    tampered[500] = tampered[500]! ^ 1;
    await failsInStream(ingest(await authenticateCaptured(req), req.headers, tampered), 'BadDigest', /^The CRC32 you specified did not match the calculated checksum\.$/);
    client.destroy();
  });
});

describe('the AWS signed chunked-upload example, end to end', () => {
  const headers: IncomingHttpHeaders = {
    host: 's3.amazonaws.com', 'x-amz-date': '20130524T000000Z', 'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '66560', 'content-length': '66824',
    authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9`,
  };
  const frame = (size: number, sig: string): Buffer =>
    Buffer.concat([Buffer.from(`${size.toString(16)};chunk-signature=${sig}\r\n`), Buffer.alloc(size, 'a'), Buffer.from('\r\n')]);
  const body = Buffer.concat([
    frame(65536, 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648'),
    frame(1024, '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497'),
    frame(0, 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9'),
  ]);
  const ctx = (): Promise<AuthContext> =>
    authenticate({ method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '', headers }, { region: 'us-east-1', now: () => Date.UTC(2013, 4, 24), lookupSecret: () => SECRET });

  it('decodes and digests the object', async () => {
    const ingested = ingest(await ctx(), headers, [body.subarray(0, 40000), body.subarray(40000)]);
    const data = await consume(ingested);
    assert.ok(data.equals(Buffer.alloc(66560, 'a')));
    assert.deepEqual(ingested.digest(), { md5: md5(data).toString('hex'), size: 66560 });
  });

  it('a tampered chunk is SignatureDoesNotMatch inside the stream', async () => {
    const tampered = Buffer.from(body);
    tampered[66000] = 'b'.charCodeAt(0);
    await failsInStream(ingest(await ctx(), headers, tampered), 'SignatureDoesNotMatch');
  });

  it('a decoded length that disagrees with the chunks is IncompleteBody', async () => {
    await failsInStream(ingest(await ctx(), { ...headers, 'x-amz-decoded-content-length': '66561' }, body), 'IncompleteBody');
    await failsInStream(ingest(await ctx(), { ...headers, 'x-amz-decoded-content-length': '66559' }, body), 'IncompleteBody');
  });

  it('a truncated body is IncompleteBody', async () => {
    await failsInStream(ingest(await ctx(), headers, body.subarray(0, body.length - 90)), 'IncompleteBody');
  });
});

describe('integrity checks on plain bodies', () => {
  const data = Buffer.from('hello world');
  const plain = (extra: IncomingHttpHeaders = {}): IncomingHttpHeaders => ({ 'content-length': String(data.length), ...extra });

  it('digest() reports MD5, size and no checksum by default; it is not available before the end', async () => {
    const body = ingest(context('unsigned'), plain(), data);
    assert.throws(() => body.digest());
    await consume(body);
    assert.deepEqual(body.digest(), { md5: md5(data).toString('hex'), size: data.length });
  });

  it('Content-MD5: right passes, wrong is BadDigest, malformed is InvalidDigest before reading', async () => {
    await consume(ingest(context('unsigned'), plain({ 'content-md5': md5(data).toString('base64') }), data));
    await failsInStream(ingest(context('unsigned'), plain({ 'content-md5': md5('other').toString('base64') }), data), 'BadDigest');
    for (const bad of ['abc', md5(data).toString('hex'), md5(data).toString('base64').slice(0, -2)]) {
      assert.throws(() => ingest(context('unsigned'), plain({ 'content-md5': bad }), data), isCode('InvalidDigest'));
    }
  });

  it('x-amz-checksum-*: right passes and is reported, wrong is BadDigest with AWS\'s message', async () => {
    const ok = ingest(context('unsigned'), plain({ 'x-amz-checksum-crc32': crc32b64(data) }), data);
    await consume(ok);
    assert.deepEqual(ok.digest().checksum, { algorithm: 'CRC32', value: crc32b64(data) });
    const sha = createHash('sha256').update('other').digest('base64');
    await failsInStream(ingest(context('unsigned'), plain({ 'x-amz-checksum-sha256': sha }), data), 'BadDigest', /^The SHA256 you specified did not match the calculated checksum\.$/);
  });

  it('checksum header faults are InvalidRequest before reading', () => {
    const cases: Array<[IncomingHttpHeaders, RegExp]> = [
      [{ 'x-amz-checksum-crc32': 'AAAA' }, /^Value for x-amz-checksum-crc32 header is invalid\.$/],
      [{ 'x-amz-checksum-crc32c': 'not base64!' }, /x-amz-checksum-crc32c header is invalid/],
      [{ 'x-amz-checksum-crc32': crc32b64(data), 'x-amz-checksum-sha1': 'x' }, /Multiple checksum Types are not allowed/],
      [{ 'x-amz-checksum-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' }, /algorithm type you specified in x-amz-checksum- header is invalid/],
      [{ 'x-amz-checksum-crc32': crc32b64(data), 'x-amz-sdk-checksum-algorithm': 'SHA256' }, /x-amz-sdk-checksum-algorithm/],
      [{ 'x-amz-sdk-checksum-algorithm': 'MD5' }, /x-amz-sdk-checksum-algorithm/],
      [{ 'x-amz-trailer': 'x-amz-checksum-crc32' }, /x-amz-trailer/],
    ];
    for (const [headers, message] of cases) {
      assert.throws(() => ingest(context('unsigned'), plain(headers), data), isCode('InvalidRequest', message), JSON.stringify(headers));
    }
  });

  it('x-amz-checksum-type and x-amz-checksum-algorithm are not checksum values', async () => {
    await consume(ingest(context('unsigned'), plain({ 'x-amz-checksum-type': 'FULL_OBJECT', 'x-amz-checksum-algorithm': 'CRC32' }), data));
  });

  it('x-amz-sdk-checksum-algorithm alone has the checksum computed', async () => {
    const body = ingest(context('unsigned'), plain({ 'x-amz-sdk-checksum-algorithm': 'crc32' }), data);
    await consume(body);
    assert.deepEqual(body.digest().checksum, { algorithm: 'CRC32', value: crc32b64(data) });
  });

  it('a signed payload hash is checked: a mismatch is XAmzContentSHA256Mismatch', async () => {
    await consume(ingest(context('signed', { expectedSha256: sha256(data) }), plain(), data));
    await failsInStream(ingest(context('signed', { expectedSha256: sha256('other') }), plain(), data), 'XAmzContentSHA256Mismatch');
  });

  it('a checksum hoisted into a presigned URL is verified like a header', async () => {
    const hoisted = context('unsigned', { presigned: true, queryHeaders: { 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-sdk-checksum-algorithm': 'CRC32' } });
    // What the SDK's default settings sign into a presigned PUT: the CRC32 of an empty body.
    await failsInStream(ingest(hoisted, plain(), data), 'BadDigest');
    await consume(ingest(hoisted, { 'content-length': '0' }, Buffer.alloc(0)));
  });
});

describe('sizes and lengths', () => {
  const data = Buffer.from('0123456789');

  it('a body shorter than Content-Length is IncompleteBody', async () => {
    await failsInStream(ingest(context('unsigned'), { 'content-length': '20' }, data), 'IncompleteBody');
  });

  it('a declared size over the limit is EntityTooLarge before reading; an undeclared one fails while streaming', async () => {
    assert.throws(() => ingest(context('unsigned'), { 'content-length': '11' }, data, 10), isCode('EntityTooLarge'));
    await consume(ingest(context('unsigned'), { 'content-length': '10' }, data, 10));
    await failsInStream(ingest(context('unsigned'), {}, [data, Buffer.from('x')], 10, false), 'EntityTooLarge');
  });

  it('a missing length is MissingContentLength when required; aws-chunked needs x-amz-decoded-content-length always', () => {
    assert.throws(() => ingest(context('unsigned'), {}, data), isCode('MissingContentLength'));
    for (const value of [undefined, 'abc', '12x', '-1']) {
      const headers: IncomingHttpHeaders = value === undefined ? {} : { 'x-amz-decoded-content-length': value };
      assert.throws(() => ingest(context('streaming-unsigned-trailer'), headers, data, MAX, false), isCode('MissingContentLength'));
    }
  });

  it('a request that errors or closes mid-body is IncompleteBody', async () => {
    const erroring = new Readable({ read() {} });
    const a = ingestStream(context('unsigned'), { 'content-length': '100' }, erroring, { maxSize: MAX });
    erroring.push(Buffer.from('abc'));
    setImmediate(() => erroring.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
    await failsInStream(a, 'IncompleteBody');

    const closing = new Readable({ read() {} });
    const b = ingestStream(context('unsigned'), { 'content-length': '100' }, closing, { maxSize: MAX });
    closing.push(Buffer.from('abc'));
    setImmediate(() => closing.destroy());
    await failsInStream(b, 'IncompleteBody');
  });
});

describe('trailing checksums (STREAMING-UNSIGNED-PAYLOAD-TRAILER)', () => {
  const crc = 'NhCmhg=='; // CRC32 of "hello"
  const headers = (extra: IncomingHttpHeaders = {}): IncomingHttpHeaders => ({ 'x-amz-decoded-content-length': '5', 'x-amz-trailer': 'x-amz-checksum-crc32', ...extra });
  const body = (value: string): Buffer => Buffer.from(`5\r\nhello\r\n0\r\nx-amz-checksum-crc32:${value}\r\n\r\n`);

  it('a right trailer value is verified and reported', async () => {
    const ingested = ingest(context('streaming-unsigned-trailer'), headers({ 'x-amz-sdk-checksum-algorithm': 'CRC32' }), body(crc));
    assert.equal((await consume(ingested)).toString(), 'hello');
    assert.deepEqual(ingested.digest(), { md5: md5('hello').toString('hex'), size: 5, checksum: { algorithm: 'CRC32', value: crc } });
  });

  it('a wrong value is BadDigest; a malformed one is InvalidRequest naming the trailing header', async () => {
    await failsInStream(ingest(context('streaming-unsigned-trailer'), headers(), body('AAAAAA==')), 'BadDigest', /^The CRC32 you specified/);
    await failsInStream(ingest(context('streaming-unsigned-trailer'), headers(), body('invalid')), 'InvalidRequest', /^Value for x-amz-checksum-crc32 trailing header is invalid\.$/);
  });

  it('a trailer plus a checksum header is two checksums', () => {
    assert.throws(() => ingest(context('streaming-unsigned-trailer'), headers({ 'x-amz-checksum-sha1': 'qvTGHdzF6KLavt4PO0gs2a6pQ00=' }), body(crc)), isCode('InvalidRequest', /Multiple checksum/));
  });

  it('x-amz-sdk-checksum-algorithm must agree with the trailer', () => {
    assert.throws(() => ingest(context('streaming-unsigned-trailer'), headers({ 'x-amz-sdk-checksum-algorithm': 'SHA1' }), body(crc)), isCode('InvalidRequest', /x-amz-sdk-checksum-algorithm/));
  });

  it('an unsupported x-amz-trailer is InvalidRequest', () => {
    assert.throws(() => ingest(context('streaming-unsigned-trailer'), headers({ 'x-amz-trailer': 'x-amz-meta-foo' }), body(crc)), isCode('InvalidRequest', /x-amz-trailer/));
  });

  it('a missing or unannounced trailer is MalformedTrailerError', async () => {
    await failsInStream(ingest(context('streaming-unsigned-trailer'), headers(), Buffer.from('5\r\nhello\r\n0\r\n\r\n')), 'MalformedTrailerError');
    await failsInStream(ingest(context('streaming-unsigned-trailer'), { 'x-amz-decoded-content-length': '5' }, body(crc)), 'MalformedTrailerError');
  });

  it('a checksum header on a trailer-mode body without trailer is verified', async () => {
    const ingested = ingest(context('streaming-unsigned-trailer'), { 'x-amz-decoded-content-length': '5', 'x-amz-checksum-crc32': crc }, Buffer.from('5\r\nhello\r\n0\r\n\r\n'));
    await consume(ingested);
    assert.equal(ingested.digest().checksum?.value, crc);
  });
});

describe('readSmallBody', () => {
  const xml = Buffer.from('<Delete><Object><Key>a</Key></Object></Delete>');

  it('returns the bytes and their digest, Content-MD5 checked', async () => {
    const { bytes, digest } = await readSmallBody(context('unsigned'), { 'content-length': String(xml.length), 'content-md5': md5(xml).toString('base64') }, Readable.from([xml]), 1024);
    assert.ok(bytes.equals(xml));
    assert.equal(digest.md5, md5(xml).toString('hex'));
    await assert.rejects(readSmallBody(context('unsigned'), { 'content-md5': md5('x').toString('base64') }, Readable.from([xml]), 1024), isCode('BadDigest'));
  });

  it('a body over the limit is MaxMessageLengthExceeded, declared or not', async () => {
    await assert.rejects(readSmallBody(context('unsigned'), { 'content-length': String(xml.length) }, Readable.from([xml]), 10), isCode('MaxMessageLengthExceeded'));
    await assert.rejects(readSmallBody(context('unsigned'), {}, Readable.from([xml]), 10), isCode('MaxMessageLengthExceeded'));
  });

  it('decodes an aws-chunked XML body', async () => {
    const chunked = Buffer.from(`${xml.length.toString(16)}\r\n${xml.toString()}\r\n0\r\nx-amz-checksum-crc32:${crc32b64(xml)}\r\n\r\n`);
    const { bytes, digest } = await readSmallBody(
      context('streaming-unsigned-trailer'),
      { 'x-amz-decoded-content-length': String(xml.length), 'x-amz-trailer': 'x-amz-checksum-crc32' },
      Readable.from([chunked]),
      1024,
    );
    assert.ok(bytes.equals(xml));
    assert.equal(digest.checksum?.value, crc32b64(xml));
  });
});
