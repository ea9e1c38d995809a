// Calls the running server's admin API (/_ferry/...) signed with SigV4 by the root credentials.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import {
  ALGORITHM, SERVICE, TERMINATOR, buildCanonicalRequest, canonicalHeaders, canonicalQuery, canonicalUri, formatAmzDate,
  hmacHex, parseQuery, sha256Hex, signingKey, stringToSign,
} from '../s3/auth/canonical.ts';

export interface AdminTarget {
  server: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

/** A problem with what the user asked (exit 2), as opposed to a failed operation (exit 1). */
export class UsageError extends Error {}

export class AdminError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Signed headers for one request; the body is hashed whole (admin bodies are small JSON). */
export function signRequest(target: AdminTarget, method: string, url: URL, body: Buffer, now = Date.now()): Record<string, string> {
  const amzDate = formatAmzDate(now);
  const date = amzDate.slice(0, 8);
  const payloadHash = sha256Hex(body);
  const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate };
  const signed = Object.keys(headers).sort();
  const canonical = buildCanonicalRequest({
    method,
    uri: canonicalUri(url.pathname),
    query: canonicalQuery(parseQuery(url.search.slice(1))),
    headers: canonicalHeaders(headers, signed),
    signedHeaders: signed.join(';'),
    payloadHash,
  });
  const scope = `${date}/${target.region}/${SERVICE}/${TERMINATOR}`;
  const signature = hmacHex(signingKey(target.secretKey, date, target.region), stringToSign(amzDate, scope, canonical));
  headers.authorization = `${ALGORITHM} Credential=${target.accessKey}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;
  return headers;
}

/** Sends a signed admin request; a non-2xx answer becomes an AdminError with S3's Code and Message. */
export async function adminFetch(target: AdminTarget, method: string, path: string, query: Record<string, string | undefined> = {}, json?: unknown): Promise<Response> {
  const url = new URL(`/_ferry/${path}`, target.server);
  for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, value);
  const body = json === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(json));
  const headers = signRequest(target, method, url, body);
  delete headers.host;
  if (json !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, { method, headers, ...(json !== undefined ? { body } : {}), signal: AbortSignal.timeout(120_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new AdminError(0, 'Unreachable', `cannot reach ferry at ${target.server} (${cause}); is it running? (--server)`);
  }
  if (res.ok) return res;
  const text = await res.text();
  let error: { Code?: unknown; Message?: unknown } | undefined;
  try {
    error = (new XMLParser({ parseTagValue: false }).parse(text) as { Error?: { Code?: unknown; Message?: unknown } }).Error;
  } catch {
    error = undefined;
  }
  const code = typeof error?.Code === 'string' ? error.Code : `HTTP ${res.status}`;
  const message = typeof error?.Message === 'string' ? error.Message : text.trim();
  throw new AdminError(res.status, code, message);
}

/**
 * Where the server is and how to sign for it: flags first, then FERRY_ADDRESS / FERRY_ROOT_* / FERRY_REGION (the
 * same variables `ferry serve` reads), then <data-dir>/root-credentials.json.
 */
export async function resolveAdminTarget(opts: { server?: string; dataDir?: string; region?: string }, env: NodeJS.ProcessEnv = process.env): Promise<AdminTarget> {
  let server = opts.server;
  if (server === undefined) {
    const address = env.FERRY_ADDRESS || '127.0.0.1:9000';
    const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
    const host = m ? (m[1] ?? m[2] ?? '') : '';
    const shown = host === '' || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    server = `http://${shown.includes(':') ? `[${shown}]` : shown}:${m ? m[3] : '9000'}`;
  }
  try {
    new URL(server);
  } catch {
    throw new UsageError(`--server "${server}" is not a URL (e.g. http://127.0.0.1:9000)`);
  }
  const region = opts.region ?? (env.FERRY_REGION || 'us-east-1');
  let accessKey = env.FERRY_ROOT_ACCESS_KEY;
  let secretKey = env.FERRY_ROOT_SECRET_KEY;
  if (!accessKey || !secretKey) {
    const file = join(resolve(opts.dataDir ?? (env.FERRY_DATA_DIR || './ferry-data')), 'root-credentials.json');
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as { accessKey?: unknown; secretKey?: unknown };
      if (typeof parsed.accessKey !== 'string' || typeof parsed.secretKey !== 'string') throw new Error('damaged');
      accessKey = parsed.accessKey;
      secretKey = parsed.secretKey;
    } catch {
      throw new UsageError(`no root credentials: set FERRY_ROOT_ACCESS_KEY and FERRY_ROOT_SECRET_KEY, or point --data-dir at the server's data dir (${file} not readable)`);
    }
  }
  return { server: server.replace(/\/$/, ''), accessKey, secretKey, region };
}
