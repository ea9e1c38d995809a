// CopyObject and UploadPartCopy: read a source object (checked by x-amz-copy-source-if-*) and write it anew.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type { BodyDigest, ChecksumAlgorithm, IncomingBody, ObjectMeta, ObjectReader, StreamedBody } from '../../store/types.ts';
import type { Handler, S3Context } from '../context.ts';
import { bucketOf, keyOf } from '../context.ts';
import { S3Error } from '../errors.ts';
import { checkCopySourceConditions, copySourceConditionsFrom, parseCopySourceRange, quoteEtag, writeConditionFrom } from '../conditions.ts';
import { createHasher, parseChecksumAlgorithm } from '../checksums.ts';
import { isoDate, objectMetaFrom, tagsFromHeader } from '../meta.ts';
import { changesStorageClass, refuseUnsupportedWriteOptions } from '../write-options.ts';
import { renderXml } from '../xml.ts';
import { checkPartNumber } from './multipart.ts';

interface CopySource {
  bucket: string;
  key: string;
}

/** x-amz-copy-source: "bucket/key" or "/bucket/key", URL-encoded, maybe "?versionId=". */
export function parseCopySource(value: string): CopySource {
  let raw = value;
  const q = raw.indexOf('?');
  if (q !== -1) {
    const version = new URLSearchParams(raw.slice(q + 1)).get('versionId');
    if (version !== null && version !== 'null') throw new S3Error('NoSuchKey', { message: 'The specified version does not exist.' });
    raw = raw.slice(0, q);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidArgument', { message: 'Invalid copy source encoding', detail: { ArgumentName: 'x-amz-copy-source' } });
  }
  if (decoded.startsWith('/')) decoded = decoded.slice(1);
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw new S3Error('InvalidArgument', { message: 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', detail: { ArgumentName: 'x-amz-copy-source' } });
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

/** Hashes bytes read from a stored object on their way into a new one (MD5 for the ETag, plus one checksum). */
export function hashedBody(source: Readable, algorithm: ChecksumAlgorithm | undefined, expectedSize: number): StreamedBody {
  const md5 = createHash('md5');
  const hasher = algorithm ? createHasher(algorithm) : undefined;
  let size = 0;
  let result: BodyDigest | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      md5.update(chunk);
      hasher?.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      result = { md5: md5.digest('hex'), size, ...(algorithm && hasher ? { checksum: { algorithm, value: hasher.digest().toString('base64') } } : {}) };
      done();
    },
  });
  source.on('error', (err) => stream.destroy(err));
  // If the writer gives up (disk full, condition failed), stop reading the source and release its file.
  stream.on('close', () => source.destroy());
  source.pipe(stream);
  return {
    stream,
    abort: (err) => stream.destroy(err),
    size: expectedSize,
    digest() {
      if (!result) throw new Error('digest() before the copy stream ended');
      return result;
    },
  };
}

async function openSource(ctx: S3Context): Promise<{ source: CopySource; reader: ObjectReader }> {
  const source = parseCopySource(ctx.header('x-amz-copy-source') ?? '');
  const reader = await ctx.store.getObject(source.bucket, source.key);
  try {
    checkCopySourceConditions(copySourceConditionsFrom(ctx.header), reader.info);
  } catch (err) {
    reader.close();
    throw err;
  }
  return { source, reader };
}

function directive(ctx: S3Context, name: string): 'COPY' | 'REPLACE' {
  const value = (ctx.header(name) ?? 'COPY').toUpperCase();
  if (value !== 'COPY' && value !== 'REPLACE') throw new S3Error('InvalidArgument', { message: `Unknown ${name}`, detail: { ArgumentName: name, ArgumentValue: value } });
  return value;
}

export const CopyObject: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const metaDirective = directive(ctx, 'x-amz-metadata-directive');
  const tagDirective = directive(ctx, 'x-amz-tagging-directive');
  const requested = ctx.header('x-amz-checksum-algorithm');
  const algorithm = requested === undefined ? undefined : parseChecksumAlgorithm(requested);
  if (requested !== undefined && !algorithm) throw new S3Error('InvalidArgument', { message: 'Invalid x-amz-checksum-algorithm' });
  const condition = writeConditionFrom(ctx.header);
  refuseUnsupportedWriteOptions(ctx.header);
  const { source, reader } = await openSource(ctx);
  let body: IncomingBody | undefined;
  try {
    const src = reader.info;
    if (source.bucket === bucket && source.key === key && metaDirective === 'COPY' && tagDirective === 'COPY' && !algorithm && !changesStorageClass(ctx.header)) {
      throw new S3Error('InvalidRequest', {
        message: "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      });
    }
    const fresh = metaDirective === 'REPLACE' ? objectMetaFrom(ctx.header, ctx.headers) : undefined;
    const meta: ObjectMeta = {
      headers: fresh ? fresh.headers : src.meta.headers,
      userMeta: fresh ? fresh.userMeta : src.meta.userMeta,
      tags: tagDirective === 'REPLACE' ? tagsFromHeader(ctx.header('x-amz-tagging')) : src.meta.tags,
    };
    // The copy is a new single-part object: keep the source's algorithm as a full-object checksum.
    body = hashedBody(reader.stream(), algorithm ?? src.checksum?.algorithm, src.size);
    const info = await ctx.store.putObject(bucket, key, body, meta, condition);
    return {
      headers: { 'x-amz-copy-source-version-id': undefined },
      xml: renderXml('CopyObjectResult', {
        ETag: quoteEtag(info.etag),
        LastModified: isoDate(info.lastModified),
        ...(info.checksum ? { ChecksumType: info.checksum.type, [`Checksum${info.checksum.algorithm}`]: info.checksum.value } : {}),
      }),
    };
  } catch (err) {
    // A refused destination may never read the copy stream: close it so the source file and its pin are released.
    body?.abort();
    reader.close();
    throw err;
  }
};

export const UploadPartCopy: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const partNumber = checkPartNumber(ctx);
  const uploadId = ctx.query.get('uploadId') ?? '';
  const upload = await ctx.store.getUpload(bucket, key, uploadId);
  const { reader } = await openSource(ctx);
  let body: IncomingBody | undefined;
  try {
    const range = parseCopySourceRange(ctx.header('x-amz-copy-source-range'), reader.info.size);
    const size = range ? range.end - range.start + 1 : reader.info.size;
    if (size > 5 * 1024 ** 3) throw new S3Error('InvalidRequest', { message: 'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120' });
    body = hashedBody(reader.stream(range), upload.checksumAlgorithm, size);
    const part = await ctx.store.uploadPart(bucket, key, uploadId, partNumber, body);
    return {
      xml: renderXml('CopyPartResult', {
        ETag: quoteEtag(part.etag),
        LastModified: isoDate(part.lastModified),
        ...(part.checksum ? { [`Checksum${part.checksum.algorithm}`]: part.checksum.value } : {}),
      }),
    };
  } catch (err) {
    // A refused destination may never read the copy stream: close it so the source file and its pin are released.
    body?.abort();
    reader.close();
    throw err;
  }
};
