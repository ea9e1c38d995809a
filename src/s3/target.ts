// Splits a request target into bucket, key and query: path style always, virtual-host style under FERRY_DOMAIN.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html
import { S3Error } from './errors.ts';

export interface RequestTarget {
  bucket?: string;
  key?: string;
  /** The path as received, still percent-encoded (what SigV4 signs). */
  rawPath: string;
  rawQuery: string;
  query: URLSearchParams;
}

const MAX_KEY_BYTES = 1024;

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new S3Error('InvalidURI');
  }
}

export function parseTarget(url: string, host: string | undefined, domain: string | undefined): RequestTarget {
  let target = url;
  // Absolute-form targets ("http://host/path") are legal HTTP/1.1 (RFC 9112 3.2.2).
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i.exec(target);
  if (abs) target = target.slice(abs[0].length) || '/';
  if (!target.startsWith('/')) throw new S3Error('InvalidURI');
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const rawQuery = q === -1 ? '' : target.slice(q + 1);
  const query = new URLSearchParams(rawQuery);

  let bucket: string | undefined;
  let keyPart: string;
  const hostName = host?.replace(/:\d+$/, '').toLowerCase();
  if (domain && hostName && hostName !== domain && hostName.endsWith('.' + domain)) {
    bucket = hostName.slice(0, -(domain.length + 1));
    keyPart = rawPath.slice(1);
  } else {
    const slash = rawPath.indexOf('/', 1);
    const first = slash === -1 ? rawPath.slice(1) : rawPath.slice(1, slash);
    if (first !== '') bucket = decode(first);
    keyPart = slash === -1 ? '' : rawPath.slice(slash + 1);
  }
  const key = keyPart === '' ? undefined : decode(keyPart);
  if (key !== undefined && Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', { detail: { MaxSizeAllowed: MAX_KEY_BYTES, Size: Buffer.byteLength(key) } });
  }
  const result: RequestTarget = { rawPath, rawQuery, query };
  if (bucket !== undefined) result.bucket = bucket;
  if (key !== undefined) result.key = key;
  return result;
}
