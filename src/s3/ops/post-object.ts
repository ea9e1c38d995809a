// POST Object: a browser-form upload to a bucket, authenticated by a signed policy in the form rather than by headers.
// https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import type { Handler, S3Context } from '../context.ts';
import { bucketOf } from '../context.ts';
import { quoteEtag } from '../conditions.ts';
import { S3Error } from '../errors.ts';
import { ingestStream } from '../ingest.ts';
import { isFieldValue, storedHeadersFrom, tagsFromXml, userMetaFrom } from '../meta.ts';
import { refuseUnsupportedWriteOptions } from '../write-options.ts';
import { renderXml } from '../xml.ts';
import type { ObjectMeta, StreamedBody } from '../../store/types.ts';
import { readPostForm } from './post-form.ts';
import { checkPolicy, missingField, parsePolicy, verifyPolicySignature } from './post-policy.ts';

const MAX_KEY_BYTES = 1024;
/** Fields that become stored headers: each must be writable as a header when the object is read back. */
const HEADER_FIELDS = ['content-type', 'cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'];

/**
 * Enforces content-length-range while the file streams: EntityTooLarge as soon as the file passes the maximum,
 * EntityTooSmall at its end. Either fails the stream, so the store commits nothing.
 */
class SizeRange extends Transform {
  readonly #min: number;
  readonly #max: number;
  #size = 0;

  constructor(min: number, max: number) {
    super();
    this.#min = min;
    this.#max = max;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.#max) {
      callback(new S3Error('EntityTooLarge', { detail: { ProposedSize: this.#size, MaxSizeAllowed: this.#max } }));
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#size < this.#min) {
      callback(new S3Error('EntityTooSmall', {
        message: 'Your proposed upload is smaller than the minimum allowed size',
        detail: { ProposedSize: this.#size, MinSizeAllowed: this.#min },
      }));
      return;
    }
    callback();
  }
}

/** The `tagging` field: a Tagging XML document, as PutObjectTagging takes it (RESTObjectPOST.html "tagging"). */
function tagsFromField(value: string | undefined): Array<[string, string]> {
  return value === undefined ? [] : tagsFromXml(Buffer.from(value, 'utf8'));
}

function objectMetaFromFields(fields: ReadonlyMap<string, string>): ObjectMeta {
  for (const name of HEADER_FIELDS) {
    const value = fields.get(name);
    if (value !== undefined && !isFieldValue(value)) {
      throw new S3Error('InvalidArgument', { message: 'Header value cannot be represented using ISO-8859-1.', detail: { ArgumentName: name, ArgumentValue: value } });
    }
  }
  return { headers: storedHeadersFrom((name) => fields.get(name)), userMeta: userMetaFrom(Object.fromEntries(fields)), tags: tagsFromField(fields.get('tagging')) };
}

/** The object's URL, as AWS puts it in Location: the request's own host and style. */
function locationOf(ctx: S3Context, bucket: string, key: string): string {
  const host = ctx.header('host') ?? '127.0.0.1';
  const path = encodeURIComponent(key).replace(/%2F/g, '/');
  const virtual = ctx.config.domain !== undefined && host.replace(/:\d+$/, '').toLowerCase() === `${bucket}.${ctx.config.domain}`;
  return `http://${host}/${virtual ? '' : encodeURIComponent(bucket) + '/'}${path}`;
}

/** success_action_redirect (or the older `redirect`) when it is an http(s) URL; AWS ignores anything else. */
function redirectTarget(fields: ReadonlyMap<string, string>): URL | undefined {
  const raw = fields.get('success_action_redirect') ?? fields.get('redirect');
  if (raw === undefined || !URL.canParse(raw)) return undefined;
  const url = new URL(raw);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
}

export const PostObject: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const { fields, file, filename } = await readPostForm(ctx.headers, ctx.incoming);
  // From here on the file is waiting: any refusal must let go of it (app.onError then drops the connection).
  let body: StreamedBody | undefined;
  try {
    const rawKey = fields.get('key');
    if (rawKey === undefined || rawKey === '') throw missingField('key');
    const accessKeyId = await verifyPolicySignature(fields, ctx.config.region, (id) => (id === ctx.config.rootAccessKey ? ctx.config.rootSecretKey : undefined));
    const policy = parsePolicy(fields.get('policy')!);
    // "${filename}" takes the name of the uploaded file; without one it stays as written (RESTObjectPOST.html "key").
    const key = filename === undefined ? rawKey : rawKey.replaceAll('${filename}', filename);
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
      throw new S3Error('KeyTooLongError', { detail: { MaxSizeAllowed: MAX_KEY_BYTES, Size: Buffer.byteLength(key) } });
    }
    const values = new Map(fields);
    values.set('bucket', bucket);
    values.set('key', key);
    checkPolicy(policy, values, Date.now());

    const header = (name: string): string | undefined => fields.get(name);
    refuseUnsupportedWriteOptions(header);
    const meta = objectMetaFromFields(fields);
    const limit = new SizeRange(policy.minSize, policy.maxSize);
    // The part's bytes are the object: no aws-chunked framing, no payload hash; MD5 and size as for PutObject.
    const ingested = ingestStream({ accessKeyId, payload: 'unsigned', presigned: false, queryHeaders: {} }, {}, limit, { maxSize: ctx.config.maxObjectSize });
    // The form's Content-Length bounds the file: what the store checks against its free-space reserve.
    const declared = Number(ctx.header('content-length'));
    body = Number.isSafeInteger(declared) && declared >= 0 ? { ...ingested, size: Math.min(declared, policy.maxSize) } : ingested;
    file.once('error', (err) => limit.destroy(err));
    file.pipe(limit);
    const info = await ctx.store.putObject(bucket, key, body, meta);

    const etag = quoteEtag(info.etag);
    const location = locationOf(ctx, bucket, key);
    const headers = { ETag: etag, Location: location };
    const redirect = redirectTarget(fields);
    if (redirect !== undefined) {
      redirect.searchParams.append('bucket', bucket);
      redirect.searchParams.append('key', key);
      redirect.searchParams.append('etag', etag);
      return { status: 303, headers: { ...headers, Location: redirect.toString() } };
    }
    // 200, 201 with a PostResponse document, or 204 for anything else (RESTObjectPOST.html "success_action_status").
    const status = fields.get('success_action_status');
    if (status === '201') {
      return { status: 201, headers, xml: renderXml('PostResponse', { Location: location, Bucket: bucket, Key: key, ETag: etag }, false) };
    }
    return { status: status === '200' ? 200 : 204, headers };
  } catch (err) {
    body?.abort();
    file.destroy();
    throw err;
  }
};
