// The upstream S3 endpoint of one target, through @aws-sdk/client-s3 loaded on first use (it costs ~19 MB idle).
//
// Integrity: every body goes with Content-MD5, which every S3 engine verifies (s3rver included), and the SDK's
// default CRC32 aws-chunked trailer is turned off (requestChecksumCalculation WHEN_REQUIRED) because not every
// upstream understands it. A single-part object's ETag already is its MD5, so a plain PUT costs no extra hashing.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (Content-MD5)
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { ObjectInfo } from '../store/types.ts';
import type { TargetRecord } from './targets.ts';
import { serialLookup } from './serial-lookup.ts';

type Sdk = typeof import('@aws-sdk/client-s3');

let sdk: Promise<Sdk> | undefined;
function loadSdk(): Promise<Sdk> {
  sdk ??= import('@aws-sdk/client-s3');
  return sdk;
}

export interface Upstream {
  /** Cheap liveness check: any HTTP answer means the link is up. */
  probe(): Promise<void>;
  put(info: ObjectInfo, body: Readable | Buffer, md5Base64: string): Promise<void>;
  delete(key: string): Promise<void>;
  createMultipart(info: ObjectInfo): Promise<string>;
  uploadPart(key: string, uploadId: string, partNumber: number, body: Readable | Buffer, size: number, md5Base64: string): Promise<string>;
  completeMultipart(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<void>;
  abortMultipart(key: string, uploadId: string): Promise<void>;
  destroy(): void;
}

const QUIET = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Connection timeout and socket idle timeout: a blackholed link must fail, not hang. */
const CONNECT_TIMEOUT_MS = 5_000;
const IDLE_TIMEOUT_MS = 30_000;

/** The metadata S3 stores with an object, as PutObject/CreateMultipartUpload input fields. */
function objectFields(info: ObjectInfo): Record<string, unknown> {
  const h = info.meta.headers;
  const fields: Record<string, unknown> = { Metadata: info.meta.userMeta };
  if (h.contentType !== undefined) fields.ContentType = h.contentType;
  if (h.contentEncoding !== undefined) fields.ContentEncoding = h.contentEncoding;
  if (h.contentDisposition !== undefined) fields.ContentDisposition = h.contentDisposition;
  if (h.contentLanguage !== undefined) fields.ContentLanguage = h.contentLanguage;
  if (h.cacheControl !== undefined) fields.CacheControl = h.cacheControl;
  if (h.expires !== undefined && !Number.isNaN(Date.parse(h.expires))) fields.Expires = new Date(h.expires);
  if (info.meta.tags.length > 0) fields.Tagging = new URLSearchParams(info.meta.tags).toString();
  return fields;
}

const lookup = serialLookup();

export async function connectUpstream(target: TargetRecord, timeouts: { connectMs?: number; idleMs?: number } = {}): Promise<Upstream> {
  const s3 = await loadSdk();
  const client = new s3.S3Client({
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: target.pathStyle,
    credentials: { accessKeyId: target.accessKey, secretAccessKey: target.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The worker owns retries (back-off, link probing): one attempt per call keeps its view of the link exact.
    maxAttempts: 1,
    // Without a logger the SDK warns on the console for each failed streaming request: the worker logs state changes instead.
    logger: QUIET,
    // socketTimeout is the inactivity timeout (requestTimeout only warns in this @smithy/node-http-handler).
    requestHandler: {
      connectionTimeout: timeouts.connectMs ?? CONNECT_TIMEOUT_MS,
      socketTimeout: timeouts.idleMs ?? IDLE_TIMEOUT_MS,
      // The SDK's own agent settings (keep-alive, 50 sockets), with host names resolved one at a time.
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 50, lookup }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 50, lookup }),
    },
  });
  const Bucket = target.targetBucket;
  return {
    async probe() {
      try {
        await client.send(new s3.HeadBucketCommand({ Bucket }));
      } catch (err) {
        if (httpStatus(err) === undefined) throw err;
      }
    },
    async put(info, body, md5Base64) {
      await client.send(new s3.PutObjectCommand({
        Bucket, Key: info.key, Body: body, ContentLength: info.size, ContentMD5: md5Base64, ...objectFields(info),
      }));
    },
    async delete(key) {
      await client.send(new s3.DeleteObjectCommand({ Bucket, Key: key }));
    },
    async createMultipart(info) {
      const out = await client.send(new s3.CreateMultipartUploadCommand({ Bucket, Key: info.key, ...objectFields(info) }));
      if (out.UploadId === undefined) throw new Error('CreateMultipartUpload answered no UploadId');
      return out.UploadId;
    },
    async uploadPart(key, uploadId, partNumber, body, size, md5Base64) {
      const out = await client.send(new s3.UploadPartCommand({
        Bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: size, ContentMD5: md5Base64,
      }));
      if (out.ETag === undefined) throw new Error('UploadPart answered no ETag');
      return out.ETag;
    },
    async completeMultipart(key, uploadId, parts) {
      await client.send(new s3.CompleteMultipartUploadCommand({
        Bucket, Key: key, UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
      }));
    },
    async abortMultipart(key, uploadId) {
      await client.send(new s3.AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId }));
    },
    destroy() {
      client.destroy();
    },
  };
}

/** The HTTP status of an SDK error; undefined when no answer came back (the link failed). */
export function httpStatus(err: unknown): number | undefined {
  const meta = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return meta?.httpStatusCode;
}

export function errorCode(err: unknown): string {
  const e = err as { name?: string; Code?: string; code?: string } | null;
  return e?.Code ?? e?.code ?? e?.name ?? 'Error';
}

export type FailureKind = 'link' | 'transient' | 'permanent';

/**
 * No HTTP answer: the link. 5xx, 429, 408 and S3's throttling codes: retry later. Other 4xx: this object will not
 * go as it is (access denied, bad request), so it is marked FAILED instead of blocking the queue.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 */
export function classify(err: unknown): FailureKind {
  const status = httpStatus(err);
  if (status === undefined) return 'link';
  const code = errorCode(err);
  if (status >= 500 || status === 429 || status === 408 || code === 'SlowDown' || code === 'RequestTimeout' || code === 'RequestTimeTooSkewed') return 'transient';
  return 'permanent';
}
