// AWS Signature Version 2 over raw HTTP, signed by a small V2 signer written from the AWS page (not the server's code):
// header and presigned forms, sub-resources, virtual-host style, and every refusal.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { startFerry, ACCESS_KEY, SECRET_KEY, type TestServer } from '../helpers/server.ts';
import { rawRequest, type RawResponse } from '../helpers/raw.ts';
import { assertS3Error } from '../helpers/protocol.ts';

/** The sub-resources the AWS page lists, plus the response-* overrides and the later delete/tagging. */
const SUB_RESOURCES = [
  'acl', 'delete', 'lifecycle', 'location', 'logging', 'notification', 'partNumber', 'policy', 'requestPayment',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning',
  'versions', 'website',
];

interface V2Request {
  method: string;
  /** Path and query as sent. */
  path: string;
  headers?: Record<string, string>;
  /** The bucket of a virtual-host-style request: "/bucket" prefixes the signed resource. */
  hostBucket?: string;
  secret?: string;
}

/** StringToSign = Verb \n Content-MD5 \n Content-Type \n Date \n CanonicalizedAmzHeaders CanonicalizedResource */
function stringToSign(r: V2Request, date: string): string {
  const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const amz = Object.keys(headers).filter((k) => k.startsWith('x-amz-')).sort().map((k) => `${k}:${headers[k]!.trim()}\n`).join('');
  const [pathname, query = ''] = r.path.split('?', 2) as [string, string?];
  // A request for the bucket itself signs as "/bucket/".
  let resource = (r.hostBucket ? `/${r.hostBucket}` : '') + pathname;
  if (!r.hostBucket && pathname.lastIndexOf('/') === 0 && pathname.length > 1) resource += '/';
  const subs = query.split('&').filter((p) => SUB_RESOURCES.includes(p.split('=')[0]!)).map((p) => {
    const eq = p.indexOf('=');
    return eq === -1 ? p : `${p.slice(0, eq)}=${decodeURIComponent(p.slice(eq + 1))}`;
  }).sort();
  if (subs.length) resource += '?' + subs.join('&');
  return `${r.method}\n${headers['content-md5'] ?? ''}\n${headers['content-type'] ?? ''}\n${date}\n${amz}${resource}`;
}

function hmac(secret: string, text: string): string {
  return createHmac('sha1', secret).update(text, 'utf8').digest('base64');
}

/** Header form: Date (or x-amz-date, which empties the Date line) and "Authorization: AWS AKID:signature". */
function signHeader(r: V2Request, accessKey = ACCESS_KEY): Record<string, string> {
  const headers = { ...(r.headers ?? {}) };
  if (!('date' in headers) && !('x-amz-date' in headers)) headers.date = new Date().toUTCString();
  const date = 'x-amz-date' in headers ? '' : headers.date!;
  const signature = hmac(r.secret ?? SECRET_KEY, stringToSign({ ...r, headers }, date));
  return { ...headers, authorization: `AWS ${accessKey}:${signature}` };
}

/** Query form: the Expires epoch seconds stand in for Date. */
function presign(r: V2Request, expires: number, accessKey = ACCESS_KEY): string {
  const signature = hmac(r.secret ?? SECRET_KEY, stringToSign(r, String(expires)));
  const sep = r.path.includes('?') ? '&' : '?';
  return `${r.path}${sep}AWSAccessKeyId=${encodeURIComponent(accessKey)}&Expires=${expires}&Signature=${encodeURIComponent(signature)}`;
}

let srv: TestServer;
const B = 'sigv2';
const inOneHour = (): number => Math.floor(Date.now() / 1000) + 3600;

async function v2(r: V2Request & { body?: string | Buffer }): Promise<RawResponse> {
  return rawRequest(srv.port, { method: r.method, path: r.path, headers: signHeader(r), ...(r.body !== undefined ? { body: r.body } : {}) });
}

before(async () => {
  srv = await startFerry();
  const made = await v2({ method: 'PUT', path: `/${B}` });
  assert.equal(made.status, 200, made.text);
});
after(async () => srv.stop());

describe('header form', () => {
  it('PUT, GET and list an object signed with Date, Content-Type, Content-MD5 and x-amz-* headers', async () => {
    const body = 'signature version two';
    const md5 = createHash('md5').update(body).digest('base64');
    const put = await v2({
      method: 'PUT', path: `/${B}/dir/a%20b+c.txt`, body,
      headers: { 'content-type': 'text/plain', 'content-md5': md5, 'x-amz-meta-Color': ' blue ', 'x-amz-meta-a': 'first' },
    });
    assert.equal(put.status, 200, put.text);
    const get = await v2({ method: 'GET', path: `/${B}/dir/a%20b+c.txt` });
    assert.equal(get.status, 200, get.text);
    assert.equal(get.text, body);
    assert.equal(get.headers['content-type'], 'text/plain');
    assert.equal(get.headers['x-amz-meta-color'], 'blue');
    const list = await v2({ method: 'GET', path: `/${B}?prefix=dir%2F&max-keys=5` });
    assert.equal(list.status, 200, list.text);
    assert.match(list.text, /<Key>dir\/a b\+c\.txt<\/Key>/);
    const listV2 = await v2({ method: 'GET', path: `/${B}?list-type=2` });
    assert.match(listV2.text, /<KeyCount>1<\/KeyCount>/);
    const buckets = await v2({ method: 'GET', path: '/' });
    assert.match(buckets.text, new RegExp(`<Name>${B}</Name>`));
  });

  it('x-amz-date replaces Date, and the Date line signs empty', async () => {
    const res = await v2({ method: 'PUT', path: `/${B}/amz-date`, body: 'x', headers: { 'x-amz-date': new Date().toUTCString() } });
    assert.equal(res.status, 200, res.text);
  });

  it('sub-resources are signed: a whole multipart upload, a part GET and a response-* override', async () => {
    const created = await v2({ method: 'POST', path: `/${B}/mp?uploads` });
    assert.equal(created.status, 200, created.text);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.text)![1]!;
    const part = await v2({ method: 'PUT', path: `/${B}/mp?partNumber=1&uploadId=${encodeURIComponent(uploadId)}`, body: 'part one' });
    assert.equal(part.status, 200, part.text);
    const xml = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${part.headers.etag}</ETag></Part></CompleteMultipartUpload>`;
    const done = await v2({ method: 'POST', path: `/${B}/mp?uploadId=${encodeURIComponent(uploadId)}`, body: xml, headers: { 'content-type': 'application/xml' } });
    assert.equal(done.status, 200, done.text);
    const got = await v2({ method: 'GET', path: `/${B}/mp?partNumber=1&response-content-type=${encodeURIComponent('text/x; charset=utf-8')}` });
    assert.equal(got.status, 206, got.text);
    assert.equal(got.text, 'part one');
    assert.equal(got.headers['content-type'], 'text/x; charset=utf-8');
  });

  it('a Content-MD5 the body does not match is 400 BadDigest', async () => {
    const res = await v2({ method: 'PUT', path: `/${B}/bad-md5`, body: 'abc', headers: { 'content-md5': createHash('md5').update('abd').digest('base64') } });
    assertS3Error(res, 400, 'BadDigest');
  });
});

describe('presigned URLs', () => {
  it('a presigned GET serves the object until Expires', async () => {
    await v2({ method: 'PUT', path: `/${B}/shared.txt`, body: 'shared' });
    const res = await rawRequest(srv.port, { method: 'GET', path: presign({ method: 'GET', path: `/${B}/shared.txt` }, inOneHour()) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'shared');
  });

  it('a presigned PUT signs the Content-Type it must be sent with, and x-amz-* parameters act as headers', async () => {
    const path = `/${B}/uploaded.txt?x-amz-meta-origin=presigned`;
    const url = presign({ method: 'PUT', path, headers: { 'content-type': 'text/csv', 'x-amz-meta-origin': 'presigned' } }, inOneHour());
    const put = await rawRequest(srv.port, { method: 'PUT', path: url, headers: { 'content-type': 'text/csv' }, body: 'a,b' });
    assert.equal(put.status, 200, put.text);
    const head = await v2({ method: 'HEAD', path: `/${B}/uploaded.txt` });
    assert.equal(head.headers['content-type'], 'text/csv');
    assert.equal(head.headers['x-amz-meta-origin'], 'presigned');
    // Sent with another Content-Type than signed, the same URL no longer matches.
    const other = await rawRequest(srv.port, { method: 'PUT', path: url, headers: { 'content-type': 'text/plain' }, body: 'a,b' });
    assertS3Error(other, 403, 'SignatureDoesNotMatch', 'PUT');
  });

  it('an expired URL is 403 AccessDenied "Request has expired"', async () => {
    const expires = Math.floor(Date.now() / 1000) - 5;
    const res = await rawRequest(srv.port, { method: 'GET', path: presign({ method: 'GET', path: `/${B}/shared.txt` }, expires) });
    assertS3Error(res, 403, 'AccessDenied');
    assert.match(res.text, /<Message>Request has expired<\/Message>/);
    assert.match(res.text, new RegExp(`<Expires>${new Date(expires * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')}</Expires>`));
  });

  it('a URL without Expires, or with a non-numeric one, is 403 AccessDenied', async () => {
    const url = presign({ method: 'GET', path: `/${B}/shared.txt` }, inOneHour());
    const noExpires = await rawRequest(srv.port, { method: 'GET', path: url.replace(/&Expires=\d+/, '') });
    assertS3Error(noExpires, 403, 'AccessDenied');
    assert.match(noExpires.text, /requires the Signature, Expires and AWSAccessKeyId parameters/);
    const bad = await rawRequest(srv.port, { method: 'GET', path: url.replace(/&Expires=\d+/, '&Expires=soon') });
    assertS3Error(bad, 403, 'AccessDenied');
  });
});

describe('refusals', () => {
  it('a wrong signature is 403 SignatureDoesNotMatch naming the string to sign, in both forms', async () => {
    const headers = signHeader({ method: 'GET', path: `/${B}/shared.txt`, secret: 'not-the-secret-key' });
    const res = await rawRequest(srv.port, { method: 'GET', path: `/${B}/shared.txt`, headers });
    assertS3Error(res, 403, 'SignatureDoesNotMatch');
    assert.match(res.text, new RegExp(`<StringToSign>GET\n\n\n${headers.date}\n/${B}/shared.txt</StringToSign>`));
    // Signed for another key than the one requested.
    const moved = await rawRequest(srv.port, { method: 'GET', path: `/${B}/other.txt`, headers: signHeader({ method: 'GET', path: `/${B}/shared.txt` }) });
    assertS3Error(moved, 403, 'SignatureDoesNotMatch');
    const url = presign({ method: 'GET', path: `/${B}/shared.txt`, secret: 'not-the-secret-key' }, inOneHour());
    assertS3Error(await rawRequest(srv.port, { method: 'GET', path: url }), 403, 'SignatureDoesNotMatch');
  });

  it('an unknown access key is 403 InvalidAccessKeyId, in both forms', async () => {
    const res = await rawRequest(srv.port, { method: 'GET', path: `/${B}/shared.txt`, headers: signHeader({ method: 'GET', path: `/${B}/shared.txt` }, 'NOSUCHKEY') });
    assertS3Error(res, 403, 'InvalidAccessKeyId');
    const url = presign({ method: 'GET', path: `/${B}/shared.txt` }, inOneHour(), 'NOSUCHKEY');
    assertS3Error(await rawRequest(srv.port, { method: 'GET', path: url }), 403, 'InvalidAccessKeyId');
  });

  it('a Date 20 minutes off either way is 403 RequestTimeTooSkewed; no date at all is 403 AccessDenied', async () => {
    for (const offset of [-20 * 60_000, 20 * 60_000]) {
      const headers = signHeader({ method: 'GET', path: `/${B}/shared.txt`, headers: { date: new Date(Date.now() + offset).toUTCString() } });
      assertS3Error(await rawRequest(srv.port, { method: 'GET', path: `/${B}/shared.txt`, headers }), 403, 'RequestTimeTooSkewed');
    }
    const undated = await rawRequest(srv.port, { method: 'GET', path: `/${B}/shared.txt`, headers: { authorization: `AWS ${ACCESS_KEY}:AAAAAAAAAAAAAAAAAAAAAAAAAAA=` } });
    assertS3Error(undated, 403, 'AccessDenied');
  });

  it('an Authorization header without AKID:signature is 400 InvalidArgument', async () => {
    const res = await rawRequest(srv.port, { method: 'GET', path: `/${B}/shared.txt`, headers: { date: new Date().toUTCString(), authorization: `AWS ${ACCESS_KEY}` } });
    assertS3Error(res, 400, 'InvalidArgument');
  });

  it('a V2 query and an Authorization header together are 400 InvalidArgument', async () => {
    const url = presign({ method: 'GET', path: `/${B}/shared.txt` }, inOneHour());
    const res = await rawRequest(srv.port, { method: 'GET', path: url, headers: signHeader({ method: 'GET', path: `/${B}/shared.txt` }) });
    assertS3Error(res, 400, 'InvalidArgument');
  });
});

describe('virtual-host style', () => {
  let vh: TestServer;
  before(async () => {
    vh = await startFerry({ FERRY_DOMAIN: 's3.edge.test' });
  });
  after(async () => vh.stop());

  it('signs /bucket plus the path, for both forms', async () => {
    const host = `photos.s3.edge.test:${vh.port}`;
    const send = (r: V2Request & { body?: string }): Promise<RawResponse> =>
      rawRequest(vh.port, { method: r.method, path: r.path, headers: { ...signHeader({ ...r, hostBucket: 'photos' }), host }, ...(r.body ? { body: r.body } : {}) });
    assert.equal((await send({ method: 'PUT', path: '/' })).status, 200);
    const put = await send({ method: 'PUT', path: '/2026/a%20b.jpg', body: 'vh v2' });
    assert.equal(put.status, 200, put.text);
    const list = await send({ method: 'GET', path: '/?list-type=2' });
    assert.match(list.text, /<Key>2026\/a b\.jpg<\/Key>/);
    const url = presign({ method: 'GET', path: '/2026/a%20b.jpg', hostBucket: 'photos' }, inOneHour());
    const got = await rawRequest(vh.port, { method: 'GET', path: url, headers: { host } });
    assert.equal(got.text, 'vh v2');
  });
});
