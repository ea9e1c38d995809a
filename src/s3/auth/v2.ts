// Signature Version 2: HMAC-SHA1 over the method, Content-MD5, Content-Type, Date (or Expires), x-amz-* headers and the
// resource, sent as "Authorization: AWS AKID:signature" or as a presigned query (AWSAccessKeyId, Expires, Signature).
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html
import { createHmac, timingSafeEqual } from 'node:crypto';
import { S3Error } from '../errors.ts';
import { MAX_SKEW_MS, parseAmzDate, percentDecode } from './canonical.ts';
import type { AuthDeps, AuthInput } from './index.ts';

/** Who signed a verified V2 request; the caller turns it into an AuthContext. */
export interface V2Identity {
  accessKeyId: string;
  presigned: boolean;
  /** x-amz-* parameters of a presigned URL (botocore moves the request's x-amz-* headers there), names lower-case. */
  queryHeaders: Record<string, string>;
}

/**
 * Query parameters that name a sub-resource and so belong to the signed resource. The AWS page lists the core ones;
 * this is botocore's list (HmacV1Auth.QSAOfInterest, a superset), which is what boto3 signs with.
 */
const SUB_RESOURCES = new Set([
  'accelerate', 'acl', 'analytics', 'cors', 'defaultObjectAcl', 'delete', 'inventory', 'lifecycle', 'location',
  'logging', 'metrics', 'notification', 'object-lock', 'partNumber', 'policy', 'replication', 'requestPayment',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires', 'restore', 'select', 'select-type', 'storageClass', 'tagging', 'torrent',
  'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'website',
]);

const HEADER_FORM = /^AWS ([^:\s]+):(\S+)$/;

type Headers = AuthInput['headers'];

/** A header's value; repeated ones trimmed and joined with ',' (as V2 canonicalises them). */
function headerValue(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.map((s) => s.trim()).join(',') : v?.trim();
}

/** "name:value\n" for every x-amz-* header, names lower-case and sorted; `hoisted` fills in those sent in the query. */
function canonicalAmzHeaders(headers: Headers, hoisted: Record<string, string>): string {
  const found = new Map<string, string>();
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    const value = headerValue(headers, name);
    if (lower.startsWith('x-amz-') && value !== undefined) found.set(lower, value);
  }
  for (const [name, value] of Object.entries(hoisted)) if (!found.has(name)) found.set(name, value.trim());
  return [...found.keys()].sort().map((name) => `${name}:${found.get(name)}\n`).join('');
}

/** The bucket of a virtual-host-style request (bucket.<domain>), by the same rule as src/s3/target.ts. */
function hostBucket(host: string | undefined, domain: string | undefined): string | undefined {
  const name = host?.replace(/:\d+$/, '').toLowerCase();
  if (!domain || !name || name === domain || !name.endsWith('.' + domain)) return undefined;
  return name.slice(0, -(domain.length + 1));
}

/**
 * "/bucket/key" as sent (still percent-encoded), the bucket taken from the host in virtual-host style, then "?" and
 * the sub-resources sorted by name, values decoded ("When signing, you do not encode these values"). A request for
 * the bucket itself signs as "/bucket/" however it was addressed: botocore signs path-style "/bucket" that way
 * ("the auth_path must be terminated with a '/' character to generate a signature that the server will accept").
 */
function canonicalResource(rawPath: string, rawQuery: string, bucket: string | undefined): string {
  const path = rawPath === '' ? '/' : rawPath;
  let resource = bucket === undefined ? path : '/' + bucket + path;
  if (bucket === undefined && path.length > 1 && !path.includes('/', 1)) resource += '/';
  const subs: Array<[string, string]> = [];
  for (const piece of rawQuery.split('&')) {
    const eq = piece.indexOf('=');
    const name = eq === -1 ? piece : piece.slice(0, eq);
    if (!SUB_RESOURCES.has(name)) continue;
    // "uploads" signs as a bare name; "acl=" keeps its '=' (botocore joins what it split).
    subs.push([name, eq === -1 ? name : `${name}=${percentDecode(piece.slice(eq + 1), false).toString('utf8')}`]);
  }
  if (subs.length > 0) resource += '?' + subs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, s]) => s).join('&');
  return resource;
}

interface V2StringToSign {
  method: string;
  contentMd5: string;
  contentType: string;
  /** The Date header, '' when x-amz-date is sent, or Expires for a presigned URL. */
  date: string;
  amzHeaders: string;
  resource: string;
}

function stringToSignV2(s: V2StringToSign): string {
  return `${s.method}\n${s.contentMd5}\n${s.contentType}\n${s.date}\n${s.amzHeaders}${s.resource}`;
}

async function secretOf(deps: AuthDeps, accessKeyId: string): Promise<string> {
  const secret = await deps.lookupSecret(accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', { detail: { AWSAccessKeyId: accessKeyId } });
  return secret;
}

function verify(secret: string, toSign: string, provided: string, accessKeyId: string): void {
  const expected = createHmac('sha1', secret).update(toSign, 'utf8').digest();
  const given = Buffer.from(provided, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    // AWS returns what it signed, also as bytes, so that a client can find its canonicalisation mistake.
    throw new S3Error('SignatureDoesNotMatch', {
      detail: {
        AWSAccessKeyId: accessKeyId,
        StringToSign: toSign,
        SignatureProvided: provided,
        StringToSignBytes: [...Buffer.from(toSign, 'utf8')].map((b) => b.toString(16).padStart(2, '0')).join(' '),
      },
    });
  }
}

/** An HTTP date (RFC 1123, as V2 clients send Date) or an ISO 8601 basic x-amz-date; undefined if neither. */
function parseRequestDate(value: string): number | undefined {
  const amz = parseAmzDate(value);
  if (amz !== undefined) return amz;
  if (!/^[A-Za-z]{3}, /.test(value)) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** "Authorization: AWS AKID:signature"; the request time must be within 15 minutes of the server's. */
export async function authenticateV2Header(input: AuthInput, deps: AuthDeps, authorization: string, now: number): Promise<V2Identity> {
  const match = HEADER_FORM.exec(authorization);
  if (match === null) {
    throw new S3Error('InvalidArgument', {
      message: 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature',
      detail: { ArgumentName: 'Authorization', ArgumentValue: authorization },
    });
  }
  const accessKeyId = match[1]!;
  const signature = match[2]!;
  // "If you include the x-amz-date header, use the empty string for the Date when constructing the StringToSign."
  const rawAmzDate = headerValue(input.headers, 'x-amz-date');
  const rawDate = headerValue(input.headers, 'date');
  const requestTime = rawAmzDate ?? rawDate;
  const dateMs = requestTime === undefined ? undefined : parseRequestDate(requestTime);
  if (dateMs === undefined) {
    throw new S3Error('AccessDenied', { message: 'AWS authentication requires a valid Date or x-amz-date header' });
  }
  if (Math.abs(now - dateMs) > MAX_SKEW_MS) {
    throw new S3Error('RequestTimeTooSkewed', {
      message: 'The difference between the request time and the current time is too large.',
      detail: { RequestTime: requestTime ?? '', ServerTime: isoSeconds(now), MaxAllowedSkewMilliseconds: MAX_SKEW_MS },
    });
  }
  const secret = await secretOf(deps, accessKeyId);
  const toSign = stringToSignV2({
    method: input.method,
    contentMd5: headerValue(input.headers, 'content-md5') ?? '',
    contentType: headerValue(input.headers, 'content-type') ?? '',
    date: rawAmzDate !== undefined ? '' : (rawDate ?? ''),
    amzHeaders: canonicalAmzHeaders(input.headers, {}),
    resource: canonicalResource(input.rawPath, input.rawQuery, hostBucket(headerValue(input.headers, 'host'), deps.domain)),
  });
  verify(secret, toSign, signature, accessKeyId);
  return { accessKeyId, presigned: false, queryHeaders: {} };
}

/**
 * A presigned V2 URL: ?AWSAccessKeyId=&Expires=<epoch seconds>&Signature=, valid until Expires. botocore moves the
 * request's x-amz-*, Content-Type and Content-MD5 headers into the query and signs them as headers: a header that is
 * not sent is taken from there.
 */
export async function authenticateV2Query(input: AuthInput, deps: AuthDeps, params: ReadonlyMap<string, string>, now: number): Promise<V2Identity> {
  const accessKeyId = params.get('AWSAccessKeyId');
  const expires = params.get('Expires');
  // A '+' of a base64 signature sent unencoded was read as a space.
  const signature = params.get('Signature')?.replace(/ /g, '+');
  if (!accessKeyId || !signature || expires === undefined) {
    throw new S3Error('AccessDenied', { message: 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters' });
  }
  if (!/^\d{1,12}$/.test(expires)) {
    throw new S3Error('AccessDenied', { message: `Invalid date (should be seconds since epoch): ${expires}` });
  }
  const expiresMs = Number(expires) * 1000;
  if (now > expiresMs) {
    throw new S3Error('AccessDenied', { message: 'Request has expired', detail: { Expires: isoSeconds(expiresMs), ServerTime: isoSeconds(now) } });
  }
  const queryHeaders: Record<string, string> = {};
  const hoisted = new Map<string, string>();
  for (const [name, value] of params) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-')) queryHeaders[lower] = value;
    else if (lower === 'content-type' || lower === 'content-md5') hoisted.set(lower, value);
  }
  const secret = await secretOf(deps, accessKeyId);
  const toSign = stringToSignV2({
    method: input.method,
    contentMd5: headerValue(input.headers, 'content-md5') ?? hoisted.get('content-md5') ?? '',
    contentType: headerValue(input.headers, 'content-type') ?? hoisted.get('content-type') ?? '',
    date: expires,
    amzHeaders: canonicalAmzHeaders(input.headers, queryHeaders),
    resource: canonicalResource(input.rawPath, input.rawQuery, hostBucket(headerValue(input.headers, 'host'), deps.domain)),
  });
  verify(secret, toSign, signature, accessKeyId);
  return { accessKeyId, presigned: true, queryHeaders };
}
