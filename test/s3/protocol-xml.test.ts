// XML request bodies over the wire: malformed, DTD-bearing, wrongly rooted and oversized documents to every operation that takes one.
// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (MalformedXML, MaxMessageLengthExceeded)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startFerry, type TestServer } from '../helpers/server.ts';
import type { RawResponse } from '../helpers/raw.ts';
import { assertS3Error, listKeys, send } from '../helpers/protocol.ts';

let srv: TestServer;
const B = 'proto-xml';
const KEYS = ['a', 'b', 'c'];

before(async () => {
  srv = await startFerry();
  assert.equal((await send(srv.port, { method: 'PUT', path: `/${B}` })).status, 200);
  for (const k of KEYS) assert.equal((await send(srv.port, { method: 'PUT', path: `/${B}/${k}`, body: k })).status, 200);
});
after(async () => srv.stop());

const md5b64 = (b: Buffer | string): string => createHash('md5').update(b).digest('base64');

const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>`;

/** Bad documents every XML-taking operation must refuse as MalformedXML; `root` is the element it expects. */
function malformedDocs(root: string, inner: string): Array<[string, string]> {
  return [
    ['not XML', 'this is not xml'],
    ['unclosed', `<${root}>${inner}`],
    ['mismatched tags', `<${root}>${inner}</Other>`],
    ['two roots', `<${root}>${inner}</${root}><${root}/>`],
    ['another element after the root', `<${root}>${inner}</${root}><Other/>`],
    ['billion laughs', `${BILLION_LAUGHS}<${root}>${inner.replace(/>[^<>]+</, '>&lol9;<')}</${root}>`],
    ['external entity', `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><${root}>${inner.replace(/>[^<>]+</, '>&xxe;<')}</${root}>`],
    ['wrong root', `<WrongRoot>${inner}</WrongRoot>`],
  ];
}

/** Sends `doc` and expects a prompt 400 with `code`. */
async function expectRefused(method: string, path: string, doc: string | Buffer, code: string, headers: Record<string, string> = {}, why = ''): Promise<RawResponse> {
  const started = Date.now();
  const res = await send(srv.port, { method, path, body: doc, headers: { 'content-md5': md5b64(doc), ...headers } });
  assert.equal(res.status, 400, `${why}: ${res.text}`);
  assertS3Error(res, 400, code);
  assert.ok(Date.now() - started < 5_000, `${why} answered promptly`);
  return res;
}

/** A document of about `bytes` bytes that is otherwise valid for `root`. */
function oversized(root: string, inner: string, bytes: number): string {
  return `<${root}>${inner}<!--${'x'.repeat(bytes)}--></${root}>`;
}

describe('CompleteMultipartUpload', () => {
  let uploadId = '';
  let etag = '';
  const K = 'mpu';

  before(async () => {
    const created = await send(srv.port, { method: 'POST', path: `/${B}/${K}?uploads` });
    uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.text)![1]!;
    const part = await send(srv.port, { method: 'PUT', path: `/${B}/${K}?partNumber=1&uploadId=${uploadId}`, body: 'only part' });
    assert.equal(part.status, 200, part.text);
    etag = String(part.headers.etag);
  });

  const path = (): string => `/${B}/${K}?uploadId=${uploadId}`;
  const inner = (): string => `<Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part>`;

  it('malformed, DTD-bearing and wrongly rooted documents are 400 MalformedXML; the upload survives', async () => {
    const part = (n: string, e = `<ETag>${etag}</ETag>`): string => `<CompleteMultipartUpload><Part><PartNumber>${n}</PartNumber>${e}</Part></CompleteMultipartUpload>`;
    const schemaFaults: Array<[string, string]> = [
      ['empty', ''],
      ['no parts', '<CompleteMultipartUpload></CompleteMultipartUpload>'],
      ['hex part number', part('0x1')],
      ['exponent part number', part('1e0')],
      ['empty part number', part('')],
      ['element as part number', part('<X>1</X>')],
      ['no ETag', part('1', '')],
      ['element as ETag', part('1', '<ETag><a/></ETag>')],
      ['text as part', '<CompleteMultipartUpload><Part>text</Part></CompleteMultipartUpload>'],
    ];
    for (const [why, doc] of [...malformedDocs('CompleteMultipartUpload', inner()), ...schemaFaults]) {
      await expectRefused('POST', path(), doc, 'MalformedXML', {}, why);
    }
    assert.equal((await send(srv.port, { method: 'GET', path: path() })).status, 200, 'the upload is still there');
    assert.ok(!(await listKeys(srv.port, B)).includes(K));
  });

  it('a body past the limit is 400 MaxMessageLengthExceeded', async () => {
    await expectRefused('POST', path(), oversized('CompleteMultipartUpload', inner(), 5 * 1024 * 1024), 'MaxMessageLengthExceeded');
    assert.ok(!(await listKeys(srv.port, B)).includes(K));
  });

  it('the same upload then completes with a good document', async () => {
    const res = await send(srv.port, { method: 'POST', path: path(), body: `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner()}</CompleteMultipartUpload>` });
    assert.equal(res.status, 200, res.text);
    assert.ok((await listKeys(srv.port, B)).includes(K));
  });
});

describe('DeleteObjects', () => {
  const path = `/${B}?delete`;
  const inner = '<Object><Key>a</Key></Object>';

  async function assertAllThere(): Promise<void> {
    const keys = await listKeys(srv.port, B);
    for (const k of KEYS) assert.ok(keys.includes(k), `${k} survived`);
  }

  it('malformed, DTD-bearing and wrongly rooted documents are 400 MalformedXML and delete nothing', async () => {
    for (const [why, doc] of [...malformedDocs('Delete', inner), ['no objects', '<Delete></Delete>'], ['empty key', '<Delete><Object><Key></Key></Object></Delete>']] as Array<[string, string]>) {
      await expectRefused('POST', path, doc, 'MalformedXML', {}, why);
    }
    await assertAllThere();
  });

  it('more than 1000 keys is 400 MalformedXML', async () => {
    const doc = `<Delete>${KEYS.map((k) => `<Object><Key>${k}</Key></Object>`).join('')}${'<Object><Key>z</Key></Object>'.repeat(1000)}</Delete>`;
    await expectRefused('POST', path, doc, 'MalformedXML');
    await assertAllThere();
  });

  it('no Content-MD5 nor checksum is 400 InvalidRequest; a wrong Content-MD5 is 400 BadDigest', async () => {
    const doc = `<Delete>${inner}</Delete>`;
    const res = await send(srv.port, { method: 'POST', path, body: doc });
    assertS3Error(res, 400, 'InvalidRequest');
    assert.match(res.text, /Content-MD5/);
    await expectRefused('POST', path, doc, 'BadDigest', { 'content-md5': md5b64('<Delete/>') });
    await assertAllThere();
  });

  it('a body past the limit is 400 MaxMessageLengthExceeded', async () => {
    await expectRefused('POST', path, oversized('Delete', inner, 3 * 1024 * 1024), 'MaxMessageLengthExceeded');
    await assertAllThere();
  });
});

describe('PutObjectTagging', () => {
  const path = `/${B}/b?tagging`;
  const inner = '<TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet>';

  async function tagCount(): Promise<number> {
    const res = await send(srv.port, { method: 'GET', path });
    assert.equal(res.status, 200, res.text);
    return [...res.text.matchAll(/<Tag>/g)].length;
  }

  it('malformed, DTD-bearing and wrongly rooted documents are 400 MalformedXML and leave the tags alone', async () => {
    const schemaFaults: Array<[string, string]> = [
      ['no TagSet', '<Tagging></Tagging>'],
      ['empty', ''],
      ['text as TagSet', '<Tagging><TagSet>text</TagSet></Tagging>'],
      ['text as Tag', '<Tagging><TagSet><Tag>t</Tag></TagSet></Tagging>'],
      ['element as Key', '<Tagging><TagSet><Tag><Key><b/></Key></Tag></TagSet></Tagging>'],
      ['element as Value', '<Tagging><TagSet><Tag><Key>k</Key><Value><v/></Value></Tag></TagSet></Tagging>'],
    ];
    for (const [why, doc] of [...malformedDocs('Tagging', inner), ...schemaFaults]) {
      await expectRefused('PUT', path, doc, 'MalformedXML', {}, why);
    }
    assert.equal(await tagCount(), 0);
  });

  it('a body past the limit is 400 MaxMessageLengthExceeded', async () => {
    await expectRefused('PUT', path, oversized('Tagging', inner, 100 * 1024), 'MaxMessageLengthExceeded');
    assert.equal(await tagCount(), 0);
  });

  it('eleven tags are 400 InvalidTag; pretty-printed good documents then apply', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => `<Tag><Key>k${i}</Key><Value>v</Value></Tag>`).join('');
    await expectRefused('PUT', path, `<Tagging><TagSet>${eleven}</TagSet></Tagging>`, 'InvalidTag');
    assert.equal(await tagCount(), 0);
    // Pretty-printed, as some clients send it: whitespace between elements is not content.
    const pretty = '<Tagging>\n  <TagSet>\n    <Tag>\n      <Key>k</Key>\n      <Value></Value>\n    </Tag>\n  </TagSet>\n</Tagging>\n';
    const res = await send(srv.port, { method: 'PUT', path, body: pretty });
    assert.equal(res.status, 200, res.text);
    assert.equal(await tagCount(), 1);
    assert.equal((await send(srv.port, { method: 'PUT', path, body: '<Tagging>\n  <TagSet>\n  </TagSet>\n</Tagging>' })).status, 200);
    assert.equal(await tagCount(), 0);
  });
});

describe('CreateBucket with a CreateBucketConfiguration', () => {
  const inner = '<LocationConstraint>us-east-1</LocationConstraint>';

  it('malformed, DTD-bearing and wrongly rooted documents are 400 MalformedXML and create nothing', async () => {
    for (const [i, [why, doc]] of malformedDocs('CreateBucketConfiguration', inner).entries()) {
      const bucket = `proto-new-${i}`;
      await expectRefused('PUT', `/${bucket}`, doc, 'MalformedXML', {}, why);
      assert.equal((await send(srv.port, { method: 'HEAD', path: `/${bucket}` })).status, 404, `${why}: no bucket`);
    }
  });

  it('a body past the limit is 400 MaxMessageLengthExceeded', async () => {
    await expectRefused('PUT', '/proto-big', oversized('CreateBucketConfiguration', inner, 100 * 1024), 'MaxMessageLengthExceeded');
    assert.equal((await send(srv.port, { method: 'HEAD', path: '/proto-big' })).status, 404);
  });

  it('a good configuration creates the bucket', async () => {
    const res = await send(srv.port, { method: 'PUT', path: '/proto-good', body: `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</CreateBucketConfiguration>` });
    assert.equal(res.status, 200, res.text);
    assert.equal((await send(srv.port, { method: 'HEAD', path: '/proto-good' })).status, 200);
  });
});
