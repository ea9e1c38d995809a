// SigV4 header authentication: canonicalisation, AWS's published vectors, requests signed by @smithy/signature-v4, refusals by code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { authenticate } from '../../src/s3/auth/index.ts';
import type { AuthDeps, AuthInput } from '../../src/s3/auth/index.ts';
import { canonicalQuery, canonicalUri, parseQuery, uriEncode } from '../../src/s3/auth/canonical.ts';
import { isS3Error } from '../../src/s3/errors.ts';
import type { S3ErrorCode } from '../../src/s3/errors.ts';
import { rejectsWithCode as rejects } from '../helpers/errors.ts';

// The example credentials of the AWS documentation (not a real secret).
const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const AWS_TIME = Date.UTC(2013, 4, 24);

function deps(now: number, region = 'us-east-1'): AuthDeps {
  return { region, now: () => now, lookupSecret: (id) => (id === AKID ? SECRET : undefined) };
}


function signer(region = 'us-east-1'): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId: AKID, secretAccessKey: SECRET },
    region,
    service: 's3',
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false, // S3 signs the path as sent, encoded once
  });
}

interface Req {
  method: string;
  path: string;
  query?: Record<string, string | string[]>;
  headers: Record<string, string>;
}

/** Signs with the oracle; returns the headers to send (lower-case names, as Node gives them). */
async function signHeaders(req: Req, date: Date, region?: string): Promise<Record<string, string>> {
  const signed = await signer(region).sign(
    { method: req.method, protocol: 'http:', hostname: 'localhost', path: req.path, query: req.query ?? {}, headers: req.headers },
    { signingDate: date },
  );
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) out[k.toLowerCase()] = String(v);
  return out;
}

/** An independent S3 key encoder for the tests: encodeURIComponent plus the characters it leaves alone. */
function s3Encode(key: string): string {
  return key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()))
    .join('/');
}

describe('canonicalisation', () => {
  it('encodes every byte but the unreserved set, upper-case hex', () => {
    assert.equal(uriEncode(Buffer.from("AZaz09-_.~ /+!*'()$&=é"), false), 'AZaz09-_.~%20%2F%2B%21%2A%27%28%29%24%26%3D%C3%A9');
    assert.equal(uriEncode(Buffer.from('a/b'), true), 'a/b');
  });

  const paths: Array<[string, string, string]> = [
    ['space', '/b/a%20b', '/b/a%20b'],
    ['plus in a path is a plus', '/b/a+b', '/b/a%2Bb'],
    ['encoded slash becomes a slash', '/b/a%2Fb', '/b/a/b'],
    ['encoded tilde is decoded', '/b/%7Etmp', '/b/~tmp'],
    ['dollar left raw is encoded', '/test$file.text', '/test%24file.text'],
    ['lower-case hex is upper-cased', '/b/%c3%a9', '/b/%C3%A9'],
    ['no double encoding of %25', '/b/100%25', '/b/100%25'],
    ['a stray percent is a literal percent', '/b/%zz', '/b/%25zz'],
    ['invalid UTF-8 survives', '/b/%FF%FE', '/b/%FF%FE'],
    ['no normalisation of dot segments', '/b/./a//../c', '/b/./a//../c'],
    ['empty path is /', '', '/'],
  ];
  for (const [name, raw, want] of paths) {
    it(`canonical URI: ${name}`, () => assert.equal(canonicalUri(raw), want));
  }

  const queries: Array<[string, string, string]> = [
    ['sorted by name', 'prefix=J&max-keys=2', 'max-keys=2&prefix=J'],
    ['a bare name signs as name=', 'lifecycle', 'lifecycle='],
    ['empty value', 'uploads=&a=', 'a=&uploads='],
    ['repeated names sort by value', 'tag=b&tag=a', 'tag=a&tag=b'],
    ['plus in a query is a space', 'prefix=a+b', 'prefix=a%20b'],
    ['encoded plus stays a plus', 'prefix=a%2Bb', 'prefix=a%2Bb'],
    ['slash and unicode are encoded', 'prefix=a/%C3%A9', 'prefix=a%2F%C3%A9'],
    ['empty pieces are dropped', '&a=1&&b=2&', 'a=1&b=2'],
    ['names compare by encoded bytes', 'b=1&B=2&a%20b=3&a=4', 'B=2&a=4&a%20b=3&b=1'],
  ];
  for (const [name, raw, want] of queries) {
    it(`canonical query: ${name}`, () => assert.equal(canonicalQuery(parseQuery(raw)), want));
  }

  it('canonical query can omit X-Amz-Signature', () => {
    assert.equal(canonicalQuery(parseQuery('X-Amz-Signature=ab&X-Amz-Date=1'), 'X-Amz-Signature'), 'X-Amz-Date=1');
  });
});

describe('header authentication: AWS published examples', () => {
  const host = 'examplebucket.s3.amazonaws.com';
  const at = deps(AWS_TIME);

  it('GET Object with a Range header', async () => {
    const ctx = await authenticate({
      method: 'GET', rawPath: '/test.txt', rawQuery: '',
      headers: {
        host, range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY, 'x-amz-date': '20130524T000000Z',
        authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41`,
      },
    }, at);
    assert.equal(ctx.accessKeyId, AKID);
    assert.equal(ctx.payload, 'signed');
    assert.equal(ctx.expectedSha256, EMPTY);
    assert.equal(ctx.presigned, false);
  });

  for (const rawPath of ['/test%24file.text', '/test$file.text']) {
    it(`PUT Object with a Date header and a signed payload (path ${rawPath})`, async () => {
      const ctx = await authenticate({
        method: 'PUT', rawPath, rawQuery: '',
        headers: {
          host, date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-date': '20130524T000000Z', 'x-amz-storage-class': 'REDUCED_REDUNDANCY',
          'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
          authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd`,
        },
      }, at);
      assert.equal(ctx.expectedSha256, '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
    });
  }

  const bucketGets: Array<[string, string, string]> = [
    ['GET Bucket lifecycle', 'lifecycle', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'],
    ['GET Bucket (List Objects)', 'max-keys=2&prefix=J', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'],
  ];
  for (const [name, rawQuery, signature] of bucketGets) {
    it(name, async () => {
      const ctx = await authenticate({
        method: 'GET', rawPath: '/', rawQuery,
        headers: {
          host, 'x-amz-content-sha256': EMPTY, 'x-amz-date': '20130524T000000Z',
          authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=${signature}`,
        },
      }, at);
      assert.equal(ctx.payload, 'signed');
    });
  }

  it('the seed request of the chunked-upload example', async () => {
    const ctx = await authenticate({
      method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '',
      headers: {
        host: 's3.amazonaws.com', 'x-amz-date': '20130524T000000Z', 'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': '66560', 'content-length': '66824',
        authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9`,
      },
    }, at);
    assert.equal(ctx.payload, 'streaming-signed');
    assert.equal(ctx.signing!.seedSignature, '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9');
    assert.equal(ctx.signing!.scope, '20130524/us-east-1/s3/aws4_request');
    assert.equal(ctx.signing!.amzDate, '20130524T000000Z');
  });

  it('the presigned GET example', async () => {
    const rawQuery = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${AKID}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404`;
    const ctx = await authenticate({ method: 'GET', rawPath: '/test.txt', rawQuery, headers: { host } }, deps(AWS_TIME + 3600_000));
    assert.equal(ctx.presigned, true);
    assert.equal(ctx.payload, 'unsigned');
    assert.deepEqual(ctx.queryHeaders, {});
  });
});

describe('header authentication: requests signed by @smithy/signature-v4', () => {
  const date = new Date('2026-11-20T10:00:00Z');
  const at = deps(date.getTime());

  const keys = ['plain.txt', 'a b/c d', 'plus+sign', 'tilde~x', "quote'(paren)*!", 'ünïcødé/日本', 'dollar$and&amp=eq', 'per%cent', 'slash//double/./dot'];
  for (const key of keys) {
    it(`key ${JSON.stringify(key)} verifies however the path is encoded`, async () => {
      const path = '/bucket/' + s3Encode(key);
      const headers = await signHeaders({ method: 'GET', path, headers: { host: 'localhost', 'x-amz-content-sha256': EMPTY } }, date);
      const variants = new Set([
        path,
        path.replace(/~/g, '%7E'),
        path.replace(/%([0-9A-F]{2})/g, (_, h: string) => '%' + h.toLowerCase()),
        '/bucket/' + key.split('/').map((s) => s3Encode(s).replace(/%2B/g, '%2b')).join('%2F'),
      ]);
      for (const rawPath of variants) {
        const ctx = await authenticate({ method: 'GET', rawPath, rawQuery: '', headers }, at);
        assert.equal(ctx.accessKeyId, AKID, rawPath);
      }
    });
  }

  it('query parameters: spaces sent as +, bare names, repeated names, unicode, empty values', async () => {
    const query = { prefix: 'a b', 'list-type': '2', delimiter: '/', 'start-after': 'ü~', tagging: '', tag: ['b', 'a'] };
    const headers = await signHeaders({ method: 'GET', path: '/bucket', query, headers: { host: 'localhost', 'x-amz-content-sha256': EMPTY } }, date);
    const rawQuery = 'tag=b&prefix=a+b&list-type=2&delimiter=%2F&start-after=%C3%BC%7E&tagging&tag=a';
    const ctx = await authenticate({ method: 'GET', rawPath: '/bucket', rawQuery, headers }, at);
    assert.equal(ctx.accessKeyId, AKID);
  });

  it('header values are trimmed and inner runs of spaces collapsed; repeated values join with a comma', async () => {
    const headers = await signHeaders({
      method: 'PUT', path: '/bucket/k',
      headers: { host: 'localhost', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-meta-note': 'a b c', 'x-amz-meta-list': 'x,y' },
    }, date);
    const sent: AuthInput['headers'] = { ...headers, 'x-amz-meta-note': '  a   b \t c  ', 'x-amz-meta-list': [' x ', 'y'] };
    const ctx = await authenticate({ method: 'PUT', rawPath: '/bucket/k', rawQuery: '', headers: sent }, at);
    assert.equal(ctx.payload, 'unsigned');
  });

  it('an upper-case signature is accepted', async () => {
    const headers = await signHeaders({ method: 'GET', path: '/b', headers: { host: 'localhost', 'x-amz-content-sha256': EMPTY } }, date);
    headers.authorization = headers.authorization!.replace(/Signature=([0-9a-f]+)$/, (_, s: string) => `Signature=${s.toUpperCase()}`);
    await authenticate({ method: 'GET', rawPath: '/b', rawQuery: '', headers }, at);
  });

  it('maps each x-amz-content-sha256 value to its payload mode', async () => {
    const modes: Array<[string, string]> = [
      ['UNSIGNED-PAYLOAD', 'unsigned'],
      ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'streaming-signed'],
      ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'streaming-signed-trailer'],
      ['STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'streaming-unsigned-trailer'],
      [EMPTY.toUpperCase(), 'signed'],
    ];
    for (const [value, mode] of modes) {
      const headers = await signHeaders({ method: 'PUT', path: '/b/k', headers: { host: 'localhost', 'x-amz-content-sha256': value } }, date);
      const ctx = await authenticate({ method: 'PUT', rawPath: '/b/k', rawQuery: '', headers }, at);
      assert.equal(ctx.payload, mode);
      if (mode === 'signed') assert.equal(ctx.expectedSha256, EMPTY);
    }
  });

  it('the signing key of the chunk chain is the one the request was signed with', async () => {
    const headers = await signHeaders({ method: 'PUT', path: '/b/k', headers: { host: 'localhost', 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' } }, date);
    const ctx = await authenticate({ method: 'PUT', rawPath: '/b/k', rawQuery: '', headers }, at);
    const viaKey = (await import('node:crypto')).createHmac('sha256', ctx.signing!.key).update('x').digest('hex');
    assert.equal(viaKey, await signer().sign('x', { signingDate: date }));
    assert.equal(ctx.signing!.seedSignature, /Signature=([0-9a-f]{64})/.exec(headers.authorization!)![1]);
  });
});

describe('header authentication: refusals', () => {
  const date = new Date('2026-11-20T10:00:00Z');
  const at = deps(date.getTime());
  const base = (): Promise<Record<string, string>> =>
    signHeaders({ method: 'GET', path: '/b/k', headers: { host: 'localhost', 'x-amz-content-sha256': EMPTY } }, date);
  const run = (headers: AuthInput['headers'], rawQuery = '', d = at): Promise<unknown> =>
    authenticate({ method: 'GET', rawPath: '/b/k', rawQuery, headers }, d);

  it('anonymous requests are denied', async () => {
    await rejects(run({ host: 'localhost' }), 'AccessDenied');
  });

  it('an unsigned multipart/form-data POST is let through as anonymous, for PostObject to verify its policy', async () => {
    const ctx = await authenticate({ method: 'POST', rawPath: '/b', rawQuery: '', headers: { host: 'x', 'content-type': 'multipart/form-data; boundary=x' } }, at);
    assert.equal(ctx.anonymous, true);
  });

  it('signature V2 goes to its own verifier (test/s3/auth-v2.test.ts): an undated header, an expired URL', async () => {
    await rejects(run({ host: 'localhost', authorization: 'AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=' }), 'AccessDenied', /Date/);
    await rejects(run({ host: 'localhost' }, 'AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1&Signature=abc'), 'AccessDenied', /expired/);
  });

  it('an Authorization header and query authentication together are refused', async () => {
    const headers = await base();
    await rejects(run(headers, 'X-Amz-Algorithm=AWS4-HMAC-SHA256'), 'InvalidArgument', /Only one auth mechanism/);
  });

  const malformed: Array<[string, (a: string) => string, S3ErrorCode, RegExp]> = [
    ['no space after the algorithm', () => 'AWS4-HMAC-SHA256', 'InvalidArgument', /one and only one ' '/],
    ['an unknown scheme', () => 'Bearer abc', 'InvalidArgument', /Unsupported Authorization Type/],
    ['no Signature', (a) => a.replace(/, Signature=[0-9a-f]+/, ''), 'AuthorizationHeaderMalformed', /missing Signature/],
    ['no SignedHeaders', (a) => a.replace(/SignedHeaders=[^,]+, /, ''), 'AuthorizationHeaderMalformed', /missing SignedHeaders/],
    ['no Credential', (a) => a.replace(/Credential=[^,]+, /, ''), 'AuthorizationHeaderMalformed', /missing Credential/],
    ['an unknown component', (a) => a + ', Foo=bar', 'AuthorizationHeaderMalformed', /"Foo=bar" is malformed/],
    ['a short credential', (a) => a.replace(/Credential=[^,]+/, `Credential=${AKID}/20261120/us-east-1/s3`), 'AuthorizationHeaderMalformed', /Credential is mal-formed/],
    ['a bad credential date', (a) => a.replace('/20261120/', '/2026-11-20/'), 'AuthorizationHeaderMalformed', /incorrect date format/],
    ['another service', (a) => a.replace('/s3/', '/iam/'), 'AuthorizationHeaderMalformed', /incorrect service "iam"/],
    ['another terminator', (a) => a.replace('aws4_request', 'aws5_request'), 'AuthorizationHeaderMalformed', /incorrect terminal/],
    ['a credential date other than x-amz-date', (a) => a.replace('/20261120/', '/20261121/'), 'AuthorizationHeaderMalformed', /Invalid credential date/],
    ['an empty signed header name', (a) => a.replace('SignedHeaders=', 'SignedHeaders=;'), 'AuthorizationHeaderMalformed', /SignedHeaders/],
    ['SigV4A', (a) => a.replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256'), 'NotImplemented', /4A/],
  ];
  for (const [name, edit, code, message] of malformed) {
    it(`a malformed header is refused: ${name}`, async () => {
      const headers = await base();
      await rejects(run({ ...headers, authorization: edit(headers.authorization!) }), code, message);
    });
  }

  it('a scope for another region names the expected region', async () => {
    const headers = await signHeaders({ method: 'GET', path: '/b/k', headers: { host: 'localhost', 'x-amz-content-sha256': EMPTY } }, date, 'eu-west-1');
    await assert.rejects(run(headers), (err: unknown) => {
      assert.ok(isS3Error(err));
      assert.equal(err.code, 'AuthorizationHeaderMalformed');
      assert.match(err.message, /the region 'eu-west-1' is wrong; expecting 'us-east-1'/);
      assert.deepEqual(err.detail, { Region: 'us-east-1' });
      return true;
    });
  });

  it('an unknown access key is InvalidAccessKeyId', async () => {
    const headers = await base();
    await rejects(run({ ...headers, authorization: headers.authorization!.replace(AKID, 'AKIDUNKNOWN') }), 'InvalidAccessKeyId');
  });

  it('host must be signed', async () => {
    const headers = await signHeaders({ method: 'GET', path: '/b/k', headers: { 'x-amz-content-sha256': EMPTY } }, date);
    await rejects(run({ ...headers, host: 'localhost' }), 'AccessDenied', /not signed/);
  });

  it('an x-amz-* header outside the signature is refused and named', async () => {
    const headers = await base();
    await assert.rejects(run({ ...headers, 'x-amz-meta-evil': '1' }), (err: unknown) => {
      assert.ok(isS3Error(err));
      assert.equal(err.code, 'AccessDenied');
      assert.deepEqual(err.detail, { HeadersNotSigned: 'x-amz-meta-evil' });
      return true;
    });
  });

  it('a request with neither x-amz-date nor Date is refused', async () => {
    const headers = await base();
    delete headers['x-amz-date'];
    await rejects(run(headers), 'AccessDenied', /valid Date or x-amz-date/);
    await rejects(run({ ...headers, 'x-amz-date': '2026-11-20T10:00:00Z' }), 'AccessDenied', /valid Date or x-amz-date/);
  });

  it('clock skew: 14 minutes pass, 16 minutes either way are RequestTimeTooSkewed', async () => {
    const headers = await base();
    await run(headers, '', deps(date.getTime() + 14 * 60_000));
    await run(headers, '', deps(date.getTime() - 14 * 60_000));
    await rejects(run(headers, '', deps(date.getTime() + 16 * 60_000)), 'RequestTimeTooSkewed');
    await rejects(run(headers, '', deps(date.getTime() - 16 * 60_000)), 'RequestTimeTooSkewed');
  });

  it('x-amz-content-sha256 is required, and must be a known keyword or a SHA-256', async () => {
    const missing = await base();
    delete missing['x-amz-content-sha256'];
    await rejects(run(missing), 'InvalidRequest', /x-amz-content-sha256/);
    for (const value of ['unsigned-payload', 'abc', 'g'.repeat(64), EMPTY + '0', 'constructor', '__proto__']) {
      const headers = await signHeaders({ method: 'GET', path: '/b/k', headers: { host: 'localhost', 'x-amz-content-sha256': value } }, date);
      await rejects(run(headers), 'InvalidArgument', /x-amz-content-sha256 must be/);
    }
  });

  it('any change to what was signed is SignatureDoesNotMatch', async () => {
    const headers = await base();
    const edits: Array<[AuthInput['headers'], string, string]> = [
      [{ ...headers, authorization: headers.authorization!.replace(/.$/, (c) => (c === '0' ? '1' : '0')) }, '/b/k', ''],
      [{ ...headers, authorization: headers.authorization!.replace(/Signature=\w+/, 'Signature=abc') }, '/b/k', ''],
      [headers, '/b/K', ''],
      [headers, '/b/k', 'acl'],
      [{ ...headers, host: 'evil' }, '/b/k', ''],
    ];
    for (const [h, rawPath, rawQuery] of edits) {
      await rejects(authenticate({ method: 'GET', rawPath, rawQuery, headers: h }, at), 'SignatureDoesNotMatch');
    }
    await rejects(authenticate({ method: 'HEAD', rawPath: '/b/k', rawQuery: '', headers }, at), 'SignatureDoesNotMatch');
  });

  it('a wrong secret is SignatureDoesNotMatch, with what was signed in the detail', async () => {
    const headers = await base();
    const wrong: AuthDeps = { region: 'us-east-1', now: () => date.getTime(), lookupSecret: async () => 'not-the-secret' };
    await assert.rejects(run(headers, '', wrong), (err: unknown) => {
      assert.ok(isS3Error(err));
      assert.equal(err.code, 'SignatureDoesNotMatch');
      assert.match(String(err.detail?.CanonicalRequest), /^GET\n\/b\/k\n\n/);
      assert.match(String(err.detail?.StringToSign), /^AWS4-HMAC-SHA256\n20261120T100000Z\n/);
      return true;
    });
  });
});
