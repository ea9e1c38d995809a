// POST Object (browser-form uploads): forms from @aws-sdk/s3-presigned-post (SigV4) and hand-made SigV2 policies,
// posted with fetch + FormData as a browser would; the policy's conditions and the size range are enforced.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import type { PresignedPostOptions } from '@aws-sdk/s3-presigned-post';
import { ACCESS_KEY, SECRET_KEY, startFerry, type TestServer } from '../helpers/server.ts';
import { rawRequest, signedRequest } from '../helpers/raw.ts';

let srv: TestServer;
let s3: S3Client;
const B = 'post-object';

before(async () => {
  srv = await startFerry();
  s3 = srv.client();
  await s3.send(new CreateBucketCommand({ Bucket: B }));
});
after(async () => srv.stop());

interface Posted {
  status: number;
  headers: Headers;
  text: string;
}

type Fields = Record<string, string>;

/** Posts a form with `fields` first, then the file, then `after` (fields S3 must ignore). */
async function post(url: string, fields: Fields, file?: { bytes: Uint8Array | string; name?: string }, trailing: Fields = {}): Promise<Posted> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  if (file) form.append('file', new Blob([file.bytes]), file.name ?? 'upload.bin');
  for (const [name, value] of Object.entries(trailing)) form.append(name, value);
  const res = await fetch(url, { method: 'POST', body: form, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function presign(options: Partial<PresignedPostOptions> & { Key: string }): Promise<{ url: string; fields: Fields }> {
  return createPresignedPost(s3, { Bucket: B, Expires: 300, ...options });
}

async function getText(key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: key }));
  return got.Body!.transformToString();
}

async function assertAbsent(key: string): Promise<void> {
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: B, Key: key })), (err: { name?: string }) => err.name === 'NotFound');
}

function unescapeXml(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

function assertError(res: Posted, status: number, code: string, message?: RegExp, why = ''): void {
  assert.equal(res.status, status, `${why} ${res.text}`);
  assert.match(res.text, new RegExp(`<Code>${code}</Code>`), why);
  if (message) assert.match(unescapeXml(res.text), message, why);
}

/** A SigV2 form: the policy signed with HMAC-SHA1, as boto's and older browser libraries do. */
function v2Form(policy: object, secret = SECRET_KEY): Fields {
  const encoded = Buffer.from(JSON.stringify(policy)).toString('base64');
  return { AWSAccessKeyId: ACCESS_KEY, policy: encoded, signature: createHmac('sha1', secret).update(encoded).digest('base64') };
}

function inAnHour(): string {
  return new Date(Date.now() + 3600_000).toISOString();
}

test('a presigned POST uploads the file, answers 204 with ETag and Location, and GET returns the same bytes', async () => {
  const { url, fields } = await presign({ Key: 'plain.txt' });
  const res = await post(url, fields, { bytes: 'hello form' });
  assert.equal(res.status, 204, res.text);
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'plain.txt' }));
  assert.equal(res.headers.get('etag'), head.ETag);
  assert.equal(res.headers.get('location'), `${srv.endpoint}/${B}/plain.txt`);
  assert.ok(res.headers.get('x-amz-request-id'));
  assert.equal(await getText('plain.txt'), 'hello form');
});

test('a 20 MiB file streams through the form byte for byte', async () => {
  const bytes = Buffer.alloc(20 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
  const { url, fields } = await presign({ Key: 'big.bin', Conditions: [['content-length-range', 0, 32 * 1024 * 1024]] });
  const res = await post(url, fields, { bytes });
  assert.equal(res.status, 204, res.text);
  const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'big.bin' }));
  const back = Buffer.from(await got.Body!.transformToByteArray());
  assert.equal(back.length, bytes.length);
  assert.ok(back.equals(bytes), 'downloaded bytes differ from the uploaded ones');
});

test('${filename} in the key takes the uploaded file name', async () => {
  const { url, fields } = await presign({ Key: 'uploads/${filename}' });
  const res = await post(url, fields, { bytes: 'named', name: 'photo.jpg' });
  assert.equal(res.status, 204, res.text);
  assert.equal(await getText('uploads/photo.jpg'), 'named');
});

test('a key inside a starts-with prefix is accepted, one outside it is refused with the failed condition', async () => {
  const { url, fields } = await presign({ Key: 'users/42/${filename}' });
  const ok = await post(url, { ...fields, key: 'users/42/mine.txt' }, { bytes: 'mine' });
  assert.equal(ok.status, 204, ok.text);
  const bad = await post(url, { ...fields, key: 'users/43/theirs.txt' }, { bytes: 'theirs' });
  assertError(bad, 403, 'AccessDenied', /Invalid according to Policy: Policy Condition failed: \["starts-with", "\$key", "users\/42\/"\]/);
  await assertAbsent('users/43/theirs.txt');
});

test('content-length-range refuses a file too large or too small, and stores nothing', async () => {
  const { url, fields } = await presign({ Key: 'sized.bin', Conditions: [['content-length-range', 10, 100]] });
  const big = await post(url, fields, { bytes: Buffer.alloc(101, 1) });
  assertError(big, 400, 'EntityTooLarge', /<MaxSizeAllowed>100<\/MaxSizeAllowed>/);
  const small = await post(url, fields, { bytes: '123456789' });
  assertError(small, 400, 'EntityTooSmall', /<MinSizeAllowed>10<\/MinSizeAllowed>/);
  await assertAbsent('sized.bin');
  const fits = await post(url, fields, { bytes: Buffer.alloc(100, 2) });
  assert.equal(fits.status, 204, fits.text);
});

test('an expired policy is refused', async () => {
  const { url, fields } = await presign({ Key: 'late.txt', Expires: -10 });
  const res = await post(url, fields, { bytes: 'late' });
  assertError(res, 403, 'AccessDenied', /Invalid according to Policy: Policy expired\./);
  await assertAbsent('late.txt');
});

test('a wrong signature answers SignatureDoesNotMatch, an unknown access key InvalidAccessKeyId', async () => {
  const { url, fields } = await presign({ Key: 'sig.txt' });
  const wrong = await post(url, { ...fields, 'X-Amz-Signature': '0'.repeat(64) }, { bytes: 'x' });
  assertError(wrong, 403, 'SignatureDoesNotMatch');
  const stranger = await createPresignedPost(srv.client({ credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'nothing' } }), { Bucket: B, Key: 'sig.txt' });
  const unknown = await post(stranger.url, stranger.fields, { bytes: 'x' });
  assertError(unknown, 403, 'InvalidAccessKeyId');
  await assertAbsent('sig.txt');
});

test('a field the policy does not name is refused as an extra input field; x-ignore-* fields need no condition', async () => {
  const { url, fields } = await presign({ Key: 'extra.txt' });
  const extra = await post(url, { ...fields, 'x-amz-meta-note': 'sneaky' }, { bytes: 'x' });
  assertError(extra, 403, 'AccessDenied', /Extra input fields: x-amz-meta-note/);
  const ignored = await post(url, { ...fields, 'x-ignore-submit': 'Upload' }, { bytes: 'x' });
  assert.equal(ignored.status, 204, ignored.text);
});

test('a form without a file part answers IncorrectNumberOfFilesInPostRequest', async () => {
  const { url, fields } = await presign({ Key: 'nofile.txt' });
  const res = await post(url, fields);
  assertError(res, 400, 'IncorrectNumberOfFilesInPostRequest');
});

test('a form without a key answers InvalidArgument', async () => {
  const { url, fields } = await presign({ Key: 'nokey.txt' });
  const { key: _key, ...rest } = fields;
  const res = await post(url, rest, { bytes: 'x' });
  assertError(res, 400, 'InvalidArgument', /Bucket POST must contain a field named 'key'/);
});

test('fields after the file are ignored', async () => {
  const { url, fields } = await presign({ Key: 'after.txt' });
  const res = await post(url, fields, { bytes: 'before' }, { 'x-amz-meta-late': 'ignored', success_action_status: '201' });
  assert.equal(res.status, 204, res.text);
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'after.txt' }));
  assert.deepEqual(head.Metadata, {});
});

test('success_action_status 201 answers a PostResponse document, 200 an empty body', async () => {
  const created = await presign({ Key: 'status.txt', Fields: { success_action_status: '201' } });
  const res201 = await post(created.url, created.fields, { bytes: 's' });
  assert.equal(res201.status, 201, res201.text);
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'status.txt' }));
  assert.match(res201.text, /<PostResponse>/);
  assert.match(res201.text, new RegExp(`<Location>${srv.endpoint}/${B}/status.txt</Location>`));
  assert.match(res201.text, new RegExp(`<Bucket>${B}</Bucket>`));
  assert.match(res201.text, /<Key>status.txt<\/Key>/);
  assert.ok(unescapeXml(res201.text).includes(`<ETag>${head.ETag}</ETag>`), res201.text);
  const ok = await presign({ Key: 'status.txt', Fields: { success_action_status: '200' } });
  const res200 = await post(ok.url, ok.fields, { bytes: 's' });
  assert.equal(res200.status, 200, res200.text);
  assert.equal(res200.text, '');
});

test('success_action_redirect answers 303 to the URL with bucket, key and etag added', async () => {
  const target = 'https://app.example/done?from=form';
  const { url, fields } = await presign({ Key: 'redirect.txt', Fields: { success_action_redirect: target } });
  const res = await post(url, fields, { bytes: 'r' });
  assert.equal(res.status, 303, res.text);
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'redirect.txt' }));
  const location = new URL(res.headers.get('location')!);
  assert.equal(location.origin + location.pathname, 'https://app.example/done');
  assert.equal(location.searchParams.get('from'), 'form');
  assert.equal(location.searchParams.get('bucket'), B);
  assert.equal(location.searchParams.get('key'), 'redirect.txt');
  assert.equal(location.searchParams.get('etag'), head.ETag);
});

test('Content-Type, Cache-Control and x-amz-meta-* fields are stored with the object', async () => {
  const { url, fields } = await presign({
    Key: 'meta.txt',
    Fields: { 'Content-Type': 'text/plain', 'Cache-Control': 'max-age=60', 'x-amz-meta-owner': 'fleet-7' },
  });
  const res = await post(url, fields, { bytes: 'm' });
  assert.equal(res.status, 204, res.text);
  const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'meta.txt' }));
  assert.equal(head.ContentType, 'text/plain');
  assert.equal(head.CacheControl, 'max-age=60');
  assert.deepEqual(head.Metadata, { owner: 'fleet-7' });
});

test('a tagging field (a Tagging document) tags the object; an encryption field is refused as PutObject refuses it', async () => {
  const tagging = '<Tagging><TagSet><Tag><Key>fleet</Key><Value>north</Value></Tag></TagSet></Tagging>';
  const { url, fields } = await presign({ Key: 'tagged.txt', Fields: { tagging } });
  const res = await post(url, fields, { bytes: 't' });
  assert.equal(res.status, 204, res.text);
  const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'tagged.txt' }));
  assert.deepEqual(tags.TagSet, [{ Key: 'fleet', Value: 'north' }]);
  const sse = await presign({ Key: 'sse.txt', Fields: { 'x-amz-server-side-encryption': 'AES256' } });
  assertError(await post(sse.url, sse.fields, { bytes: 's' }), 501, 'NotImplemented');
  await assertAbsent('sse.txt');
});

test('a starts-with condition on Content-Type holds for each type of a comma-separated list', async () => {
  const { url, fields } = await presign({ Key: 'types.txt', Conditions: [['starts-with', '$Content-Type', 'image/']] });
  const ok = await post(url, { ...fields, 'Content-Type': 'image/png, image/jpeg' }, { bytes: 't' });
  assert.equal(ok.status, 204, ok.text);
  const bad = await post(url, { ...fields, 'Content-Type': 'image/png,text/html' }, { bytes: 't' });
  assertError(bad, 403, 'AccessDenied', /Policy Condition failed/);
});

test('a SigV2 form (AWSAccessKeyId, signature over the policy) uploads; field names match case-insensitively', async () => {
  const policy = { expiration: inAnHour(), conditions: [{ bucket: B }, ['StArTs-WiTh', '$KeY', 'v2/'], { acl: 'private' }, ['content-length-range', 0, 1024]] };
  const res = await post(`${srv.endpoint}/${B}`, { kEy: 'v2/object.txt', aCl: 'private', ...v2Form(policy) }, { bytes: 'signed v2' });
  assert.equal(res.status, 204, res.text);
  assert.equal(await getText('v2/object.txt'), 'signed v2');
  const wrong = await post(`${srv.endpoint}/${B}`, { key: 'v2/other.txt', acl: 'private', ...v2Form(policy, 'not-the-secret') }, { bytes: 'x' });
  assertError(wrong, 403, 'SignatureDoesNotMatch');
});

test('a policy must name the bucket posted to', async () => {
  const policy = { expiration: inAnHour(), conditions: [['starts-with', '$key', '']] };
  const unnamed = await post(`${srv.endpoint}/${B}`, { key: 'nobucket.txt', ...v2Form(policy) }, { bytes: 'x' });
  assertError(unnamed, 403, 'AccessDenied', /Extra input fields: bucket/);
  await s3.send(new CreateBucketCommand({ Bucket: 'post-other' }));
  const elsewhere = { expiration: inAnHour(), conditions: [{ bucket: 'post-other' }, ['starts-with', '$key', '']] };
  const wrong = await post(`${srv.endpoint}/${B}`, { key: 'wrongbucket.txt', ...v2Form(elsewhere) }, { bytes: 'x' });
  assertError(wrong, 403, 'AccessDenied', /Policy Condition failed: \["eq", "\$bucket", "post-other"\]/);
});

test('malformed policies answer InvalidPolicyDocument', async () => {
  const cases: Array<[string, object]> = [
    ['missing expiration', { conditions: [{ bucket: B }] }],
    ['EXPIRATION is not expiration', { EXPIRATION: inAnHour(), conditions: [{ bucket: B }] }],
    ['missing conditions', { expiration: inAnHour() }],
    ['empty simple condition', { expiration: inAnHour(), conditions: [{}] }],
    ['content-length-range without a maximum', { expiration: inAnHour(), conditions: [{ bucket: B }, ['content-length-range', 0]] }],
    ['negative content-length-range', { expiration: inAnHour(), conditions: [{ bucket: B }, ['content-length-range', -1, 0]] }],
    ['unparsable expiration', { expiration: '2030-01-01 00:00:00+00:00', conditions: [{ bucket: B }] }],
  ];
  for (const [why, policy] of cases) {
    const res = await post(`${srv.endpoint}/${B}`, { key: 'bad-policy.txt', ...v2Form(policy) }, { bytes: 'x' });
    assertError(res, 400, 'InvalidPolicyDocument', /Invalid Policy: /, why);
  }
  const notJson = Buffer.from('{not json').toString('base64');
  const res = await post(`${srv.endpoint}/${B}`, { key: 'bad-policy.txt', AWSAccessKeyId: ACCESS_KEY, policy: notJson, signature: createHmac('sha1', SECRET_KEY).update(notJson).digest('base64') }, { bytes: 'x' });
  assertError(res, 400, 'InvalidPolicyDocument', /Invalid JSON/);
  await assertAbsent('bad-policy.txt');
});

test('a policy with an access key but no signature answers InvalidArgument', async () => {
  const { signature: _signature, ...unsigned } = v2Form({ expiration: inAnHour(), conditions: [{ bucket: B }] });
  const res = await post(`${srv.endpoint}/${B}`, { key: 'unsigned.txt', ...unsigned }, { bytes: 'x' });
  assertError(res, 400, 'InvalidArgument', /field named 'Signature'/);
});

test('a form cut short inside the file part stores nothing', async () => {
  const { fields } = await presign({ Key: 'cut.txt' });
  const boundary = 'ferry-cut-boundary';
  let text = '';
  for (const [name, value] of Object.entries(fields)) text += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  text += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.txt"\r\n\r\nthe file never ends`;
  const res = await rawRequest(srv.port, { method: 'POST', path: `/${B}`, body: text, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
  assert.equal(res.status, 400, res.text);
  await assertAbsent('cut.txt');
});

test('an anonymous form without a policy is denied, and stores nothing', async () => {
  const res = await post(`${srv.endpoint}/${B}`, { key: 'anon.txt' }, { bytes: 'anonymous' });
  assertError(res, 403, 'AccessDenied');
  await assertAbsent('anon.txt');
});

test('an unsigned form reaches no operation but POST Object', async () => {
  await s3.send(new PutObjectCommand({ Bucket: B, Key: 'keep.txt', Body: 'kept' }));
  const form = new FormData();
  form.append('key', 'keep.txt');
  form.append('file', new Blob(['<Delete><Object><Key>keep.txt</Key></Object></Delete>']));
  const onDelete = await fetch(`${srv.endpoint}/${B}?delete`, { method: 'POST', body: form, signal: AbortSignal.timeout(10_000) });
  assert.equal(onDelete.status, 403, await onDelete.text());
  const onObject = await post(`${srv.endpoint}/${B}/keep.txt`, { key: 'keep.txt' }, { bytes: 'x' });
  assertError(onObject, 403, 'AccessDenied');
  assert.equal(await getText('keep.txt'), 'kept');
});

test('a POST to a bucket that is not a form answers as before: NotImplemented when signed, AccessDenied when not', async () => {
  const signed = await signedRequest(srv.port, { method: 'POST', path: `/${B}`, body: 'not a form', headers: { 'content-type': 'text/plain' } });
  assert.equal(signed.status, 501, signed.text);
  assert.match(signed.text, /<Code>NotImplemented<\/Code>/);
  const anonymous = await rawRequest(srv.port, { method: 'POST', path: `/${B}`, body: 'not a form', headers: { 'content-type': 'text/plain' } });
  assert.equal(anonymous.status, 403, anonymous.text);
  assert.match(anonymous.text, /<Code>AccessDenied<\/Code>/);
});
