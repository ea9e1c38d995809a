// SigV4 header signing for the load generator: UNSIGNED-PAYLOAD so no body is hashed, signing key cached per day.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
import { createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export interface SignedRequest {
  /** Path and query as sent on the wire (identical to the canonical forms). */
  path: string;
  headers: Record<string, string>;
}

/** S3's UriEncode: RFC 3986 unreserved characters stay, the rest is %XX; '/' kept in paths.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html#create-canonical-request */
export function uriEncode(s: string, keepSlash: boolean): string {
  const e = encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return keepSlash ? e.replace(/%2F/g, '/') : e;
}

/** Query string in canonical form (sorted by encoded name, then value): also what goes on the wire. */
export function canonicalQuery(query: ReadonlyArray<readonly [string, string]>): string {
  return query
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

const UNSIGNED = 'UNSIGNED-PAYLOAD';
const SIGNED_HEADERS = 'host;x-amz-content-sha256;x-amz-date';

export class Signer {
  readonly #creds: Credentials;
  #day = '';
  // A KeyObject, not the key's bytes: createHmac imports raw bytes again on every call (~16 us on Node 24), and the
  // client shares the two cores with the server it measures.
  #key: KeyObject | undefined;

  constructor(creds: Credentials) {
    this.#creds = creds;
  }

  #signingKey(day: string): KeyObject {
    if (day !== this.#day || this.#key === undefined) {
      const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
      const kDate = hmac('AWS4' + this.#creds.secretAccessKey, day);
      this.#key = createSecretKey(hmac(hmac(hmac(kDate, this.#creds.region), 's3'), 'aws4_request'));
      this.#day = day;
    }
    return this.#key;
  }

  /** `path` is the raw (unencoded) path, e.g. `/bucket/key`. */
  sign(method: string, host: string, path: string, query: ReadonlyArray<readonly [string, string]> = [], now = new Date()): SignedRequest {
    const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const encodedPath = uriEncode(path, true);
    const qs = canonicalQuery(query);
    const canonical = [method, encodedPath, qs, `host:${host}`, `x-amz-content-sha256:${UNSIGNED}`, `x-amz-date:${amzDate}`, '', SIGNED_HEADERS, UNSIGNED].join('\n');
    const scope = `${day}/${this.#creds.region}/s3/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash('sha256', canonical, 'hex')}`;
    const signature = createHmac('sha256', this.#signingKey(day)).update(toSign).digest('hex');
    return {
      path: qs ? `${encodedPath}?${qs}` : encodedPath,
      headers: {
        'x-amz-date': amzDate,
        'x-amz-content-sha256': UNSIGNED,
        authorization: `AWS4-HMAC-SHA256 Credential=${this.#creds.accessKeyId}/${scope}, SignedHeaders=${SIGNED_HEADERS}, Signature=${signature}`,
      },
    };
  }
}
