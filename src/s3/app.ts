// The S3 endpoint: request id -> address -> auth -> route -> handler -> one reply writer; onError renders S3 errors.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono } from 'hono';
import type { MiddlewareHandler } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Config } from '../config/index.ts';
import type { Store } from '../store/types.ts';
import { authenticate } from './auth/index.ts';
import type { S3Context } from './context.ts';
import { S3Error, isS3Error } from './errors.ts';
import { HANDLERS } from './ops/index.ts';
import { errorReply, writeReply } from './reply.ts';
import { resolveOperation } from './route.ts';
import { parseTarget } from './target.ts';

export interface AppDeps {
  config: Config;
  store: Store;
  log: (line: string) => void;
}

type Env = { Bindings: HttpBindings; Variables: { requestId: string; resource: string } };

/** Bucket names that can reach the store at all; CreateBucket applies S3's stricter rules. */
const LOOKUP_BUCKET_NAME = /^[A-Za-z0-9._-]{1,255}$/;

function requestIdMiddleware(): MiddlewareHandler<Env> {
  return async function requestId(c, next) {
    c.set('requestId', randomBytes(8).toString('hex').toUpperCase());
    c.set('resource', '/');
    await next();
  };
}

function headerGetter(req: IncomingMessage): (name: string) => string | undefined {
  return (name) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
}

export function createApp(deps: AppDeps): Hono<Env> {
  const { config, store, log } = deps;
  const app = new Hono<Env>();
  const lookupSecret = (id: string) => (id === config.rootAccessKey ? config.rootSecretKey : undefined);

  app.use(requestIdMiddleware());

  app.all('*', async (c) => {
    const { incoming, outgoing } = c.env;
    const requestId = c.get('requestId');
    const header = headerGetter(incoming);
    const target = parseTarget(incoming.url ?? '/', header('host'), config.domain);
    const resource = target.bucket === undefined ? '/' : `/${target.bucket}${target.key === undefined ? '' : '/' + target.key}`;
    c.set('resource', resource);
    const auth = await authenticate(
      { method: incoming.method ?? 'GET', rawPath: target.rawPath, rawQuery: target.rawQuery, headers: incoming.headersDistinct },
      { region: config.region, lookupSecret },
    );
    const op = resolveOperation({
      method: incoming.method ?? 'GET',
      ...(target.bucket !== undefined ? { bucket: target.bucket } : {}),
      ...(target.key !== undefined ? { key: target.key } : {}),
      query: new Set(target.query.keys()),
      copySource: header('x-amz-copy-source') !== undefined,
    });
    if (target.bucket !== undefined && op !== 'CreateBucket' && !LOOKUP_BUCKET_NAME.test(target.bucket)) {
      throw new S3Error('InvalidBucketName', { resource });
    }
    const ctx: S3Context = {
      op,
      ...(target.bucket !== undefined ? { bucket: target.bucket } : {}),
      ...(target.key !== undefined ? { key: target.key } : {}),
      query: target.query,
      headers: incoming.headers,
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
    const requestId = c.get('requestId') ?? randomBytes(8).toString('hex').toUpperCase();
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
    if (!c.env.incoming.readableEnded && c.env.incoming.method !== 'GET' && c.env.incoming.method !== 'HEAD') {
      reply.headers = { ...reply.headers, Connection: 'close' };
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
