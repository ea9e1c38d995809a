// Parses and time-checks the SigV4 query parameters of a presigned URL.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
import { S3Error } from '../errors.ts';
import { ALGORITHM, MAX_SKEW_MS, parseAmzDate, parseCredential } from './canonical.ts';
import type { Credential } from './canonical.ts';
import { parseSignedHeaders } from './header.ts';

export const PRESIGN_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
] as const;

/** A week: the longest validity SigV4 allows. */
export const MAX_EXPIRES_SECONDS = 604800;

export interface PresignedQuery {
  credential: Credential;
  amzDate: string;
  dateMs: number;
  expiresSeconds: number;
  signedHeaders: string[];
  signature: string;
}

function paramsError(message: string): S3Error {
  return new S3Error('AuthorizationQueryParametersError', { message });
}

/** `params` maps each query parameter name (exact case) to its first decoded value. */
export function parsePresignedQuery(params: ReadonlyMap<string, string>, region: string): PresignedQuery {
  for (const name of PRESIGN_PARAMS) {
    if (!params.has(name)) {
      throw paramsError(
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
  }
  const get = (name: (typeof PRESIGN_PARAMS)[number]): string => params.get(name) ?? '';
  if (get('X-Amz-Algorithm') !== ALGORITHM) throw paramsError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');

  const credential = parseCredential(get('X-Amz-Credential'), region, (message, detail) =>
    new S3Error('AuthorizationQueryParametersError', {
      message: `Error parsing the X-Amz-Credential parameter; ${message}`,
      ...(detail ? { detail } : {}),
    }),
  );

  const amzDate = get('X-Amz-Date');
  const dateMs = parseAmzDate(amzDate);
  if (dateMs === undefined) throw paramsError('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  if (amzDate.slice(0, 8) !== credential.date) {
    throw paramsError(`Invalid credential date "${credential.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`);
  }

  const rawExpires = get('X-Amz-Expires');
  if (!/^-?\d+$/.test(rawExpires)) throw paramsError('X-Amz-Expires should be a number');
  const expiresSeconds = Number(rawExpires);
  if (expiresSeconds < 0) throw paramsError('X-Amz-Expires must be non-negative');
  // 0 would expire at the instant of signing; the SDKs never produce it.
  if (expiresSeconds === 0) throw paramsError('X-Amz-Expires must be greater than 0');
  if (expiresSeconds > MAX_EXPIRES_SECONDS) {
    throw paramsError('X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds');
  }

  const signedHeaders = parseSignedHeaders(get('X-Amz-SignedHeaders'));
  if (signedHeaders === undefined) throw paramsError('X-Amz-SignedHeaders is malformed.');
  return { credential, amzDate, dateMs, expiresSeconds, signedHeaders, signature: get('X-Amz-Signature') };
}

/** A presigned URL is valid from its X-Amz-Date (less the allowed clock skew) until X-Amz-Expires seconds after it. */
export function checkPresignedTime(query: PresignedQuery, now: number): void {
  if (now < query.dateMs - MAX_SKEW_MS) {
    throw new S3Error('AccessDenied', { message: 'Request is not valid yet' });
  }
  const expires = query.dateMs + query.expiresSeconds * 1000;
  if (now > expires) {
    throw new S3Error('AccessDenied', {
      message: 'Request has expired',
      detail: {
        'X-Amz-Expires': query.expiresSeconds,
        Expires: new Date(expires).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        ServerTime: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    });
  }
}
