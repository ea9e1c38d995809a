// Headers, names, methods and load over a raw socket: header and metadata limits, key length, URI decoding, path tricks, unknown methods, a burst of bad requests.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { rawRequest, sha256Hex } from '../helpers/raw.ts';
import {
  assertAbsent, assertDataFilesUnchanged, assertHealthy, assertS3Error, dataFiles, filesUnder, frameChunk, listKeys,
  requestHead, seedBucket, send, signHeaders, signedChunks, signingOf, socketExchange,
} from '../helpers/protocol.ts';

let srv: TestServer;
const B = 'proto-raw';

before(async () => {
  srv = await startFerry();
  await seedBucket(srv.port, B);
});
after(async () => srv.stop());

const healthy = (): Promise<void> => assertHealthy(srv.port, B);

describe('header and name limits', () => {
  it('20 KB of request headers get 400 RequestHeaderSectionTooLarge and the server keeps serving', async () => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < 20; i++) headers[`x-amz-meta-h${i}`] = 'v'.repeat(1024);
    const res = await rawRequest(srv.port, { method: 'PUT', path: `/${B}/huge-headers`, headers, body: 'x' });
    assertS3Error(res, 400, 'RequestHeaderSectionTooLarge');
    await healthy();
    await assertAbsent(srv.port, B, 'huge-headers');
  });

  it('user metadata over 2 KB is 400 MetadataTooLarge; exactly 2 KB is stored', async () => {
    const before = await dataFiles(srv.dataDir);
    // The limit counts names (without x-amz-meta-) and values in UTF-8 bytes.
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html
    const over = await send(srv.port, { method: 'PUT', path: `/${B}/meta-big`, body: 'x', headers: { 'x-amz-meta-a': 'v'.repeat(2048) } });
    assertS3Error(over, 400, 'MetadataTooLarge');
    await assertAbsent(srv.port, B, 'meta-big');
    await assertDataFilesUnchanged(srv.dataDir, before);
    const exact = await send(srv.port, { method: 'PUT', path: `/${B}/meta-big`, body: 'x', headers: { 'x-amz-meta-a': 'v'.repeat(2047) } });
    assert.equal(exact.status, 200, exact.text);
  });

  it('a key of 1025 bytes is 400 KeyTooLongError; 1024 bytes is stored', async () => {
    const before = await dataFiles(srv.dataDir);
    for (const key of ['k'.repeat(1025), 'é'.repeat(513)]) {
      const path = `/${B}/${encodeURIComponent(key)}`;
      assertS3Error(await send(srv.port, { method: 'PUT', path, body: 'x' }), 400, 'KeyTooLongError');
      assertS3Error(await send(srv.port, { method: 'GET', path }), 400, 'KeyTooLongError');
    }
    await assertDataFilesUnchanged(srv.dataDir, before);
    assert.equal((await listKeys(srv.port, B)).filter((k) => k.length > 500).length, 0);
    const ok = await send(srv.port, { method: 'PUT', path: `/${B}/${'k'.repeat(1024)}`, body: 'x' });
    assert.equal(ok.status, 200, ok.text);
  });

  it('percent-encoding that does not decode to UTF-8 is 400 InvalidURI', async () => {
    const before = await dataFiles(srv.dataDir);
    for (const bad of [`/${B}/a%zzb`, `/${B}/trailing%`, `/${B}/half%E2%82`, `/${B}/latin%FF`, '/bad%zzbucket/key']) {
      const res = await send(srv.port, { method: 'PUT', path: bad, body: 'x' });
      assertS3Error(res, 400, 'InvalidURI');
    }
    await assertDataFilesUnchanged(srv.dataDir, before);
    assert.deepEqual((await listKeys(srv.port, B)).filter((k) => k.startsWith('a') || k.startsWith('trailing') || k.startsWith('half') || k.startsWith('latin')), []);
  });
});

describe('response header overrides', () => {
  // AWS: InvalidArgument "Header value cannot be represented using ISO-8859-1." for such response-* values.
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (response-content-disposition etc.)
  it('a response-* value no header could carry is 400 InvalidArgument, for GET and HEAD', async () => {
    for (const query of ['response-content-disposition=attachment%3B%20filename%3D%22%E2%82%AC.txt%22', 'response-content-type=text%2Fplain%0D%0AX-Injected%3A%201']) {
      const get = await send(srv.port, { method: 'GET', path: `/${B}/existing?${query}` });
      assertS3Error(get, 400, 'InvalidArgument');
      assert.equal(get.headers['x-injected'], undefined);
      assertS3Error(await send(srv.port, { method: 'HEAD', path: `/${B}/existing?${query}` }), 400, 'InvalidArgument', 'HEAD');
    }
    await healthy();
  });

  it('an ISO-8859-1 response-* value is echoed', async () => {
    const res = await send(srv.port, { method: 'GET', path: `/${B}/existing?response-content-disposition=attachment%3B%20filename%3D%22caf%C3%A9.txt%22` });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['content-disposition'], 'attachment; filename="café.txt"');
  });
});

describe('path tricks', () => {
  // S3 keeps "." and ".." segments and empty segments as part of the key: nothing is normalised.
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html ("Amazon S3 ... does not normalize")
  const cases: Array<[sent: string, canonical: string, key: string]> = [
    [`/${B}/../other`, `/${B}/../other`, '../other'],
    [`/${B}/%2e%2e/x`, `/${B}/../x`, '../x'],
    [`/${B}//x`, `/${B}//x`, '/x'],
    [`/${B}/./x`, `/${B}/./x`, './x'],
    [`/${B}/x`, `/${B}/x`, 'x'],
    [`/${B}/..%2F..%2F..%2Fetc%2Fpasswd`, `/${B}/../../../etc/passwd`, '../../../etc/passwd'],
  ];

  it('dot segments and double slashes are literal, distinct keys', async () => {
    for (const [sent, canonical, key] of cases) {
      const res = await send(srv.port, { method: 'PUT', path: sent, signPath: canonical, body: `body of ${key}` });
      assert.equal(res.status, 200, `${sent}: ${res.text}`);
    }
    const keys = await listKeys(srv.port, B);
    for (const [sent, canonical, key] of cases) {
      assert.ok(keys.includes(key), `${key} is listed`);
      const got = await send(srv.port, { method: 'GET', path: sent, signPath: canonical });
      assert.equal(got.status, 200, got.text);
      assert.equal(got.text, `body of ${key}`, `${sent} reads its own object`);
    }
    // "/proto-raw/../other" must not have reached a bucket "other" or anything outside this bucket.
    assert.equal((await send(srv.port, { method: 'HEAD', path: '/other' })).status, 404);
  });

  it('the data dir holds only the metadata database and id-named data files', async () => {
    const files = await filesUnder(srv.dataDir);
    assert.ok(files.length > 0);
    for (const f of files) {
      assert.match(f, /^(meta\/[A-Za-z0-9_.-]+|data\/[0-9a-f]{2}\/[0-9a-f]{34}|tmp\/[0-9a-f]{34}|[a-z.-]+)$/, f);
      assert.ok(!/passwd|other/.test(f), f);
    }
  });
});

describe('methods and subresources', () => {
  it('a method S3 does not have is 501 NotImplemented with error XML', async () => {
    for (const method of ['PATCH', 'PROPFIND', 'MKCOL']) {
      assertS3Error(await send(srv.port, { method, path: `/${B}/existing` }), 501, 'NotImplemented');
    }
    await healthy();
  });

  it('a known method on a resource that does not take it is 405 MethodNotAllowed', async () => {
    const before = await dataFiles(srv.dataDir);
    assertS3Error(await send(srv.port, { method: 'POST', path: `/${B}/existing`, body: 'x' }), 405, 'MethodNotAllowed');
    assertS3Error(await send(srv.port, { method: 'PUT', path: '/' }), 405, 'MethodNotAllowed');
    assertS3Error(await send(srv.port, { method: 'DELETE', path: '/' }), 405, 'MethodNotAllowed');
    await assertDataFilesUnchanged(srv.dataDir, before);
  });

  it('unimplemented subresources are 501 NotImplemented, object-lock calls 400, and nothing changes', async () => {
    const before = await dataFiles(srv.dataDir);
    assertS3Error(await send(srv.port, { method: 'PUT', path: `/${B}?versions`, body: '' }), 501, 'NotImplemented');
    // Retention and legal holds: what AWS answers on a bucket without Object Lock, which every ferry bucket is.
    assertS3Error(await send(srv.port, { method: 'PUT', path: `/${B}/existing?retention`, body: '<Retention/>' }), 400, 'InvalidRequest');
    assertS3Error(await send(srv.port, { method: 'PUT', path: `/${B}/sub?legal-hold`, body: 'x' }), 400, 'InvalidRequest');
    assertS3Error(await send(srv.port, { method: 'DELETE', path: `/${B}/sub?legal-hold` }), 501, 'NotImplemented');
    assertS3Error(await send(srv.port, { method: 'PUT', path: `/${B}?policy`, body: '{}' }), 501, 'NotImplemented');
    assertS3Error(await send(srv.port, { method: 'DELETE', path: `/${B}?logging` }), 501, 'NotImplemented');
    await assertAbsent(srv.port, B, 'sub');
    await assertDataFilesUnchanged(srv.dataDir, before);
    await healthy();
  });

  it('HEAD errors carry status and request id but no body', async () => {
    assertS3Error(await send(srv.port, { method: 'HEAD', path: `/${B}/missing` }), 404, 'NoSuchKey', 'HEAD');
    assertS3Error(await send(srv.port, { method: 'HEAD', path: '/no-such-bucket' }), 404, 'NoSuchBucket', 'HEAD');
    assertS3Error(await send(srv.port, { method: 'HEAD', path: `/${B}/existing?acl` }), 501, 'NotImplemented', 'HEAD');
    assertS3Error(await send(srv.port, { method: 'HEAD', path: `/${B}/existing`, secret: 'wrong-secret-key' }), 403, 'SignatureDoesNotMatch', 'HEAD');
    // The reply after a bodiless HEAD error on the same connection must parse: nothing stray was written.
    const headers = await signHeaders(srv.port, { method: 'HEAD', path: `/${B}/missing` });
    const get = await signHeaders(srv.port, { method: 'GET', path: `/${B}/existing` });
    const both = await socketExchange(srv.port, [requestHead('HEAD', `/${B}/missing`, headers), requestHead('GET', `/${B}/existing`, get)], 'open', 5_000, (raw) => raw.endsWith('\r\n\r\nhello'));
    const replies = both.raw.split(/(?=HTTP\/1\.1 )/);
    assert.equal(replies.length, 2, both.raw);
    assert.match(replies[0]!, /^HTTP\/1\.1 404 /);
    assert.ok(replies[0]!.endsWith('\r\n\r\n'), 'HEAD reply ends with its header block');
    assert.match(replies[1]!, /^HTTP\/1\.1 200 [^]*\r\n\r\nhello$/);
  });
});

describe('robustness', () => {
  it('50 concurrent bad requests of mixed kinds each get an answer in bounded time; a good request then works', async () => {
    const before = await dataFiles(srv.dataDir);
    const kinds: Array<(i: number) => Promise<{ status?: number }>> = [
      (i) => rawRequest(srv.port, { method: 'PUT', path: `/${B}/burst-${i}`, body: 'anonymous', timeoutMs: 10_000 }),
      (i) => send(srv.port, { method: 'PUT', path: `/${B}/burst-${i}`, body: 'x', secret: 'wrong-secret-key', timeoutMs: 10_000 }),
      (i) => send(srv.port, { method: 'PUT', path: `/${B}/burst-${i}`, body: 'x', payloadHash: sha256Hex('y'), timeoutMs: 10_000 }),
      (i) => send(srv.port, { method: 'PUT', path: `/${B}/burst-${i}`, body: 'x', headers: { 'content-md5': 'bogus' }, timeoutMs: 10_000 }),
      () => send(srv.port, { method: 'POST', path: `/${B}?delete`, body: '<Delete><Object>', headers: { 'content-md5': 'ZxNpvHm/8VG2lhwuWSiA9g==' }, timeoutMs: 10_000 }),
      (i) => send(srv.port, { method: 'PUT', path: `/${B}/burst%zz${i}`, body: 'x', timeoutMs: 10_000 }),
      (i) => send(srv.port, { method: 'PATCH', path: `/${B}/burst-${i}`, timeoutMs: 10_000 }),
      async (i) => {
        const path = `/${B}/burst-${i}`;
        const headers = await signHeaders(srv.port, {
          method: 'PUT', path, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
          headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '4096' },
        });
        const chunks = signedChunks(signingOf(headers), [Buffer.alloc(4096, i)]);
        chunks[0]!.data = Buffer.alloc(4096, i + 1);
        return rawRequest(srv.port, { method: 'PUT', path, headers, body: Buffer.concat(chunks.map(frameChunk)), timeoutMs: 10_000 });
      },
      async (i) => {
        const path = `/${B}/burst-${i}`;
        const headers = await signHeaders(srv.port, { method: 'PUT', path, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': '100000' } });
        return socketExchange(srv.port, [requestHead('PUT', path, headers), Buffer.alloc(30_000)], 'destroy', 10_000);
      },
      (i) => rawRequest(srv.port, { method: 'GET', path: `/${B}/burst-${i}`, headers: { 'x-amz-meta-big': 'v'.repeat(20_000) }, timeoutMs: 10_000 }),
    ];
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => kinds[i % kinds.length]!(i).then(
      (r) => ({ i, status: r.status }),
      (err: Error) => ({ i, status: undefined, error: err.message }),
    )));
    for (const r of results) {
      const kind = r.i % kinds.length;
      if (kind === 8) continue; // the client cut its own connection: there is no reply to wait for.
      assert.ok(r.status !== undefined && r.status >= 400 && r.status < 600, `request ${r.i} (kind ${kind}) got ${JSON.stringify(r)}`);
      assert.notEqual(r.status, 500, `request ${r.i} (kind ${kind}) is not an internal error`);
    }
    assert.ok(Date.now() - started < 20_000, 'the burst was answered in bounded time');
    await healthy();
    const keys = await listKeys(srv.port, B);
    assert.deepEqual(keys.filter((k) => k.startsWith('burst')), []);
    await assertDataFilesUnchanged(srv.dataDir, before);
  });
});
