// Wire-level helpers for the protocol tests: sign headers without sending, hand-built aws-chunked bodies, raw sockets, S3 error asserts.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readdir } from 'node:fs/promises';
import { relative } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { signingKey } from '../../src/s3/auth/canonical.ts';
import type { SigningContext } from '../../src/s3/auth/canonical.ts';
import { signChunk } from '../../src/s3/auth/chunked.ts';
import { ACCESS_KEY, REGION, SECRET_KEY } from './server.ts';
import { Sha256, rawRequest, sha256Hex } from './raw.ts';
import type { RawRequest, RawResponse } from './raw.ts';

export interface SignOptions {
  method: string;
  /** Path and query as they will be sent. */
  path: string;
  headers?: Record<string, string>;
  /** x-amz-content-sha256; defaults to the SHA-256 of `body`. */
  payloadHash?: string;
  body?: Buffer | string;
  date?: Date;
  secret?: string;
  accessKey?: string;
  region?: string;
  /** Sign this path (and query) instead of `path`, to make the signature cover something other than what is sent. */
  signPath?: string;
}

/** SigV4 headers for a request (host, x-amz-date, x-amz-content-sha256, authorization), without sending it. */
export async function signHeaders(port: number, o: SignOptions): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: 's3',
    region: o.region ?? REGION,
    credentials: { accessKeyId: o.accessKey ?? ACCESS_KEY, secretAccessKey: o.secret ?? SECRET_KEY },
    sha256: Sha256 as unknown as ConstructorParameters<typeof SignatureV4>[0]['sha256'],
    uriEscapePath: false,
    applyChecksum: false,
  });
  const [pathname, search = ''] = (o.signPath ?? o.path).split('?', 2) as [string, string?];
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(search)) query[k] = v;
  const headers: Record<string, string> = {
    host: `127.0.0.1:${port}`,
    'x-amz-content-sha256': o.payloadHash ?? sha256Hex(o.body ?? ''),
    ...(o.headers ?? {}),
  };
  const signed = await signer.sign(
    { method: o.method, protocol: 'http:', hostname: '127.0.0.1', port, path: pathname, query, headers },
    o.date ? { signingDate: o.date } : {},
  );
  return signed.headers as Record<string, string>;
}

/** Signs then sends; `body` goes out as given (with its own Content-Length). */
export async function send(port: number, o: SignOptions & Pick<RawRequest, 'timeoutMs'>): Promise<RawResponse> {
  const headers = await signHeaders(port, o);
  return rawRequest(port, { method: o.method, path: o.path, headers, ...(o.body !== undefined ? { body: o.body } : {}), ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) });
}

/** The chunk-signing context the server derives from a signed request's headers. */
export function signingOf(headers: Record<string, string>): SigningContext {
  const amzDate = headers['x-amz-date']!;
  const seed = /Signature=([0-9a-f]{64})/.exec(headers.authorization ?? '')?.[1];
  assert.ok(seed, 'signed headers carry a signature');
  return {
    key: signingKey(SECRET_KEY, amzDate.slice(0, 8), REGION),
    amzDate,
    scope: `${amzDate.slice(0, 8)}/${REGION}/s3/aws4_request`,
    seedSignature: seed,
  };
}

export interface Chunk {
  data: Buffer;
  signature: string;
}

/** Signs `pieces` as a STREAMING-AWS4-HMAC-SHA256-PAYLOAD chain, final zero-length chunk included. */
export function signedChunks(signing: SigningContext, pieces: Buffer[]): Chunk[] {
  let previous = signing.seedSignature;
  const out: Chunk[] = [];
  for (const data of [...pieces, Buffer.alloc(0)]) {
    previous = signChunk(signing, previous, sha256Hex(data));
    out.push({ data, signature: previous });
  }
  return out;
}

/** Frames chunks on the wire: "<hex size>;chunk-signature=<sig>\r\n<data>\r\n"; `size` overrides the announced length. */
export function frameChunk(c: { data: Buffer; signature?: string; size?: number }): Buffer {
  const ext = c.signature === undefined ? '' : `;chunk-signature=${c.signature}`;
  return Buffer.concat([Buffer.from(`${(c.size ?? c.data.length).toString(16)}${ext}\r\n`), c.data, Buffer.from('\r\n')]);
}

/** Asserts an S3 error reply: status, <Code>, and the request id header (HEAD replies carry no body to check). */
export function assertS3Error(res: RawResponse, status: number, code: string, method = 'GET'): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.ok(typeof res.headers['x-amz-request-id'] === 'string' && res.headers['x-amz-request-id'] !== '', 'x-amz-request-id is present');
  if (method === 'HEAD') {
    assert.equal(res.body.length, 0, 'a HEAD error has no body');
    return;
  }
  assert.match(String(res.headers['content-type']), /xml/);
  const found = /<Code>([^<]*)<\/Code>/.exec(res.text)?.[1];
  assert.equal(found, code, res.text);
  const rid = /<RequestId>([^<]*)<\/RequestId>/.exec(res.text)?.[1];
  assert.equal(rid, res.headers['x-amz-request-id'], 'the body names the same request id');
}

/** Keys of a bucket (first 1000), through a signed ListObjectsV2. */
export async function listKeys(port: number, bucket: string): Promise<string[]> {
  const res = await send(port, { method: 'GET', path: `/${bucket}?list-type=2` });
  assert.equal(res.status, 200, res.text);
  return [...res.text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => unescapeXml(m[1]!));
}

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** Asserts that a key does not exist (HEAD 404 and absent from the listing). */
export async function assertAbsent(port: number, bucket: string, key: string): Promise<void> {
  const path = `/${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;
  const head = await send(port, { method: 'HEAD', path });
  assert.equal(head.status, 404, `${key} should not exist`);
  assert.ok(!(await listKeys(port, bucket)).includes(key), `${key} should not be listed`);
}

/** Every file under the data dir, relative to it. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => relative(dir, `${e.parentPath}/${e.name}`)).sort();
}

/** Object data files (data/ and tmp/), which a refused write must leave as they were. */
export async function dataFiles(dataDir: string): Promise<string[]> {
  return (await filesUnder(dataDir)).filter((f) => f.startsWith('data/') || f.startsWith('tmp/'));
}

/**
 * Waits (bounded) until the data files are back to `before`: a refused write's temp file is removed
 * asynchronously, just after the reply.
 */
export async function assertDataFilesUnchanged(dataDir: string, before: string[], timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let now = await dataFiles(dataDir);
  while (JSON.stringify(now) !== JSON.stringify(before) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    now = await dataFiles(dataDir);
  }
  assert.deepEqual(now, before, 'a refused write leaves no data file behind');
}

export interface SocketResult {
  /** Everything the server sent before closing or the wait ending. */
  raw: string;
  status?: number;
  /** True when the server closed the connection. */
  closed: boolean;
}

/** Whether `raw` holds one whole response with a Content-Length body. */
function oneResponse(raw: string): boolean {
  const head = raw.indexOf('\r\n\r\n');
  const len = /\r\ncontent-length: (\d+)/i.exec(raw.slice(0, head))?.[1];
  return head !== -1 && len !== undefined && raw.length >= head + 4 + Number(len);
}

/**
 * Writes raw bytes on a fresh TCP connection, then ends it as asked ('half' sends FIN, 'destroy' resets, 'open'
 * keeps it), and collects the reply until the server closes, `complete` says so (by default: one whole
 * response has come), or `timeoutMs` passes.
 */
export function socketExchange(
  port: number,
  parts: Array<Buffer | string>,
  finish: 'half' | 'destroy' | 'open',
  timeoutMs = 5_000,
  complete: (raw: string) => boolean = oneResponse,
): Promise<SocketResult> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let raw = '';
    let settled = false;
    const done = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1];
      resolve({ raw, closed, ...(status ? { status: Number(status) } : {}) });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('data', (d: Buffer) => {
      raw += d.toString('latin1');
      if (complete(raw)) done(false);
    });
    sock.on('error', () => done(true));
    sock.on('close', () => done(true));
    sock.on('connect', () => {
      for (const p of parts) sock.write(p);
      if (finish === 'half') sock.end();
      else if (finish === 'destroy') setTimeout(() => sock.destroy(), 50);
    });
  });
}

/** A request head for socketExchange. */
export function requestHead(method: string, path: string, headers: Record<string, string>): string {
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

export interface ContinueResult {
  /** Whether the server sent "100 Continue" (and so got the body). */
  continued: boolean;
  /** The final response, interim one removed. */
  raw: string;
  status?: number;
}

/** Sends a head carrying Expect: 100-continue, and `body` only once the server answers 100 Continue (RFC 9110 10.1.1). */
export function expectContinue(port: number, head: string, body: Buffer | string, timeoutMs = 5_000): Promise<ContinueResult> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let raw = '';
    let continued = false;
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1];
      resolve({ continued, raw, ...(status ? { status: Number(status) } : {}) });
    };
    const timer = setTimeout(done, timeoutMs);
    sock.on('data', (d: Buffer) => {
      raw += d.toString('latin1');
      if (!continued && raw.startsWith('HTTP/1.1 100 ')) {
        const end = raw.indexOf('\r\n\r\n');
        if (end === -1) return;
        continued = true;
        raw = raw.slice(end + 4);
        sock.write(body);
      }
      if (oneResponse(raw)) done();
    });
    sock.on('error', done);
    sock.on('close', done);
    sock.on('connect', () => sock.write(head));
  });
}

/** The raw protocol suites' fixture: `bucket` with one object, `existing` = "hello". */
export async function seedBucket(port: number, bucket: string): Promise<void> {
  assert.equal((await send(port, { method: 'PUT', path: `/${bucket}` })).status, 200);
  assert.equal((await send(port, { method: 'PUT', path: `/${bucket}/existing`, body: 'hello' })).status, 200);
}

/** The server still serves after whatever a test threw at it: a plain GET of the seeded object. */
export async function assertHealthy(port: number, bucket: string): Promise<void> {
  const res = await send(port, { method: 'GET', path: `/${bucket}/existing` });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, 'hello');
}
