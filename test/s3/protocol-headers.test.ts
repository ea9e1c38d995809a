// Request heads Node cannot parse get S3's XML errors over a raw socket; non-ASCII user metadata comes back RFC 2047-encoded.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { maxHeaderSize } from 'node:http';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { assertAbsent, assertHealthy, requestHead, seedBucket, send, signHeaders, socketExchange } from '../helpers/protocol.ts';

let srv: TestServer;
let s3: S3Client;
const B = 'proto-headers';

before(async () => {
  srv = await startFerry();
  s3 = srv.client();
  await seedBucket(srv.port, B);
});
after(async () => srv.stop());

const healthy = (): Promise<void> => assertHealthy(srv.port, B);

interface Parsed {
  status: number;
  headers: Map<string, string>;
  body: string;
}

function parse(raw: string): Parsed {
  const end = raw.indexOf('\r\n\r\n');
  assert.ok(end > 0, `a whole response head: ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]), headers, body: raw.slice(end + 4) };
}

/** Sends raw bytes and waits (bounded) for the server to answer and close the connection. */
async function refused(parts: string[]): Promise<Parsed> {
  const res = await socketExchange(srv.port, parts, 'open', 5_000, () => false);
  assert.ok(res.closed, 'the server closes the connection');
  const reply = parse(res.raw);
  assert.equal(reply.headers.get('connection'), 'close');
  assert.equal(reply.headers.get('content-type'), 'application/xml');
  assert.equal(Number(reply.headers.get('content-length')), Buffer.byteLength(reply.body));
  const id = reply.headers.get('x-amz-request-id');
  assert.match(id ?? '', /^[0-9A-F]{16}$/);
  assert.match(reply.body, new RegExp(`<RequestId>${id}</RequestId>`));
  return reply;
}

describe('request heads Node cannot parse', () => {
  it('20 KB of headers is 400 RequestHeaderSectionTooLarge in XML, and the next request is served', async () => {
    const headers: Record<string, string> = { host: 'localhost' };
    for (let i = 0; i < 20; i++) headers[`x-amz-meta-h${i}`] = 'v'.repeat(1024);
    const reply = await refused([requestHead('PUT', `/${B}/huge`, { ...headers, 'content-length': '1' }), 'x']);
    assert.equal(reply.status, 400);
    assert.match(reply.body, /<Code>RequestHeaderSectionTooLarge<\/Code>/);
    assert.match(reply.body, /<Message>Your request header section exceeds the maximum allowed size.<\/Message>/);
    assert.match(reply.body, new RegExp(`<MaxSizeAllowed>${maxHeaderSize}</MaxSizeAllowed>`));
    await healthy();
    await assertAbsent(srv.port, B, 'huge');
  });

  it('a header line without a colon, a control byte in a value and a bad request line are 400 BadRequest in XML', async () => {
    const heads = [
      `GET /${B}/existing HTTP/1.1\r\nhost: localhost\r\nnot a header\r\n\r\n`,
      `PUT /${B}/ctl HTTP/1.1\r\nhost: localhost\r\nx-amz-meta-a: \x04w\r\ncontent-length: 0\r\n\r\n`,
      'GET /a b c HTTP/1.1\r\nhost: localhost\r\n\r\n',
      'NOT-HTTP\r\n\r\n',
    ];
    for (const head of heads) {
      const reply = await refused([head]);
      assert.equal(reply.status, 400, JSON.stringify(head));
      assert.match(reply.body, /<Code>BadRequest<\/Code><Message>An error occurred when parsing the HTTP request.<\/Message>/);
    }
    await healthy();
    await assertAbsent(srv.port, B, 'ctl');
  });

  it('a burst of bad heads on parallel connections leaves the server serving', async () => {
    const big = 'x'.repeat(maxHeaderSize + 1024);
    await Promise.all(Array.from({ length: 20 }, (_, i) =>
      refused([i % 2 ? `GET / HTTP/1.1\r\nhost: a\r\nx-big: ${big}\r\n\r\n` : 'GET / HTTP/1.1\r\nbad\r\n\r\n'])));
    await healthy();
  });
});

describe('Expect headers other than 100-continue', () => {
  it('an empty or unknown Expect is ignored, as S3 does, where Node alone would answer 417', async () => {
    for (const [i, expect] of ['', 'something-else'].entries()) {
      const path = `/${B}/expect-${i}`;
      const headers = await signHeaders(srv.port, { method: 'PUT', path, body: 'hello' });
      const res = await socketExchange(srv.port, [requestHead('PUT', path, { ...headers, expect, 'content-length': '5' }), 'hello'], 'open');
      assert.equal(parse(res.raw).status, 200, res.raw);
    }
    await assertHealthy(srv.port, B);
  });
});

describe('non-ASCII user metadata', () => {
  // Node's client writes a header string one byte per char (latin1) when the body is a Buffer (a string body would
  // re-encode the whole head as UTF-8): a UTF-8 value goes out as its bytes read as latin1.
  const wire = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');
  const rfc2047 = (stored: string): string => `=?UTF-8?B?${Buffer.from(stored, 'utf8').toString('base64')}?=`;

  it('raw UTF-8 bytes are stored as ISO-8859-1 text and returned RFC 2047-encoded, as S3 does', async () => {
    const put = await send(srv.port, { method: 'PUT', path: `/${B}/utf8`, body: Buffer.from('x'), headers: { 'x-amz-meta-city': wire('Zürich'), 'x-amz-meta-plain': 'ascii only' } });
    assert.equal(put.status, 200, put.text);
    for (const method of ['GET', 'HEAD']) {
      const res = await send(srv.port, { method, path: `/${B}/utf8` });
      assert.equal(res.status, 200);
      // "ü" is C3 BC on the wire; S3 reads each byte as a char and encodes those: "Ã¼" -> =?UTF-8?B?w4PCvA==?=.
      assert.equal(res.headers['x-amz-meta-city'], rfc2047('ZÃ¼rich'));
      assert.equal(res.headers['x-amz-meta-city'], '=?UTF-8?B?WsODwrxyaWNo?=');
      assert.equal(res.headers['x-amz-meta-plain'], 'ascii only');
    }
  });

  it('a Latin-1 byte comes back as the encoded-word of that character', async () => {
    const put = await send(srv.port, { method: 'PUT', path: `/${B}/latin1`, body: Buffer.from('x'), headers: { 'x-amz-meta-name': 'caf\u00e9' } });
    assert.equal(put.status, 200, put.text);
    const res = await send(srv.port, { method: 'HEAD', path: `/${B}/latin1` });
    assert.equal(res.headers['x-amz-meta-name'], '=?UTF-8?B?Y2Fmw6k=?=');
  });

  it('a value the client already encoded is ASCII and round-trips unchanged through the SDK', async () => {
    const encoded = rfc2047('日本語');
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'encoded', Body: 'x', Metadata: { title: encoded, n: '1' } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'encoded' }));
    assert.deepEqual(head.Metadata, { title: encoded, n: '1' });
    const get = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'encoded' }));
    await get.Body!.transformToByteArray();
    assert.equal(get.Metadata?.title, encoded);
    assert.equal(Buffer.from(/^=\?UTF-8\?B\?(.*)\?=$/.exec(encoded)![1]!, 'base64').toString('utf8'), '日本語');
  });
});
