// SigV4 building blocks: S3's URI encoding, the canonical request, the string to sign and cached signing keys.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
import { createHmac, createSecretKey, hash, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const SERVICE = 's3';
export const TERMINATOR = 'aws4_request';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** SigV4 requests may be up to 15 minutes off the server clock. */
export const MAX_SKEW_MS = 15 * 60 * 1000;

/** What a verified request was signed with: all a chunk decoder needs to check chunk and trailer signatures. */
export interface SigningContext {
  /** The derived signing key (kSigning). */
  key: Buffer;
  /** ISO 8601 basic timestamp of the request, "20130524T000000Z". */
  amzDate: string;
  /** "20130524/us-east-1/s3/aws4_request" */
  scope: string;
  /** The request's own signature: the seed of the chunk signature chain. */
  seedSignature: string;
}

// AWS's UriEncode(): every byte but the unreserved set A-Z a-z 0-9 - _ . ~ becomes %XX (upper-case hex).
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html ("URI encode every byte")
const ENCODED: string[] = [];
for (let b = 0; b < 256; b++) {
  const c = String.fromCharCode(b);
  ENCODED.push(/[A-Za-z0-9\-_.~]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0'));
}

export function uriEncode(bytes: Uint8Array, keepSlash: boolean): string {
  let out = '';
  for (const b of bytes) out += keepSlash && b === 0x2f ? '/' : ENCODED[b];
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Percent-decodes to raw bytes, so that any byte sequence (even invalid UTF-8) re-encodes to itself.
 * A '%' not followed by two hex digits stays a literal '%'. Node hands the request target over as latin1
 * (one char per byte); a string with wider chars is taken as UTF-8.
 */
export function percentDecode(text: string, plusIsSpace: boolean): Buffer {
  const raw = /[^\u0000-\u00ff]/.test(text) ? Buffer.from(text, 'utf8') : Buffer.from(text, 'latin1');
  if (!raw.includes(0x25) && !(plusIsSpace && raw.includes(0x2b))) return raw;
  const out = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0x25 && i + 2 < raw.length) {
      const hi = hexValue(raw[i + 1]!);
      const lo = hexValue(raw[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = plusIsSpace && c === 0x2b ? 0x20 : c;
  }
  return out.subarray(0, n);
}

/**
 * The canonical URI of an S3 request: the decoded path encoded again, '/' kept, no double encoding and no
 * normalisation of "." or "//" segments (S3 keys may contain them).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html ("Amazon S3 ... does not normalize")
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '') return '/';
  return uriEncode(percentDecode(rawPath, false), true);
}

/** Query parameters as received, decoded ("+" is a space in a query string, as S3 reads it). Empty pieces are dropped. */
export function parseQuery(rawQuery: string): Array<[Buffer, Buffer]> {
  const pairs: Array<[Buffer, Buffer]> = [];
  if (rawQuery === '') return pairs;
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq === -1 ? piece : piece.slice(0, eq);
    const value = eq === -1 ? '' : piece.slice(eq + 1);
    pairs.push([percentDecode(name, true), percentDecode(value, true)]);
  }
  return pairs;
}

/**
 * Sorted "name=value" pairs, each strictly encoded, joined by '&'; a parameter without '=' signs as "name=".
 * `omit` drops a parameter by exact name (X-Amz-Signature of a presigned URL).
 */
export function canonicalQuery(pairs: Array<[Buffer, Buffer]>, omit?: string): string {
  const encoded: Array<[string, string]> = [];
  for (const [name, value] of pairs) {
    if (omit !== undefined && name.toString('latin1') === omit) continue;
    encoded.push([uriEncode(name, false), uriEncode(value, false)]);
  }
  // Sort by encoded name, then value: code-unit order of ASCII strings is byte order.
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return encoded.map(([n, v]) => `${n}=${v}`).join('&');
}

/** AWS "Trimall": no leading or trailing blanks, runs of blanks collapsed to one space. */
function trimAll(value: string): string {
  return value.replace(/[ \t]+/g, ' ').trim();
}

/**
 * The canonical headers block, one "name:value\n" per signed header in the order given. A repeated header
 * (when the caller passes its values as an array) joins its trimmed values with ','. A signed header that is
 * absent signs as empty, which can only match a client that signed it empty.
 */
export function canonicalHeaders(headers: IncomingHttpHeaders | NodeJS.Dict<string | string[]>, signedHeaders: readonly string[]): string {
  let out = '';
  for (const name of signedHeaders) {
    const value = headers[name];
    const text = value === undefined ? '' : Array.isArray(value) ? value.map(trimAll).join(',') : trimAll(value);
    out += `${name}:${text}\n`;
  }
  return out;
}

export function sha256Hex(data: string | Uint8Array): string {
  // The one-shot form: no Hash object per call (~0.5 us instead of ~1.3 us here).
  return hash('sha256', data, 'hex');
}

// createHmac with raw key bytes imports the key every call (~16 us on Node 24); with a KeyObject ~2 us.
// Signing keys are cached Buffers (signingKey()), so the KeyObject is made once per key and day.
const hmacKeys = new WeakMap<Uint8Array, KeyObject>();

export function hmacHex(key: Uint8Array, data: string): string {
  let keyObject = hmacKeys.get(key);
  if (keyObject === undefined) {
    keyObject = createSecretKey(key);
    hmacKeys.set(key, keyObject);
  }
  return createHmac('sha256', keyObject).update(data).digest('hex');
}

export function buildCanonicalRequest(parts: {
  method: string;
  uri: string;
  query: string;
  headers: string;
  signedHeaders: string;
  payloadHash: string;
}): string {
  return `${parts.method}\n${parts.uri}\n${parts.query}\n${parts.headers}\n${parts.signedHeaders}\n${parts.payloadHash}`;
}

export function stringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
}

const KEY_CACHE_LIMIT = 256;
const keyCache = new Map<string, Buffer>();

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"), cached: it changes once a day. */
export function signingKey(secret: string, date: string, region: string, service = SERVICE): Buffer {
  const id = `${secret}\n${date}\n${region}\n${service}`;
  const hit = keyCache.get(id);
  if (hit !== undefined) return hit;
  const kDate = createHmac('sha256', 'AWS4' + secret).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  const key = createHmac('sha256', kService).update(TERMINATOR).digest();
  if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.delete(keyCache.keys().next().value!);
  keyCache.set(id, key);
  return key;
}

/** Constant-time comparison of two hex signatures; the provided one may be upper-case. */
export function signaturesMatch(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'latin1');
  const b = Buffer.from(provided.toLowerCase(), 'latin1');
  return a.length === b.length && timingSafeEqual(a, b);
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Milliseconds since the epoch of an ISO 8601 basic timestamp, or undefined if it is not one. */
export function parseAmzDate(value: string): number | undefined {
  const m = AMZ_DATE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  // Reject 20130231T...: Date.UTC would roll it into March.
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return ms;
}

export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
  scope: string;
}

/**
 * Parses "AKID/YYYYMMDD/region/s3/aws4_request" and checks the scope against this endpoint. `fail` builds the
 * error for each problem; the header and the query form word them differently.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html
 */
export function parseCredential(
  raw: string,
  region: string,
  fail: (message: string, detail?: Record<string, string>) => Error,
): Credential {
  const parts = raw.split('/');
  if (parts.length !== 5 || parts[0] === '') {
    throw fail('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  const [accessKeyId, date, scopeRegion, service, terminator] = parts as [string, string, string, string, string];
  if (!/^\d{8}$/.test(date) || parseAmzDate(`${date}T000000Z`) === undefined) {
    throw fail(`incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`);
  }
  if (scopeRegion !== region) {
    throw fail(`the region '${scopeRegion}' is wrong; expecting '${region}'`, { Region: region });
  }
  if (service !== SERVICE) throw fail(`incorrect service "${service}". This endpoint belongs to "${SERVICE}".`);
  if (terminator !== TERMINATOR) throw fail(`incorrect terminal "${terminator}". This endpoint uses "${TERMINATOR}".`);
  return { accessKeyId, date, region: scopeRegion, scope: `${date}/${scopeRegion}/${service}/${terminator}` };
}
