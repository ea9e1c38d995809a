// Presigned URLs: SigV4 query authentication against @smithy/signature-v4 and the S3 presigner, expiry on an injected clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { S3Client, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { authenticate } from '../../src/s3/auth/index.ts';
import type { AuthDeps, AuthInput } from '../../src/s3/auth/index.ts';
import { isS3Error } from '../../src/s3/errors.ts';
import { rejectsWithCode as rejects } from '../helpers/errors.ts';

// The example credentials of the AWS documentation (not a real secret).
const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function deps(now: number): AuthDeps {
  return { region: 'us-east-1', now: () => now, lookupSecret: (id) => (id === AKID ? SECRET : undefined) };
}


function signer(region = 'us-east-1'): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId: AKID, secretAccessKey: SECRET },
    region,
    service: 's3',
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
  });
}

interface Req {
  method: string;
  path: string;
  query?: Record<string, string | string[]>;
  headers: Record<string, string>;
}

describe('presigned URLs', () => {
  const date = new Date('2026-11-20T10:00:00Z');

  async function presign(req: Req, expiresIn: number, region?: string): Promise<string> {
    // As @aws-sdk/s3-request-presigner does: the payload is UNSIGNED-PAYLOAD, hoisted into the query with the other x-amz-* headers.
    const headers = { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...req.headers };
    const signed = await signer(region).presign(
      { method: req.method, protocol: 'http:', hostname: 'localhost', path: req.path, query: req.query ?? {}, headers },
      { signingDate: date, expiresIn },
    );
    return Object.entries(signed.query ?? {})
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
  }

  const run = (rawQuery: string, now: number, headers: AuthInput['headers'] = { host: 'localhost' }, method = 'GET'): Promise<unknown> =>
    authenticate({ method, rawPath: '/b/k', rawQuery, headers }, deps(now));

  it('verifies until X-Amz-Expires, then says the request has expired', async () => {
    const rawQuery = await presign({ method: 'GET', path: '/b/k', headers: { host: 'localhost' } }, 600);
    await run(rawQuery, date.getTime());
    await run(rawQuery, date.getTime() + 600_000);
    await assert.rejects(run(rawQuery, date.getTime() + 601_000), (err: unknown) => {
      assert.ok(isS3Error(err));
      assert.equal(err.code, 'AccessDenied');
      assert.equal(err.message, 'Request has expired');
      assert.equal(err.detail?.['X-Amz-Expires'], 600);
      return true;
    });
  });

  it('a URL dated more than 15 minutes ahead is not valid yet', async () => {
    const rawQuery = await presign({ method: 'GET', path: '/b/k', headers: { host: 'localhost' } }, 3600);
    await run(rawQuery, date.getTime() - 14 * 60_000);
    await rejects(run(rawQuery, date.getTime() - 16 * 60_000), 'AccessDenied', /not valid yet/);
  });

  it('a week is the longest validity; 0 and more than a week are refused', async () => {
    const week = await presign({ method: 'GET', path: '/b/k', headers: { host: 'localhost' } }, 604800);
    await run(week, date.getTime() + 604800_000);
    for (const [value, message] of [['604801', /less than a week/], ['0', /greater than 0/], ['-1', /non-negative/], ['ten', /should be a number/]] as const) {
      await rejects(run(week.replace('X-Amz-Expires=604800', `X-Amz-Expires=${value}`), date.getTime()), 'AuthorizationQueryParametersError', message);
    }
  });

  it('a missing parameter, another algorithm or a bad date is AuthorizationQueryParametersError', async () => {
    const rawQuery = await presign({ method: 'GET', path: '/b/k', headers: { host: 'localhost' } }, 600);
    for (const param of ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature']) {
      const without = rawQuery.split('&').filter((p) => !p.startsWith(param + '=')).join('&');
      await rejects(run(without, date.getTime()), 'AuthorizationQueryParametersError', /requires the X-Amz-Algorithm/);
    }
    await rejects(run(rawQuery.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA1'), date.getTime()), 'AuthorizationQueryParametersError', /only supports/);
    await rejects(run(rawQuery.replace('X-Amz-Date=20261120T100000Z', 'X-Amz-Date=20261120'), date.getTime()), 'AuthorizationQueryParametersError', /ISO8601/);
    await rejects(run(rawQuery.replace('us-east-1', 'eu-west-1'), date.getTime()), 'AuthorizationQueryParametersError', /region 'eu-west-1' is wrong/);
  });

  it('a tampered URL or an unsigned x-amz-* header is refused', async () => {
    const rawQuery = await presign({ method: 'PUT', path: '/b/k', headers: { host: 'localhost' } }, 600);
    await run(rawQuery, date.getTime(), { host: 'localhost' }, 'PUT');
    await rejects(run(rawQuery + '&acl=', date.getTime(), { host: 'localhost' }, 'PUT'), 'SignatureDoesNotMatch');
    await rejects(run(rawQuery, date.getTime(), { host: 'localhost' }, 'GET'), 'SignatureDoesNotMatch');
    await rejects(run(rawQuery, date.getTime(), { host: 'localhost', 'x-amz-checksum-sha256': 'x' }, 'PUT'), 'AccessDenied', /not signed/);
  });

  it('signed headers and the client\'s payload hash are honoured; streaming signed payloads are refused', async () => {
    const rawQuery = await presign({ method: 'PUT', path: '/b/k', headers: { host: 'localhost', 'content-type': 'text/plain' } }, 600);
    await run(rawQuery, date.getTime(), { host: 'localhost', 'content-type': 'text/plain' }, 'PUT');
    await rejects(run(rawQuery, date.getTime(), { host: 'localhost', 'content-type': 'text/html' }, 'PUT'), 'SignatureDoesNotMatch');
    // A payload hash the client sends is part of what it signed; smithy signs whatever the header says.
    const hashed = await presign({ method: 'PUT', path: '/b/k', headers: { host: 'localhost', 'x-amz-content-sha256': EMPTY } }, 600);
    const ctx = await authenticate({ method: 'PUT', rawPath: '/b/k', rawQuery: hashed, headers: { host: 'localhost' } }, deps(date.getTime()));
    assert.deepEqual([(ctx as { payload: string }).payload, (ctx as { expectedSha256?: string }).expectedSha256], ['signed', EMPTY]);
    const streaming = await presign({ method: 'PUT', path: '/b/k', headers: { host: 'localhost', 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' } }, 600);
    await rejects(run(streaming, date.getTime(), { host: 'localhost' }, 'PUT'), 'InvalidRequest');
  });

  it('URLs from the S3 presigner verify, and expose the headers it hoisted into the query', async () => {
    const client = new S3Client({
      region: 'us-east-1', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true,
      credentials: { accessKeyId: AKID, secretAccessKey: SECRET },
    });
    const put = new URL(await getSignedUrl(client, new PutObjectCommand({ Bucket: 'bucket', Key: 'dir/a b+c.txt', Metadata: { color: 'blue' } }), { expiresIn: 900, signingDate: date }));
    const ctx = await authenticate(
      { method: 'PUT', rawPath: put.pathname, rawQuery: put.search.slice(1), headers: { host: put.host } },
      deps(date.getTime()),
    );
    assert.equal(ctx.payload, 'unsigned');
    assert.equal(ctx.queryHeaders['x-amz-meta-color'], 'blue');
    // The SDK's default checksum mode signs the CRC32 of the (absent) body into a presigned PUT.
    assert.equal(ctx.queryHeaders['x-amz-checksum-crc32'], 'AAAAAA==');

    const get = new URL(await getSignedUrl(client, new GetObjectCommand({ Bucket: 'bucket', Key: 'ü/~x', ResponseContentType: 'text/plain' }), { expiresIn: 60, signingDate: date }));
    await authenticate({ method: 'GET', rawPath: get.pathname, rawQuery: get.search.slice(1), headers: { host: get.host } }, deps(date.getTime()));
    client.destroy();
  });
});
