// The one light HTTP client used against both servers: keep-alive node:http, bodies from Buffers, GET bodies counted not kept.
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { Signer, canonicalQuery, uriEncode, type Credentials } from './sigv4.ts';

export interface Target {
  readonly name: string;
  readonly port: number;
  readonly agent: Agent;
  /** Absent for the baseline, which ignores auth: it gets the same requests unsigned. */
  readonly signer?: Signer;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** Body bytes received. */
  bytes: number;
  /** The body, only when asked for (or on an error status). */
  text?: string;
}

export interface SendOptions {
  query?: ReadonlyArray<readonly [string, string]>;
  body?: Buffer;
  keepText?: boolean;
  timeoutMs?: number;
}

const HOST = '127.0.0.1';

export function makeTarget(name: string, port: number, creds?: Credentials): Target {
  // maxSockets above any concurrency used here, so every worker has its own connection.
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  return { name, port, agent, ...(creds ? { signer: new Signer(creds) } : {}) };
}

export class HttpStatusError extends Error {
  readonly status: number;
  constructor(target: string, method: string, path: string, status: number, text: string) {
    super(`${target}: ${method} ${path} answered ${status}: ${text.slice(0, 400)}`);
    this.name = 'HttpStatusError';
    this.status = status;
  }
}

/** One request; rejects on a non-2xx status, a short body or a timeout (60 s default). */
export function send(t: Target, method: string, path: string, opts: SendOptions = {}): Promise<Reply> {
  const host = `${HOST}:${t.port}`;
  let wirePath: string;
  const headers: Record<string, string | number> = { host };
  if (t.signer) {
    const signed = t.signer.sign(method, host, path, opts.query ?? []);
    wirePath = signed.path;
    Object.assign(headers, signed.headers);
  } else {
    const qs = canonicalQuery(opts.query ?? []);
    wirePath = qs ? `${uriEncode(path, true)}?${qs}` : uriEncode(path, true);
  }
  if (opts.body !== undefined || method === 'PUT' || method === 'POST') headers['content-length'] = opts.body?.length ?? 0;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise<Reply>((resolve, reject) => {
    const req = request({ host: HOST, port: t.port, method, path: wirePath, headers, agent: t.agent }, (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      const keep = opts.keepText === true || !ok;
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (keep) chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        const text = keep ? Buffer.concat(chunks).toString('utf8') : undefined;
        if (!ok) return reject(new HttpStatusError(t.name, method, wirePath, status, text ?? ''));
        const declared = res.headers['content-length'];
        if (declared !== undefined && Number(declared) !== bytes) {
          return reject(new Error(`${t.name}: ${method} ${wirePath}: body of ${bytes} bytes, Content-Length ${declared}`));
        }
        resolve({ status, headers: res.headers, bytes, ...(text !== undefined ? { text } : {}) });
      });
    });
    req.setNoDelay(true); // small requests must not wait on Nagle (a no-op once the socket has it)
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${t.name}: ${method} ${wirePath} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
