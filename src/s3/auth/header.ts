// Parses the SigV4 Authorization header into credential scope, signed header names and signature.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html
import { S3Error } from '../errors.ts';
import { ALGORITHM, parseCredential } from './canonical.ts';
import type { Credential } from './canonical.ts';

export interface AuthorizationHeader {
  credential: Credential;
  /** Lower-case names, in the order the client listed them (the order it signed them in). */
  signedHeaders: string[];
  signature: string;
}

export const UNSUPPORTED_MECHANISM = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.';

function malformed(message: string, detail?: Record<string, string>): S3Error {
  return new S3Error('AuthorizationHeaderMalformed', {
    message: `The authorization header is malformed; ${message}`,
    ...(detail ? { detail } : {}),
  });
}

/** Splits "a;b;c" into lower-case names; an empty name makes the list malformed. */
export function parseSignedHeaders(raw: string): string[] | undefined {
  const names = raw.split(';').map((n) => n.trim().toLowerCase());
  return names.some((n) => n === '') ? undefined : names;
}

export function parseAuthorizationHeader(value: string, region: string): AuthorizationHeader {
  // Signature V2 ("AWS AKID:sig"): regions opened since 2014 answer this way.
  // https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
  if (value.startsWith('AWS ')) throw new S3Error('InvalidRequest', { message: UNSUPPORTED_MECHANISM });
  const space = value.indexOf(' ');
  if (space <= 0) {
    throw new S3Error('InvalidArgument', {
      message: "Authorization header is invalid -- one and only one ' ' (space) required.",
      detail: { ArgumentName: 'Authorization', ArgumentValue: value },
    });
  }
  const algorithm = value.slice(0, space);
  if (algorithm === 'AWS4-ECDSA-P256-SHA256') {
    throw new S3Error('NotImplemented', { message: 'Signature Version 4A (AWS4-ECDSA-P256-SHA256) is not implemented.' });
  }
  if (algorithm !== ALGORITHM) {
    throw new S3Error('InvalidArgument', {
      message: 'Unsupported Authorization Type',
      detail: { ArgumentName: 'Authorization', ArgumentValue: value },
    });
  }

  const fields = new Map<string, string>();
  for (const piece of value.slice(space + 1).split(',')) {
    const part = piece.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw malformed(`the authorization component "${part}" is malformed.`);
    const name = part.slice(0, eq).trim();
    if (name !== 'Credential' && name !== 'SignedHeaders' && name !== 'Signature') {
      throw malformed(`the authorization component "${part}" is malformed.`);
    }
    fields.set(name, part.slice(eq + 1).trim());
  }
  if (fields.size === 0) {
    throw malformed('the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  const rawCredential = fields.get('Credential');
  if (rawCredential === undefined) throw malformed('missing Credential.');
  const rawSigned = fields.get('SignedHeaders');
  if (rawSigned === undefined) throw malformed('missing SignedHeaders.');
  const signature = fields.get('Signature');
  if (signature === undefined) throw malformed('missing Signature.');

  const credential = parseCredential(rawCredential, region, malformed);
  const signedHeaders = parseSignedHeaders(rawSigned);
  if (signedHeaders === undefined) throw malformed(`the authorization component "SignedHeaders=${rawSigned}" is malformed.`);
  return { credential, signedHeaders, signature };
}
