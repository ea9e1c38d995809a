// Paged listings of objects and multipart uploads over LevelDB range iterators, rolling up common prefixes by seeking past them.
import type { ListObjectsInput, ListObjectsResult, ListUploadsInput, ListUploadsResult, UploadInfo } from './types.ts';
import { objectInfo, uploadInfo } from './core.ts';
import type { ObjectRecord, Sub, UploadRecord } from './core.ts';
import { compareUtf8, escapeKey, justAfter, pastPrefix, pastUploadsOf, uploadKey } from './keys.ts';

// classic-level's read-ahead per native round trip (default 16 KiB): a page of records without holding much memory.
const ITERATOR_OPTIONS = { keys: true, values: true, highWaterMarkBytes: 256 * 1024 };

/** The common prefix `key` rolls up into, if any: up to and including the first delimiter after the prefix. */
function commonPrefixOf(key: string, prefix: string, delimiter: string | undefined): string | undefined {
  if (!delimiter) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}

/**
 * Keys of one bucket in UTF-8 byte order. S3 semantics:
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
 */
export async function listObjects(objects: Sub<ObjectRecord>, input: ListObjectsInput): Promise<ListObjectsResult> {
  const result: ListObjectsResult = { objects: [], commonPrefixes: [], isTruncated: false };
  if (input.maxKeys <= 0) return result;
  const prefix = input.prefix ?? '';
  const delimiter = input.delimiter || undefined;
  const iterator = objects.iterator(ITERATOR_OPTIONS);
  try {
    iterator.seek(objectStart(prefix, delimiter, input.after), { keyEncoding: 'buffer' });
    let returned = 0;
    for (let entry = await iterator.next(); entry !== undefined; entry = await iterator.next()) {
      const [key, record] = entry;
      if (!key.startsWith(prefix)) break;
      if (returned === input.maxKeys) {
        result.isTruncated = true;
        break;
      }
      returned++;
      const common = commonPrefixOf(key, prefix, delimiter);
      if (common !== undefined) {
        result.commonPrefixes.push(common);
        result.lastReturned = common;
        iterator.seek(pastPrefix(common), { keyEncoding: 'buffer' });
      } else {
        result.objects.push(objectInfo(key, record));
        result.lastReturned = key;
      }
    }
  } finally {
    await iterator.close();
  }
  return result;
}

/**
 * Where a listing starts: at the prefix, or strictly after `after` when that is further; if `after`
 * lies inside a common prefix (a continuation that ended on one), past that whole prefix.
 */
function objectStart(prefix: string, delimiter: string | undefined, after: string | undefined): Buffer {
  if (after === undefined || compareUtf8(after, prefix) < 0) return Buffer.from(prefix, 'utf8');
  const common = after.startsWith(prefix) ? commonPrefixOf(after, prefix, delimiter) : undefined;
  return common === undefined ? justAfter(after) : pastPrefix(common);
}

/**
 * In-progress uploads ordered by key, then by initiation time (upload ids sort by time).
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html
 */
export async function listUploads(bucket: string, uploads: Sub<UploadRecord>, input: ListUploadsInput): Promise<ListUploadsResult> {
  const result: ListUploadsResult = { uploads: [], commonPrefixes: [], isTruncated: false };
  if (input.maxUploads <= 0) return result;
  const prefix = input.prefix ?? '';
  const delimiter = input.delimiter || undefined;
  const iterator = uploads.iterator(ITERATOR_OPTIONS);
  try {
    iterator.seek(uploadStart(prefix, delimiter, input.keyMarker, input.uploadIdMarker), { keyEncoding: 'buffer' });
    let returned = 0;
    for (let entry = await iterator.next(); entry !== undefined; entry = await iterator.next()) {
      const record = entry[1];
      if (!record.key.startsWith(prefix)) break;
      if (returned === input.maxUploads) {
        result.isTruncated = true;
        break;
      }
      returned++;
      const common = commonPrefixOf(record.key, prefix, delimiter);
      if (common !== undefined) {
        result.commonPrefixes.push(common);
        result.nextKeyMarker = common;
        delete result.nextUploadIdMarker;
        iterator.seek(pastPrefix(escapeKey(common)), { keyEncoding: 'buffer' });
      } else {
        const info: UploadInfo = uploadInfo(bucket, record);
        result.uploads.push(info);
        result.nextKeyMarker = info.key;
        result.nextUploadIdMarker = info.uploadId;
      }
    }
  } finally {
    await iterator.close();
  }
  return result;
}

/** key-marker alone skips every upload of that key; with upload-id-marker, only those up to that id. */
function uploadStart(prefix: string, delimiter: string | undefined, keyMarker: string | undefined, uploadIdMarker: string | undefined): Buffer {
  if (keyMarker === undefined || compareUtf8(keyMarker, prefix) < 0) return Buffer.from(escapeKey(prefix), 'utf8');
  const common = keyMarker.startsWith(prefix) ? commonPrefixOf(keyMarker, prefix, delimiter) : undefined;
  if (common !== undefined) return pastPrefix(escapeKey(common));
  if (uploadIdMarker) return justAfter(uploadKey(keyMarker, uploadIdMarker));
  return pastUploadsOf(keyMarker);
}
