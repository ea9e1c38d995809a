// SigV4 refusals through the real server over a socket: header auth, presigned URLs, anonymous access; refused writes store nothing.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CopyObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { rawRequest } from '../helpers/raw.ts';
import { assertAbsent, assertDataFilesUnchanged, assertS3Error, dataFiles, send, signHeaders } from '../helpers/protocol.ts';

let srv: TestServer;
let s3: S3Client;
const B = 'proto-auth';

before(async () => {
  srv = await startFerry();
  s3 = srv.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
  assert.equal((await send(srv.port, { method: 'PUT', path: `/${B}` })).status, 200);
  assert.equal((await send(srv.port, { method: 'PUT', path: `/${B}/existing`, body: 'hello' })).status, 200);
});
after(async () => srv.stop());

/** Sends a PUT of `key` with the given headers, expects the error, then checks the key was not stored. */
async function refusedPut(key: string, headers: Record<string, string>, status: number, code: string, body = 'payload'): Promise<void> {
  const before = await dataFiles(srv.dataDir);
  const res = await rawRequest(srv.port, { method: 'PUT', path: `/${B}/${key}`, headers, body });
  assertS3Error(res, status, code);
  await assertAbsent(srv.port, B, key);
  await assertDataFilesUnchanged(srv.dataDir, before);
}

function replaceSignature(auth: string, signature: string): string {
  return auth.replace(/Signature=[0-9a-f]+/, `Signature=${signature}`);
}

describe('header authentication refusals', () => {
  it('a wrong secret is 403 SignatureDoesNotMatch for reads and writes', async () => {
    const get = await send(srv.port, { method: 'GET', path: `/${B}/existing`, secret: 'not-the-secret-key' });
    assertS3Error(get, 403, 'SignatureDoesNotMatch');
    assert.match(get.text, /<StringToSign>AWS4-HMAC-SHA256\n/);
    const headers = await signHeaders(srv.port, { method: 'PUT', path: `/${B}/wrong-secret`, body: 'payload', secret: 'not-the-secret-key' });
    await refusedPut('wrong-secret', headers, 403, 'SignatureDoesNotMatch');
  });

  it('an unknown access key is 403 InvalidAccessKeyId', async () => {
    const headers = await signHeaders(srv.port, { method: 'PUT', path: `/${B}/unknown-key`, body: 'payload', accessKey: 'AKIDNOTKNOWNHERE' });
    await refusedPut('unknown-key', headers, 403, 'InvalidAccessKeyId');
    assertS3Error(await send(srv.port, { method: 'GET', path: `/${B}/existing`, accessKey: 'AKIDNOTKNOWNHERE' }), 403, 'InvalidAccessKeyId');
  });

  it('malformed Authorization headers are 400s naming the fault', async () => {
    const good = await signHeaders(srv.port, { method: 'GET', path: `/${B}/existing` });
    const auth = good.authorization!;
    const credential = /Credential=([^,]+)/.exec(auth)![1]!;
    const cases: Array<[string, string, string]> = [
      ['AWS4-HMAC-SHA256 Credential=' + credential, 'AuthorizationHeaderMalformed', 'missing SignedHeaders and Signature'],
      // Node trims a trailing space off a header value, so "no components" needs something after it.
      ['AWS4-HMAC-SHA256 ,', 'AuthorizationHeaderMalformed', 'no components'],
      [auth.replace(/SignedHeaders=[^,]+,\s*/, ''), 'AuthorizationHeaderMalformed', 'missing SignedHeaders'],
      [auth.replace(/,\s*Signature=[0-9a-f]+/, ''), 'AuthorizationHeaderMalformed', 'missing Signature'],
      [auth.replace(credential, credential.split('/').slice(0, 3).join('/')), 'AuthorizationHeaderMalformed', 'short credential'],
      [auth.replace(credential, credential.replace('/s3/', '/ec2/')), 'AuthorizationHeaderMalformed', 'another service'],
      [auth.replace(credential, credential.replace('aws4_request', 'aws5_request')), 'AuthorizationHeaderMalformed', 'bad terminator'],
      [auth.replace(/\/\d{8}\//, '/2013ab24/'), 'AuthorizationHeaderMalformed', 'bad credential date'],
      [auth.replace(/\/\d{8}\//, '/20130524/'), 'AuthorizationHeaderMalformed', 'credential date is not x-amz-date'],
      [auth.replace('SignedHeaders=', 'SignedHeaders=;'), 'AuthorizationHeaderMalformed', 'empty signed header name'],
      [auth + ', Bogus=1', 'AuthorizationHeaderMalformed', 'unknown component'],
      // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html: one algorithm only.
      ['Bearer abc', 'InvalidArgument', 'another scheme'],
      ['AWS4-HMAC-SHA256', 'InvalidArgument', 'no space at all'],
      ['AWS FERRYTESTACCESSKEY', 'InvalidArgument', 'signature V2 without a signature'],
    ];
    for (const [value, code, why] of cases) {
      const res = await rawRequest(srv.port, { method: 'GET', path: `/${B}/existing`, headers: { ...good, authorization: value } });
      assert.equal(res.status, 400, `${why}: ${res.text}`);
      assertS3Error(res, 400, code);
    }
    // A signature V2 header is verified as such (test/s3/auth-v2.test.ts): this one does not match.
    const v2 = await rawRequest(srv.port, { method: 'GET', path: `/${B}/existing`, headers: { ...good, authorization: 'AWS FERRYTESTACCESSKEY:c2lnbmF0dXJl' } });
    assertS3Error(v2, 403, 'SignatureDoesNotMatch');
    // A signature of the wrong shape cannot match: 403, not 400.
    const shortSig = await rawRequest(srv.port, { method: 'GET', path: `/${B}/existing`, headers: { ...good, authorization: replaceSignature(auth, 'abc') } });
    assertS3Error(shortSig, 403, 'SignatureDoesNotMatch');
  });

  it('a credential scoped to another region is 400 AuthorizationHeaderMalformed naming the expected region', async () => {
    const headers = await signHeaders(srv.port, { method: 'PUT', path: `/${B}/other-region`, body: 'payload', region: 'eu-west-3' });
    await refusedPut('other-region', headers, 400, 'AuthorizationHeaderMalformed');
    const res = await send(srv.port, { method: 'GET', path: `/${B}/existing`, region: 'eu-west-3' });
    assert.match(res.text, /<Region>us-east-1<\/Region>/);
  });

  it('x-amz-date 20 minutes off either way is 403 RequestTimeTooSkewed', async () => {
    for (const offset of [-20 * 60_000, 20 * 60_000]) {
      const date = new Date(Date.now() + offset);
      const headers = await signHeaders(srv.port, { method: 'PUT', path: `/${B}/skewed`, body: 'payload', date });
      await refusedPut('skewed', headers, 403, 'RequestTimeTooSkewed');
    }
  });

  it('a signature over another path, query or header value than sent is 403 SignatureDoesNotMatch', async () => {
    const otherPath = await signHeaders(srv.port, { method: 'PUT', path: `/${B}/sent-path`, body: 'payload', signPath: `/${B}/signed-path` });
    await refusedPut('sent-path', otherPath, 403, 'SignatureDoesNotMatch');
    await assertAbsent(srv.port, B, 'signed-path');

    const before = await dataFiles(srv.dataDir);
    const query = await signHeaders(srv.port, { method: 'PUT', path: `/${B}/tagged?tagging`, body: 'x', signPath: `/${B}/tagged?tagging&x=1` });
    assertS3Error(await rawRequest(srv.port, { method: 'PUT', path: `/${B}/tagged?tagging`, headers: query, body: 'x' }), 403, 'SignatureDoesNotMatch');
    const list = await signHeaders(srv.port, { method: 'GET', path: `/${B}?list-type=2&prefix=a` });
    assertS3Error(await rawRequest(srv.port, { method: 'GET', path: `/${B}?list-type=2&prefix=b`, headers: list }), 403, 'SignatureDoesNotMatch');

    const meta = await signHeaders(srv.port, { method: 'PUT', path: `/${B}/meta-changed`, body: 'payload', headers: { 'x-amz-meta-color': 'blue' } });
    await refusedPut('meta-changed', { ...meta, 'x-amz-meta-color': 'red' }, 403, 'SignatureDoesNotMatch');
    const method = await signHeaders(srv.port, { method: 'GET', path: `/${B}/existing` });
    assertS3Error(await rawRequest(srv.port, { method: 'DELETE', path: `/${B}/existing`, headers: method }), 403, 'SignatureDoesNotMatch');
    assert.equal((await send(srv.port, { method: 'HEAD', path: `/${B}/existing` })).status, 200, 'the object survived');
    await assertDataFilesUnchanged(srv.dataDir, before);
  });

  it('a body other than the one signed is 400 XAmzContentSHA256Mismatch and nothing is stored', async () => {
    const headers = await signHeaders(srv.port, { method: 'PUT', path: `/${B}/swapped-body`, body: 'payload' });
    await refusedPut('swapped-body', headers, 400, 'XAmzContentSHA256Mismatch', 'PAYLOAD');
  });

  it('an x-amz-* header added after signing is 403 AccessDenied naming it', async () => {
    const headers = await signHeaders(srv.port, { method: 'PUT', path: `/${B}/unsigned-header`, body: 'payload' });
    const before = await dataFiles(srv.dataDir);
    const res = await rawRequest(srv.port, { method: 'PUT', path: `/${B}/unsigned-header`, headers: { ...headers, 'x-amz-meta-added': 'later' }, body: 'payload' });
    assertS3Error(res, 403, 'AccessDenied');
    assert.match(res.text, /<HeadersNotSigned>x-amz-meta-added<\/HeadersNotSigned>/);
    await assertAbsent(srv.port, B, 'unsigned-header');
    await assertDataFilesUnchanged(srv.dataDir, before);
  });

  it('a header-signed request without x-amz-content-sha256 is 400 InvalidRequest', async () => {
    const headers = await signHeaders(srv.port, { method: 'PUT', path: `/${B}/no-sha`, body: 'payload' });
    // Re-sign without the header: the signer always adds it, so drop it from both the signature and the request.
    const { 'x-amz-content-sha256': _dropped, ...rest } = headers;
    await refusedPut('no-sha', rest, 400, 'InvalidRequest');
  });

  it('anonymous requests are 403 AccessDenied; a HEAD gets no body', async () => {
    assertS3Error(await rawRequest(srv.port, { method: 'GET', path: `/${B}/existing` }), 403, 'AccessDenied');
    assertS3Error(await rawRequest(srv.port, { method: 'GET', path: '/' }), 403, 'AccessDenied');
    assertS3Error(await rawRequest(srv.port, { method: 'HEAD', path: `/${B}/existing` }), 403, 'AccessDenied', 'HEAD');
    await refusedPut('anonymous', {}, 403, 'AccessDenied');
    assertS3Error(await rawRequest(srv.port, { method: 'DELETE', path: `/${B}/existing` }), 403, 'AccessDenied');
    assert.equal((await send(srv.port, { method: 'HEAD', path: `/${B}/existing` })).status, 200);
  });
});

describe('presigned URLs', () => {
  const pathOf = (url: string): string => new URL(url).pathname + new URL(url).search;
  const getUrl = async (expiresIn = 300, signingDate?: Date): Promise<string> =>
    pathOf(await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: 'existing' }), { expiresIn, ...(signingDate ? { signingDate } : {}) }));

  it('an intact URL works (the baseline of the tampering cases)', async () => {
    const res = await rawRequest(srv.port, { method: 'GET', path: await getUrl() });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'hello');
  });

  it('a tampered X-Amz-Expires or X-Amz-Date is 403 SignatureDoesNotMatch', async () => {
    const url = await getUrl(300);
    const longer = url.replace('X-Amz-Expires=300', 'X-Amz-Expires=3600');
    assert.notEqual(longer, url);
    assertS3Error(await rawRequest(srv.port, { method: 'GET', path: longer }), 403, 'SignatureDoesNotMatch');
    // Same day, one second later: still parses, still within its validity, but not what was signed.
    const date = /X-Amz-Date=(\d{8}T\d{6}Z)/.exec(url)![1]!;
    const ms = Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8), +date.slice(9, 11), +date.slice(11, 13), +date.slice(13, 15));
    const shifted = new Date(ms + (date.endsWith('59Z') ? -1000 : 1000)).toISOString().replace(/[-:]|\.\d{3}/g, '');
    assertS3Error(await rawRequest(srv.port, { method: 'GET', path: url.replace(date, shifted) }), 403, 'SignatureDoesNotMatch');
  });

  it('an X-Amz-Date on another day than the credential is 400 AuthorizationQueryParametersError', async () => {
    const url = await getUrl();
    const date = /X-Amz-Date=(\d{8})/.exec(url)![1]!;
    assertS3Error(await rawRequest(srv.port, { method: 'GET', path: url.replace(`X-Amz-Date=${date}`, 'X-Amz-Date=20200101') }), 400, 'AuthorizationQueryParametersError');
  });

  it('each missing auth parameter is 400 AuthorizationQueryParametersError', async () => {
    const url = await getUrl();
    for (const name of ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature']) {
      const stripped = url.replace(new RegExp(`([?&])${name}=[^&]*&?`), '$1').replace(/&$/, '');
      assert.ok(!stripped.includes(`${name}=`), name);
      const res = await rawRequest(srv.port, { method: 'GET', path: stripped });
      assertS3Error(res, 400, 'AuthorizationQueryParametersError');
    }
    const bad = url.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=soon');
    assertS3Error(await rawRequest(srv.port, { method: 'GET', path: bad }), 400, 'AuthorizationQueryParametersError');
  });

  it('an expired URL is 403 AccessDenied', async () => {
    assertS3Error(await rawRequest(srv.port, { method: 'GET', path: await getUrl(60, new Date(Date.now() - 3_600_000)) }), 403, 'AccessDenied');
  });

  it('a tampered presigned PUT stores nothing', async () => {
    const url = pathOf(await getSignedUrl(s3, new PutObjectCommand({ Bucket: B, Key: 'presigned-put' }), { expiresIn: 300 }));
    const before = await dataFiles(srv.dataDir);
    const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(url)![1]!;
    const flipped = url.replace(sig, (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    assertS3Error(await rawRequest(srv.port, { method: 'PUT', path: flipped, body: 'presigned' }), 403, 'SignatureDoesNotMatch');
    const otherKey = url.replace('/presigned-put?', '/presigned-other?');
    assertS3Error(await rawRequest(srv.port, { method: 'PUT', path: otherKey, body: 'presigned' }), 403, 'SignatureDoesNotMatch');
    await assertAbsent(srv.port, B, 'presigned-put');
    await assertAbsent(srv.port, B, 'presigned-other');
    await assertDataFilesUnchanged(srv.dataDir, before);
    // The untouched URL still works: the refusals above were about the tampering only.
    assert.equal((await rawRequest(srv.port, { method: 'PUT', path: url, body: 'presigned' })).status, 200);
  });

  // The SDK presigners hoist every x-amz-* request header (but SSE ones) into the query, and S3 honours them as headers.
  // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
  it('a presigned PUT applies the metadata and tagging hoisted into its query', async () => {
    const url = pathOf(await getSignedUrl(s3, new PutObjectCommand({ Bucket: B, Key: 'hoisted', Metadata: { color: 'blue', city: 'Zürich' }, Tagging: 'team=edge' }), { expiresIn: 300 }));
    assert.match(url, /x-amz-meta-color=blue/);
    const put = await rawRequest(srv.port, { method: 'PUT', path: url, body: 'with meta' });
    assert.equal(put.status, 200, put.text);
    const head = await send(srv.port, { method: 'HEAD', path: `/${B}/hoisted` });
    assert.equal(head.headers['x-amz-meta-color'], 'blue');
    // Non-ASCII metadata comes back RFC 2047-encoded (test/s3/protocol-headers.test.ts); a query value is UTF-8.
    assert.equal(head.headers['x-amz-meta-city'], `=?UTF-8?B?${Buffer.from('Zürich', 'utf8').toString('base64')}?=`);
    assert.equal(head.headers['x-amz-tagging-count'], '1');
  });

  it('a presigned CopyObject copies: x-amz-copy-source in the query routes like the header', async () => {
    const url = pathOf(await getSignedUrl(s3, new CopyObjectCommand({ Bucket: B, Key: 'copied', CopySource: `${B}/existing` }), { expiresIn: 300 }));
    assert.match(url, /x-amz-copy-source=/);
    const res = await rawRequest(srv.port, { method: 'PUT', path: url });
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /<CopyObjectResult/);
    assert.equal((await send(srv.port, { method: 'GET', path: `/${B}/copied` })).text, 'hello');
  });

  it('a hoisted header value that no header could carry is 400 InvalidArgument and stores nothing', async () => {
    const before = await dataFiles(srv.dataDir);
    for (const value of ['5 €', 'line\r\nx-injected: 1']) {
      const url = pathOf(await getSignedUrl(s3, new PutObjectCommand({ Bucket: B, Key: 'hoisted-bad', Metadata: { price: value } }), { expiresIn: 300 }));
      assertS3Error(await rawRequest(srv.port, { method: 'PUT', path: url, body: 'x' }), 400, 'InvalidArgument');
    }
    await assertAbsent(srv.port, B, 'hoisted-bad');
    await assertDataFilesUnchanged(srv.dataDir, before);
  });

  it('an Authorization header on a presigned URL is 400 InvalidArgument', async () => {
    const url = await getUrl();
    const headers = await signHeaders(srv.port, { method: 'GET', path: `/${B}/existing` });
    assertS3Error(await rawRequest(srv.port, { method: 'GET', path: url, headers }), 400, 'InvalidArgument');
  });
});
