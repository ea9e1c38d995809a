// Raw HTTP for what SDKs will not send: hand-made requests, optionally SigV4-signed by @smithy/signature-v4 as an oracle.
import { request } from 'node:http';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { ACCESS_KEY, REGION, SECRET_KEY } from './server.ts';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

export interface RawRequest {
  method: string;
  /** Path and query exactly as sent on the wire. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  timeoutMs?: number;
}

/** node:crypto behind the hash interface @smithy/signature-v4 expects (HMAC when given a secret). */
export class Sha256 {
  private h: Hash | Hmac;
  private readonly secret: Uint8Array | string | undefined;
  constructor(secret?: Uint8Array | string) {
    this.secret = secret;
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', secret);
  }
  update(data: Uint8Array | string): void {
    this.h.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {
    this.h = this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
}

export function rawRequest(port: number, req: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, method: req.method, path: req.path, headers: req.headers ?? {}, timeout: req.timeoutMs ?? 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error('raw request timed out')));
    r.on('error', reject);
    r.end(req.body);
  });
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Signs a request with the test root credentials; `path` may hold a query string. */
export async function signedRequest(
  port: number,
  req: RawRequest & { payloadHash?: string; secret?: string; accessKey?: string; date?: Date; host?: string },
): Promise<RawResponse> {
  const signer = new SignatureV4({
    service: 's3',
    region: REGION,
    credentials: { accessKeyId: req.accessKey ?? ACCESS_KEY, secretAccessKey: req.secret ?? SECRET_KEY },
    sha256: Sha256 as unknown as ConstructorParameters<typeof SignatureV4>[0]["sha256"],
    uriEscapePath: false,
    applyChecksum: false,
  });
  const [pathname, search = ''] = req.path.split('?', 2) as [string, string?];
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(search)) query[k] = v;
  const body = req.body ?? '';
  const headers: Record<string, string> = {
    host: req.host ?? `127.0.0.1:${port}`,
    'x-amz-content-sha256': req.payloadHash ?? sha256Hex(body),
    ...(req.headers ?? {}),
  };
  const signed = await signer.sign(
    { method: req.method, protocol: 'http:', hostname: (req.host ?? '127.0.0.1').replace(/:\d+$/, ''), port, path: pathname, query, headers, body },
    req.date ? { signingDate: req.date } : {},
  );
  return rawRequest(port, { ...req, headers: signed.headers as Record<string, string> });
}
