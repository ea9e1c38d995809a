// The S3 endpoint: request id -> address -> auth -> route -> handler -> one reply writer; onError renders S3 errors.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Hono } from 'hono';
import type { MiddlewareHandler } from 'hono';
import type { Config } from '../config/index.ts';
import type { Store } from '../store/types.ts';
import { authenticate } from './auth/index.ts';
import type { S3Context } from './context.ts';
import { S3Error, isS3Error } from './errors.ts';
import { isFieldValue } from './meta.ts';
import { RESPONSE_ALREADY_SENT, type HttpBindings } from './node-http.ts';
import { HANDLERS } from './ops/index.ts';
import { errorReply, writeReply } from './reply.ts';
import { resolveOperation } from './route.ts';
import { parseTarget } from './target.ts';
import { readSmallBody } from './ingest.ts';
import { ADMIN_ROOT, adminReply } from '../replication/admin.ts';
import type { Replication } from '../replication/manager.ts';

const ADMIN_BODY_LIMIT = 64 * 1024;

export interface AppDeps {
  config: Config;
  store: Store;
  log: (line: string) => void;
  /** Serves the admin API under /_ferry/ when present. */
  replication?: Replication;
}

type Env = { Bindings: HttpBindings; Variables: { requestId: string; resource: string } };

/** Bucket names that can reach the store at all; CreateBucket applies S3's stricter rules. */
const LOOKUP_BUCKET_NAME = /^[A-Za-z0-9._-]{1,255}$/;

/** 16 upper-case hex digits, as S3's ids look. randomUUID draws from a pooled buffer: ~0.3 us, randomBytes(8) ~2.4 us. */
function newRequestId(): string {
  const uuid = randomUUID();
  return (uuid.slice(0, 8) + uuid.slice(9, 13) + uuid.slice(14, 18)).toUpperCase();
}

function requestIdMiddleware(): MiddlewareHandler<Env> {
  return async function requestId(c, next) {
    c.set('requestId', newRequestId());
    c.set('resource', '/');
    await next();
  };
}

function headerGetter(headers: IncomingHttpHeaders): (name: string) => string | undefined {
  return (name) => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
}

/**
 * The request's headers plus the x-amz-* ones a presigned URL carries in its query: the SDK presigners hoist
 * them there (x-amz-meta-*, x-amz-tagging, x-amz-copy-source...) and S3 honours them as headers; a real
 * header wins. A hoisted value is percent-decoded, so it is held to what a header could have carried
 * (AWS answers the same error for response-* overrides outside ISO-8859-1).
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
 */
function withQueryHeaders(headers: IncomingHttpHeaders, hoisted: Record<string, string>): IncomingHttpHeaders {
  const names = Object.keys(hoisted);
  if (names.length === 0) return headers;
  const merged: IncomingHttpHeaders = {};
  for (const name of names) {
    const value = hoisted[name]!;
    if (!isFieldValue(value)) {
      throw new S3Error('InvalidArgument', { message: 'Header value cannot be represented using ISO-8859-1.', detail: { ArgumentName: name, ArgumentValue: value } });
    }
    merged[name] = value;
  }
  return { ...merged, ...headers };
}

export function createApp(deps: AppDeps): Hono<Env> {
  const { config, store, log } = deps;
  const app = new Hono<Env>();
  const lookupSecret = (id: string) => (id === config.rootAccessKey ? config.rootSecretKey : undefined);

  app.use(requestIdMiddleware());

  app.all('*', async (c) => {
    const { incoming, outgoing } = c.env;
    const requestId = c.get('requestId');
    // "If the message is rejected based on the headers, the body of the message is not sent": invite the body only
    // when a handler starts reading it (every body reader pipes, which resumes). The server leaves this to us.
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (Expect), RFC 9110 10.1.1
    if (/100-continue/i.test(incoming.headers.expect ?? '')) {
      incoming.once('resume', () => {
        if (!outgoing.headersSent) outgoing.writeContinue();
      });
    }
    const target = parseTarget(incoming.url ?? '/', headerGetter(incoming.headers)('host'), config.domain);
    const resource = target.bucket === undefined ? '/' : `/${target.bucket}${target.key === undefined ? '' : '/' + target.key}`;
    c.set('resource', resource);
    const auth = await authenticate(
      { method: incoming.method ?? 'GET', rawPath: target.rawPath, rawQuery: target.rawQuery, headers: incoming.headersDistinct },
      { region: config.region, domain: config.domain, lookupSecret },
    );
    const headers = withQueryHeaders(incoming.headers, auth.queryHeaders);
    // An unsigned form POST is let through only to PostObject, which checks the policy signature in the form.
    if (auth.anonymous && (target.bucket === undefined || target.key !== undefined || target.bucket === ADMIN_ROOT)) {
      throw new S3Error('AccessDenied');
    }
    if (target.bucket === ADMIN_ROOT && deps.replication !== undefined) {
      const reply = await adminReply(deps.replication, {
        method: incoming.method ?? 'GET',
        path: target.key ?? '',
        query: target.query,
        body: async () => (await readSmallBody(auth, headers, incoming, ADMIN_BODY_LIMIT)).bytes,
      });
      await writeReply(outgoing, reply, requestId, false);
      return RESPONSE_ALREADY_SENT;
    }
    const header = headerGetter(headers);
    const op = resolveOperation({
      method: incoming.method ?? 'GET',
      ...(target.bucket !== undefined ? { bucket: target.bucket } : {}),
      ...(target.key !== undefined ? { key: target.key } : {}),
      query: new Set(target.query.keys()),
      copySource: header('x-amz-copy-source') !== undefined,
      form: /^multipart\/form-data/i.test(header('content-type') ?? ''),
    });
    if (auth.anonymous && op !== 'PostObject') throw new S3Error('AccessDenied');
    if (target.bucket !== undefined && op !== 'CreateBucket' && !LOOKUP_BUCKET_NAME.test(target.bucket)) {
      throw new S3Error('InvalidBucketName', { resource });
    }
    const ctx: S3Context = {
      op,
      ...(target.bucket !== undefined ? { bucket: target.bucket } : {}),
      ...(target.key !== undefined ? { key: target.key } : {}),
      query: target.query,
      headers,
      incoming,
      auth,
      store,
      config,
      requestId,
      resource,
      header,
    };
    const reply = await HANDLERS[op](ctx);
    await writeReply(outgoing, reply, requestId, incoming.method === 'HEAD');
    return RESPONSE_ALREADY_SENT;
  });

  app.onError((err, c) => {
    const requestId = c.get('requestId') ?? newRequestId();
    const outgoing: ServerResponse = c.env.outgoing;
    const s3err = isS3Error(err) ? err : new S3Error('InternalError', { cause: err });
    if (s3err.code === 'InternalError' || s3err.code === 'InsufficientStorage') {
      log(`request ${requestId} ${c.env.incoming.method} ${c.env.incoming.url}: ${s3err.code}: ${describe(s3err.cause ?? err)}`);
    }
    if (outgoing.headersSent) {
      outgoing.destroy();
      return RESPONSE_ALREADY_SENT;
    }
    const reply = errorReply(s3err, c.get('resource') ?? '/', requestId);
    // An unread request body would otherwise be drained; a refused upload should not cost its whole transfer.
    const incoming = c.env.incoming;
    if (!incoming.readableEnded && incoming.method !== 'GET' && incoming.method !== 'HEAD') {
      reply.headers = { ...reply.headers, Connection: 'close' };
      // Once the error is out, drop the rest of the body with its socket: nothing may keep the request alive.
      outgoing.once('finish', () => {
        incoming.unpipe();
        incoming.destroy();
      });
    }
    void writeReply(outgoing, reply, requestId, c.env.incoming.method === 'HEAD');
    return RESPONSE_ALREADY_SENT;
  });

  return app;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}
