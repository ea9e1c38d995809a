// What every operation handler receives, and the reply value it returns (one place writes replies).
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Config } from '../config/index.ts';
import type { Store } from '../store/types.ts';
import type { AuthContext } from './auth/index.ts';
import type { Operation } from './route.ts';

export interface S3Context {
  readonly op: Operation;
  readonly bucket?: string;
  readonly key?: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The request body, still unread; handlers read it through ingest. */
  readonly incoming: IncomingMessage;
  readonly auth: AuthContext;
  readonly store: Store;
  readonly config: Config;
  readonly requestId: string;
  /** "/bucket" or "/bucket/key", for <Resource> in errors. */
  readonly resource: string;
  /** A header's value, names lower-case; repeated headers joined with ",". */
  header(name: string): string | undefined;
}

export interface S3Reply {
  status?: number;
  headers?: Record<string, string | number | undefined>;
  /** A rendered XML document. */
  xml?: string;
  /** A streamed body; headers must carry its Content-Length. */
  body?: Readable;
}

export type Handler = (ctx: S3Context) => Promise<S3Reply>;

/** The bucket of a bucket- or object-level operation (routing guarantees it is there). */
export function bucketOf(ctx: S3Context): string {
  if (ctx.bucket === undefined) throw new Error(`${ctx.op} routed without a bucket`);
  return ctx.bucket;
}

export function keyOf(ctx: S3Context): string {
  if (ctx.key === undefined) throw new Error(`${ctx.op} routed without a key`);
  return ctx.key;
}
