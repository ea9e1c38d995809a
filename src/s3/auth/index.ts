// Authenticates a request once, before dispatch: SigV4 or SigV2, by Authorization header or presigned query; anonymous is denied.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
import type { IncomingHttpHeaders } from 'node:http';
import { S3Error } from '../errors.ts';
import {
  MAX_SKEW_MS,
  buildCanonicalRequest,
  canonicalHeaders,
  canonicalQuery,
  canonicalUri,
  formatAmzDate,
  hmacHex,
  parseAmzDate,
  parseQuery,
  signaturesMatch,
  signingKey,
  stringToSign,
} from './canonical.ts';
import type { SigningContext } from './canonical.ts';
import { parseAuthorizationHeader } from './header.ts';
import { PRESIGN_PARAMS, checkPresignedTime, parsePresignedQuery } from './presign.ts';
import { authenticateV2Header, authenticateV2Query } from './v2.ts';
import type { V2Identity } from './v2.ts';

export type { SigningContext } from './canonical.ts';

export type PayloadMode =
  | 'signed'
  | 'unsigned'
  | 'streaming-signed'
  | 'streaming-signed-trailer'
  | 'streaming-unsigned-trailer';

export interface AuthInput {
  method: string;
  /** Path exactly as received, still percent-encoded. */
  rawPath: string;
  /** After '?', as received; '' if none. */
  rawQuery: string;
  /**
   * Names lower-case, as Node gives them. Pass `req.headersDistinct` to sign repeated headers exactly: their
   * values then sign joined by ',' (`req.headers` joins them with ', ', which only matters for a repeated signed header).
   */
  headers: IncomingHttpHeaders | NodeJS.Dict<string | string[]>;
}

/** Who sent a verified request, and what the body decoder needs to verify its payload. */
export interface AuthContext {
  accessKeyId: string;
  payload: PayloadMode;
  presigned: boolean;
  /**
   * A browser-form upload (POST Object) with no header or query signature: its credentials are a signed policy in
   * the form, which the PostObject handler verifies. app.ts lets such a request reach no other operation.
   */
  anonymous?: boolean;
  /** Lower-case hex SHA-256 the body must have ('signed' mode only). */
  expectedSha256?: string;
  /** SigV4 only: what chunk signatures chain from. SigV2 has none, and so no signed aws-chunked payloads. */
  signing?: SigningContext;
  /**
   * x-amz-* parameters of a presigned URL other than its own auth parameters (names lower-case). The SDKs
   * hoist request headers into the query when presigning (x-amz-checksum-crc32, x-amz-meta-*...), and S3
   * honours them as headers.
   */
  queryHeaders: Record<string, string>;
}

export interface AuthDeps {
  region: string;
  /** FERRY_DOMAIN: SigV2 signs the bucket of a bucket.<domain> host as part of its resource. */
  domain?: string;
  lookupSecret(accessKeyId: string): string | undefined | Promise<string | undefined>;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

const CONTENT_SHA256 = 'x-amz-content-sha256';
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const PAYLOAD_KEYWORDS = new Map<string, PayloadMode>([
  ['UNSIGNED-PAYLOAD', 'unsigned'],
  ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'streaming-signed'],
  ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'streaming-signed-trailer'],
  ['STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'streaming-unsigned-trailer'],
]);
// Messages as AWS words them; see sigv4-auth-using-authorization-header.html for the accepted values.
const BAD_PAYLOAD_HASH =
  'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.';
const ONE_MECHANISM =
  'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified';
/** Query parameters that are the presigned URL's own, not hoisted request headers. */
const OWN_QUERY_PARAMS = new Set([...PRESIGN_PARAMS.map((p) => p.toLowerCase()), 'x-amz-security-token']);

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** Maps x-amz-content-sha256 to the payload mode; throws for a value S3 refuses. */
function payloadMode(value: string): { mode: PayloadMode; sha256?: string } {
  const mode = PAYLOAD_KEYWORDS.get(value);
  if (mode !== undefined) return { mode };
  if (SHA256_HEX.test(value)) return { mode: 'signed', sha256: value.toLowerCase() };
  if (value.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD')) {
    throw new S3Error('NotImplemented', { message: 'Signature Version 4A streaming payloads are not implemented.' });
  }
  throw new S3Error('InvalidArgument', {
    message: BAD_PAYLOAD_HASH,
    detail: { ArgumentName: CONTENT_SHA256, ArgumentValue: value },
  });
}

/**
 * S3 refuses x-amz-* headers the signature does not cover, and `host` must always be signed.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html ("SignedHeaders")
 */
function checkSignedHeaders(headers: AuthInput['headers'], signed: readonly string[]): void {
  const covered = new Set(signed);
  const missing: string[] = [];
  if (!covered.has('host')) missing.push('host');
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-') && !covered.has(lower)) missing.push(lower);
  }
  if (missing.length > 0) {
    throw new S3Error('AccessDenied', {
      message: 'There were headers present in the request which were not signed',
      detail: { HeadersNotSigned: missing.join(', ') },
    });
  }
}

async function secretOf(deps: AuthDeps, accessKeyId: string): Promise<string> {
  const secret = await deps.lookupSecret(accessKeyId);
  if (secret === undefined) {
    throw new S3Error('InvalidAccessKeyId', { detail: { AWSAccessKeyId: accessKeyId } });
  }
  return secret;
}

interface Verification {
  method: string;
  uri: string;
  query: string;
  headers: AuthInput['headers'];
  signedHeaders: string[];
  payloadHash: string;
  amzDate: string;
  scope: string;
  key: Buffer;
  provided: string;
  accessKeyId: string;
}

/** Recomputes the signature and compares in constant time; returns it (the seed of any chunk chain). */
function verify(v: Verification): string {
  const canonical = buildCanonicalRequest({
    method: v.method,
    uri: v.uri,
    query: v.query,
    headers: canonicalHeaders(v.headers, v.signedHeaders),
    signedHeaders: v.signedHeaders.join(';'),
    payloadHash: v.payloadHash,
  });
  const toSign = stringToSign(v.amzDate, v.scope, canonical);
  const expected = hmacHex(v.key, toSign);
  if (!signaturesMatch(expected, v.provided)) {
    // AWS returns what it signed so that a client can find its canonicalisation mistake.
    throw new S3Error('SignatureDoesNotMatch', {
      detail: { AWSAccessKeyId: v.accessKeyId, StringToSign: toSign, SignatureProvided: v.provided, CanonicalRequest: canonical },
    });
  }
  return expected;
}

function firstValues(pairs: Array<[Buffer, Buffer]>): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of pairs) {
    const n = name.toString('utf8');
    if (!map.has(n)) map.set(n, value.toString('utf8'));
  }
  return map;
}

/** Authenticates the request or throws the S3Error AWS would answer with. */
export async function authenticate(input: AuthInput, deps: AuthDeps): Promise<AuthContext> {
  const now = deps.now?.() ?? Date.now();
  const pairs = parseQuery(input.rawQuery);
  const params = firstValues(pairs);
  const authorization = single(input.headers.authorization);
  const queryAuth = params.has('X-Amz-Algorithm') || params.has('X-Amz-Credential') || params.has('X-Amz-Signature');
  // Signature V2 in the query string.
  const queryV2 = params.has('AWSAccessKeyId') || params.has('Signature');

  if (authorization !== undefined && (queryAuth || queryV2)) {
    throw new S3Error('InvalidArgument', {
      message: ONE_MECHANISM,
      detail: { ArgumentName: 'Authorization', ArgumentValue: authorization },
    });
  }
  if (authorization !== undefined) {
    if (authorization.startsWith('AWS ')) return v2Context(input, await authenticateV2Header(input, deps, authorization, now));
    return authenticateHeader(input, deps, authorization, pairs, now);
  }
  if (queryAuth) return authenticatePresigned(input, deps, pairs, params, now);
  if (queryV2) return v2Context(input, await authenticateV2Query(input, deps, params, now));
  // Browser form uploads (POST Object) sign a policy in the body instead.
  // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-authentication-HTTPPOST.html
  const contentType = single(input.headers['content-type']) ?? '';
  if (input.method === 'POST' && contentType.toLowerCase().startsWith('multipart/form-data')) {
    return { accessKeyId: '', payload: 'unsigned', presigned: false, anonymous: true, queryHeaders: {} };
  }
  throw new S3Error('AccessDenied');
}

/**
 * SigV2 has no payload hash of its own: Content-MD5, when sent, is what vouches for the body (ingest checks it). An
 * x-amz-content-sha256 it signed is still honoured; signed aws-chunked bodies need a SigV4 seed signature.
 */
function v2Context(input: AuthInput, identity: V2Identity): AuthContext {
  const raw = single(input.headers[CONTENT_SHA256]) ?? identity.queryHeaders[CONTENT_SHA256];
  const payload = raw === undefined ? { mode: 'unsigned' as const } : payloadMode(raw);
  if (payload.mode === 'streaming-signed' || payload.mode === 'streaming-signed-trailer') {
    throw new S3Error('InvalidRequest', { message: 'Signed aws-chunked payloads require AWS Signature Version 4.' });
  }
  return {
    accessKeyId: identity.accessKeyId,
    payload: payload.mode,
    presigned: identity.presigned,
    ...(payload.sha256 !== undefined ? { expectedSha256: payload.sha256 } : {}),
    queryHeaders: identity.queryHeaders,
  };
}

async function authenticateHeader(
  input: AuthInput,
  deps: AuthDeps,
  authorization: string,
  pairs: Array<[Buffer, Buffer]>,
  now: number,
): Promise<AuthContext> {
  const parsed = parseAuthorizationHeader(authorization, deps.region);
  const { credential } = parsed;

  // x-amz-date wins over Date; either must be there and parse.
  const rawAmzDate = single(input.headers['x-amz-date']);
  const rawDate = single(input.headers.date);
  let dateMs: number | undefined;
  if (rawAmzDate !== undefined) dateMs = parseAmzDate(rawAmzDate);
  else if (rawDate !== undefined && /^[A-Za-z]{3}, /.test(rawDate)) {
    const t = Date.parse(rawDate);
    dateMs = Number.isNaN(t) ? undefined : t;
  }
  if (dateMs === undefined) {
    throw new S3Error('AccessDenied', { message: 'AWS authentication requires a valid Date or x-amz-date header' });
  }
  const amzDate = rawAmzDate ?? formatAmzDate(dateMs);
  if (amzDate.slice(0, 8) !== credential.date) {
    throw new S3Error('AuthorizationHeaderMalformed', {
      message: 'The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.',
    });
  }
  if (Math.abs(now - dateMs) > MAX_SKEW_MS) {
    throw new S3Error('RequestTimeTooSkewed', {
      message: 'The difference between the request time and the current time is too large.',
      detail: {
        RequestTime: rawAmzDate ?? rawDate ?? '',
        ServerTime: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        MaxAllowedSkewMilliseconds: MAX_SKEW_MS,
      },
    });
  }

  const rawPayload = single(input.headers[CONTENT_SHA256]);
  if (rawPayload === undefined) {
    throw new S3Error('InvalidRequest', { message: `Missing required header for this request: ${CONTENT_SHA256}` });
  }
  const payload = payloadMode(rawPayload);
  checkSignedHeaders(input.headers, parsed.signedHeaders);

  const secret = await secretOf(deps, credential.accessKeyId);
  const key = signingKey(secret, credential.date, credential.region);
  const seedSignature = verify({
    method: input.method,
    uri: canonicalUri(input.rawPath),
    query: canonicalQuery(pairs),
    headers: input.headers,
    signedHeaders: parsed.signedHeaders,
    payloadHash: rawPayload,
    amzDate,
    scope: credential.scope,
    key,
    provided: parsed.signature,
    accessKeyId: credential.accessKeyId,
  });
  return {
    accessKeyId: credential.accessKeyId,
    payload: payload.mode,
    presigned: false,
    ...(payload.sha256 !== undefined ? { expectedSha256: payload.sha256 } : {}),
    signing: { key, amzDate, scope: credential.scope, seedSignature },
    queryHeaders: {},
  };
}

async function authenticatePresigned(
  input: AuthInput,
  deps: AuthDeps,
  pairs: Array<[Buffer, Buffer]>,
  params: ReadonlyMap<string, string>,
  now: number,
): Promise<AuthContext> {
  const query = parsePresignedQuery(params, deps.region);
  checkPresignedTime(query, now);

  const queryHeaders: Record<string, string> = {};
  for (const [name, value] of params) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-') && !OWN_QUERY_PARAMS.has(lower)) queryHeaders[lower] = value;
  }
  // A presigned URL signs UNSIGNED-PAYLOAD unless the client sent (or the presigner hoisted) a payload hash.
  // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
  const payloadHash = single(input.headers[CONTENT_SHA256]) ?? queryHeaders[CONTENT_SHA256] ?? 'UNSIGNED-PAYLOAD';
  const payload = payloadMode(payloadHash);
  if (payload.mode === 'streaming-signed' || payload.mode === 'streaming-signed-trailer') {
    // Chunk signatures chain from a header signature; a presigned URL has none to seed them.
    throw new S3Error('InvalidRequest', { message: 'The value of x-amz-content-sha256 header is invalid.' });
  }
  checkSignedHeaders(input.headers, query.signedHeaders);

  const secret = await secretOf(deps, query.credential.accessKeyId);
  const key = signingKey(secret, query.credential.date, query.credential.region);
  const seedSignature = verify({
    method: input.method,
    uri: canonicalUri(input.rawPath),
    query: canonicalQuery(pairs, 'X-Amz-Signature'),
    headers: input.headers,
    signedHeaders: query.signedHeaders,
    payloadHash,
    amzDate: query.amzDate,
    scope: query.credential.scope,
    key,
    provided: query.signature,
    accessKeyId: query.credential.accessKeyId,
  });
  return {
    accessKeyId: query.credential.accessKeyId,
    payload: payload.mode,
    presigned: true,
    ...(payload.sha256 !== undefined ? { expectedSha256: payload.sha256 } : {}),
    signing: { key, amzDate: query.amzDate, scope: query.credential.scope, seedSignature },
    queryHeaders,
  };
}
