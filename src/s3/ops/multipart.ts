// Multipart uploads: create, upload part, complete (validated, zero-copy in the store), abort, list parts and uploads.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html
import { createHash } from 'node:crypto';
import type { Checksum, ChecksumAlgorithm, ChecksumType, CompletePlanner, ObjectInfo, PartInfo } from '../../store/types.ts';
import type { Handler, S3Context } from '../context.ts';
import { bucketOf, keyOf } from '../context.ts';
import { S3Error, isS3Error } from '../errors.ts';
import { quoteEtag, writeConditionFrom } from '../conditions.ts';
import { checksumHeaderName, combineFullObjectChecksum, compositeChecksum, isValidChecksumValue, parseChecksumAlgorithm, supportsFullObject } from '../checksums.ts';
import { ingestBody, readSmallBody } from '../ingest.ts';
import { isoDate, objectMetaFrom } from '../meta.ts';
import { refuseUnsupportedWriteOptions } from '../write-options.ts';
import { parseXml, renderXml } from '../xml.ts';
import { encoderFor, maxParam } from './list.ts';
import { owner } from './owner.ts';
import { writeHeaders } from './object.ts';

const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_SIZE = 5 * 1024 ** 3;
const MAX_PARTS = 10000;
const COMPLETE_BODY_LIMIT = 4 * 1024 * 1024;

export function checkPartNumber(ctx: S3Context): number {
  const raw = ctx.query.get('partNumber') ?? '';
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_PARTS)) {
    throw new S3Error('InvalidArgument', { message: 'Part number must be an integer between 1 and 10000, inclusive', detail: { ArgumentName: 'partNumber', ArgumentValue: raw } });
  }
  return n;
}

function uploadIdOf(ctx: S3Context): string {
  const id = ctx.query.get('uploadId');
  if (!id) throw new S3Error('NoSuchUpload');
  return id;
}

export const CreateMultipartUpload: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  refuseUnsupportedWriteOptions(ctx.header);
  const meta = objectMetaFrom(ctx.header, ctx.headers);
  const rawAlg = ctx.header('x-amz-checksum-algorithm');
  const algorithm = rawAlg === undefined ? undefined : parseChecksumAlgorithm(rawAlg);
  if (rawAlg !== undefined && !algorithm) throw new S3Error('InvalidRequest', { message: 'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]' });
  const rawType = ctx.header('x-amz-checksum-type')?.toUpperCase();
  if (rawType !== undefined && rawType !== 'FULL_OBJECT' && rawType !== 'COMPOSITE') throw new S3Error('InvalidRequest', { message: 'Value for x-amz-checksum-type header is invalid.' });
  if (rawType !== undefined && !algorithm) throw new S3Error('InvalidRequest', { message: 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.' });
  let checksum: { algorithm: ChecksumAlgorithm; type: ChecksumType } | undefined;
  if (algorithm) {
    // CRC64NVME only exists as a full-object checksum; the others default to composite.
    const type: ChecksumType = (rawType as ChecksumType | undefined) ?? (algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE');
    if (type === 'FULL_OBJECT' && !supportsFullObject(algorithm)) throw new S3Error('InvalidRequest', { message: `The ${algorithm} checksum algorithm does not support the FULL_OBJECT checksum type.` });
    if (type === 'COMPOSITE' && algorithm === 'CRC64NVME') throw new S3Error('InvalidRequest', { message: 'The CRC64NVME checksum algorithm does not support the COMPOSITE checksum type.' });
    checksum = { algorithm, type };
  }
  const upload = await ctx.store.createMultipartUpload(bucket, key, meta, checksum);
  return {
    headers: checksum ? { 'x-amz-checksum-algorithm': checksum.algorithm, 'x-amz-checksum-type': checksum.type } : {},
    xml: renderXml('InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: upload.uploadId }),
  };
};

export const UploadPart: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const partNumber = checkPartNumber(ctx);
  const uploadId = uploadIdOf(ctx);
  const upload = await ctx.store.getUpload(bucket, key, uploadId);
  const body = ingestBody(ctx.auth, ctx.headers, ctx.incoming, {
    maxSize: MAX_PART_SIZE,
    requireContentLength: true,
    ...(upload.checksumAlgorithm ? { computeAlgorithm: upload.checksumAlgorithm } : {}),
  });
  const part = await ctx.store.uploadPart(bucket, key, uploadId, partNumber, body).catch((err: unknown) => {
    body.abort();
    throw err;
  });
  return { headers: writeHeaders(part) };
};

interface RequestedPart {
  partNumber: number;
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

function parseCompleteBody(bytes: Buffer): RequestedPart[] {
  const doc = parseXml(bytes, 'CompleteMultipartUpload', ['CompleteMultipartUpload.Part']);
  const parts = doc.Part;
  if (!Array.isArray(parts) || parts.length === 0) {
    throw new S3Error('MalformedXML', { message: 'The XML you provided was not well-formed or did not validate against our published schema' });
  }
  return parts.map((p: unknown) => {
    const part = (p ?? {}) as Record<string, unknown>;
    // A decimal integer, as the schema types it: Number() alone would also take "0x1", "1e0" or "".
    const rawNumber = typeof part.PartNumber === 'string' ? part.PartNumber.trim() : '';
    const num = /^\d{1,9}$/.test(rawNumber) ? Number(rawNumber) : NaN;
    if (!Number.isInteger(num) || typeof part.ETag !== 'string') throw new S3Error('MalformedXML');
    if (num < 1 || num > MAX_PARTS) throw new S3Error('InvalidArgument', { message: 'Part number must be an integer between 1 and 10000, inclusive' });
    const checksums: Partial<Record<ChecksumAlgorithm, string>> = {};
    for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
      const v = part[`Checksum${alg}`];
      if (typeof v === 'string' && v.trim()) checksums[alg] = v.trim();
    }
    return { partNumber: num, etag: part.ETag.trim().replace(/^"|"$/g, '').replace(/^&quot;|&quot;$/g, ''), checksums };
  });
}

/** Validates the client's part list against the stored parts and computes the final ETag and checksum. */
function planner(requested: RequestedPart[], expectedChecksum: string | undefined): CompletePlanner {
  return (stored, upload) => {
    const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
    const chosen: PartInfo[] = [];
    let previous = 0;
    for (const req of requested) {
      if (req.partNumber <= previous) throw new S3Error('InvalidPartOrder');
      previous = req.partNumber;
      const part = byNumber.get(req.partNumber);
      if (!part || part.etag !== req.etag) throw new S3Error('InvalidPart', { detail: { UploadId: upload.uploadId, PartNumber: req.partNumber, ETag: req.etag } });
      const alg = upload.checksumAlgorithm;
      if (alg && upload.checksumType === 'COMPOSITE') {
        const given = req.checksums[alg];
        if (given !== undefined && part.checksum && given !== part.checksum.value) {
          throw new S3Error('InvalidPart', { message: `The ${alg} checksum of part ${req.partNumber} does not match the uploaded part.` });
        }
      }
      chosen.push(part);
    }
    chosen.forEach((part, i) => {
      if (i < chosen.length - 1 && part.size < MIN_PART_SIZE) {
        throw new S3Error('EntityTooSmall', { detail: { ProposedSize: part.size, MinSizeAllowed: MIN_PART_SIZE, PartNumber: part.partNumber, ETag: quoteEtag(part.etag) } });
      }
    });
    // ETag of a multipart object: MD5 of the concatenated binary part MD5s, then "-N".
    const md5 = createHash('md5');
    for (const part of chosen) md5.update(Buffer.from(part.etag, 'hex'));
    const etag = `${md5.digest('hex')}-${chosen.length}`;
    let checksum: Checksum | undefined;
    const alg = upload.checksumAlgorithm;
    if (alg) {
      const values = chosen.map((p) => p.checksum?.algorithm === alg ? p.checksum.value : undefined);
      if (values.some((v) => v === undefined)) throw new S3Error('InvalidPart', { message: `Every part of this upload must carry a ${alg} checksum.` });
      const value = upload.checksumType === 'FULL_OBJECT' && (alg === 'CRC32' || alg === 'CRC32C' || alg === 'CRC64NVME')
        ? combineFullObjectChecksum(alg, chosen.map((p) => ({ value: p.checksum!.value, size: p.size })))
        : compositeChecksum(alg, values as string[]);
      checksum = { algorithm: alg, value, type: upload.checksumType ?? 'COMPOSITE' };
      if (expectedChecksum !== undefined && expectedChecksum !== value && expectedChecksum !== value.replace(/-\d+$/, '')) {
        throw new S3Error('BadDigest', { message: `The ${alg} you specified did not match the calculated checksum.` });
      }
    }
    return { parts: chosen, etag, ...(checksum ? { checksum } : {}) };
  };
}

export const CompleteMultipartUpload: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const condition = writeConditionFrom(ctx.header);
  // Completed already (a client retrying after a lost answer, or while the first Complete still ran): S3 answers
  // the same result again.
  const completedBefore = async (err: unknown): Promise<ObjectInfo> => {
    const done = isS3Error(err) && err.code === 'NoSuchUpload' ? await ctx.store.completedUpload(bucket, key, uploadId) : undefined;
    if (done === undefined) throw err;
    return done;
  };
  const upload = await ctx.store.getUpload(bucket, key, uploadId).catch(completedBefore);
  const { bytes } = await readSmallBody(ctx.auth, ctx.headers, ctx.incoming, COMPLETE_BODY_LIMIT, { objectChecksumHeaders: true });
  const requested = parseCompleteBody(bytes);
  let info: ObjectInfo;
  if ('etag' in upload) {
    info = upload;
  } else {
    const alg = upload.checksumAlgorithm;
    const expected = alg ? ctx.header(checksumHeaderName(alg)) : undefined;
    // A composite value may carry its "-N" part count; what precedes it must be a well-formed digest.
    if (alg && expected !== undefined && !isValidChecksumValue(alg, expected.replace(/-\d+$/, ''))) {
      throw new S3Error('InvalidRequest', { message: `Value for ${checksumHeaderName(alg)} header is invalid.` });
    }
    info = await ctx.store.completeMultipartUpload(bucket, key, uploadId, planner(requested, expected), condition).catch(completedBefore);
  }
  const proto = ctx.incoming.socket && 'encrypted' in ctx.incoming.socket ? 'https' : 'http';
  return {
    xml: renderXml('CompleteMultipartUploadResult', {
      Location: `${proto}://${ctx.header('host') ?? 'localhost'}/${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`,
      Bucket: bucket,
      Key: key,
      ETag: quoteEtag(info.etag),
      ...(info.checksum ? { [`Checksum${info.checksum.algorithm}`]: info.checksum.value, ChecksumType: info.checksum.type } : {}),
    }),
  };
};

export const AbortMultipartUpload: Handler = async (ctx) => {
  await ctx.store.abortMultipartUpload(bucketOf(ctx), keyOf(ctx), uploadIdOf(ctx));
  return { status: 204 };
};

export const ListParts: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const maxParts = maxParam(ctx, 'max-parts');
  const rawMarker = ctx.query.get('part-number-marker');
  if (rawMarker !== null && rawMarker !== '' && !/^\d+$/.test(rawMarker)) throw new S3Error('InvalidArgument', { message: 'Provided part-number-marker not an integer or within integer range' });
  const marker = rawMarker ? Number(rawMarker) : undefined;
  const page = await ctx.store.listParts(bucket, key, uploadId, { maxParts, ...(marker !== undefined ? { partNumberMarker: marker } : {}) });
  const who = owner(ctx);
  return {
    xml: renderXml('ListPartsResult', {
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      Initiator: who,
      Owner: who,
      StorageClass: 'STANDARD',
      PartNumberMarker: marker ?? 0,
      NextPartNumberMarker: page.nextPartNumberMarker ?? (page.parts.length ? page.parts[page.parts.length - 1]!.partNumber : 0),
      MaxParts: maxParts,
      IsTruncated: page.isTruncated,
      ChecksumAlgorithm: page.upload.checksumAlgorithm,
      ChecksumType: page.upload.checksumType,
      Part: page.parts.map((p) => ({
        PartNumber: p.partNumber,
        LastModified: isoDate(p.lastModified),
        ETag: quoteEtag(p.etag),
        Size: p.size,
        ...(p.checksum ? { [`Checksum${p.checksum.algorithm}`]: p.checksum.value } : {}),
      })),
    }),
  };
};

export const ListMultipartUploads: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const enc = encoderFor(ctx);
  const maxUploads = maxParam(ctx, 'max-uploads');
  const get = (n: string) => {
    const v = ctx.query.get(n);
    return v === null || v === '' ? undefined : v;
  };
  const prefix = get('prefix');
  const delimiter = get('delimiter');
  const keyMarker = get('key-marker');
  const uploadIdMarker = keyMarker !== undefined ? get('upload-id-marker') : undefined;
  const page = await ctx.store.listMultipartUploads(bucket, {
    maxUploads,
    ...(prefix !== undefined ? { prefix } : {}),
    ...(delimiter !== undefined ? { delimiter } : {}),
    ...(keyMarker !== undefined ? { keyMarker } : {}),
    ...(uploadIdMarker !== undefined ? { uploadIdMarker } : {}),
  });
  const who = owner(ctx);
  return {
    xml: renderXml('ListMultipartUploadsResult', {
      Bucket: bucket,
      KeyMarker: enc(keyMarker) ?? '',
      UploadIdMarker: uploadIdMarker ?? '',
      NextKeyMarker: enc(page.nextKeyMarker) ?? '',
      NextUploadIdMarker: page.nextUploadIdMarker ?? '',
      Prefix: enc(prefix),
      Delimiter: enc(delimiter),
      MaxUploads: maxUploads,
      EncodingType: ctx.query.get('encoding-type') ?? undefined,
      IsTruncated: page.isTruncated,
      Upload: page.uploads.map((u) => ({
        Key: enc(u.key),
        UploadId: u.uploadId,
        Initiator: who,
        Owner: who,
        StorageClass: 'STANDARD',
        Initiated: isoDate(u.initiated),
        ChecksumAlgorithm: u.checksumAlgorithm,
        ChecksumType: u.checksumType,
      })),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    }),
  };
};
