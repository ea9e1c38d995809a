// Object metadata between HTTP and the store: system headers, x-amz-meta-*, and tag sets.
import type { ObjectInfo, ObjectMeta, StoredHeaders } from '../store/types.ts';
import { S3Error } from './errors.ts';
import { formatHttpDate, quoteEtag } from './conditions.ts';
import { checksumHeaderName } from './checksums.ts';
import { parseXml, renderXml } from './xml.ts';

/** Header name -> StoredHeaders field. Stored as sent: S3 never guesses a Content-Type. */
const STORED: Array<[string, keyof StoredHeaders]> = [
  ['content-type', 'contentType'],
  ['content-encoding', 'contentEncoding'],
  ['content-disposition', 'contentDisposition'],
  ['content-language', 'contentLanguage'],
  ['cache-control', 'cacheControl'],
  ['expires', 'expires'],
];

/** What S3 answers for an object stored without a Content-Type. */
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

/** User metadata limit: 2 KB of names + values (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html). */
const USER_META_LIMIT = 2048;

const META_PREFIX = 'x-amz-meta-';

/** Whether Node can write `value` as a header: an RFC 9110 5.5 field-value, one byte per char. */
export function isFieldValue(value: string): boolean {
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(value);
}

export function storedHeadersFrom(header: (name: string) => string | undefined): StoredHeaders {
  const out: StoredHeaders = {};
  for (const [name, field] of STORED) {
    const value = header(name);
    if (value !== undefined) out[field] = value;
  }
  // aws-chunked is a transfer framing, not a content coding the object keeps.
  if (out.contentEncoding !== undefined) {
    const codings = out.contentEncoding.split(',').map((s) => s.trim()).filter((s) => s && s.toLowerCase() !== 'aws-chunked');
    if (codings.length) out.contentEncoding = codings.join(',');
    else delete out.contentEncoding;
  }
  if (out.contentType === undefined || out.contentType === '') out.contentType = DEFAULT_CONTENT_TYPE;
  return out;
}

export function userMetaFrom(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const meta: Record<string, string> = {};
  let size = 0;
  for (const [rawName, rawValue] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (!name.startsWith(META_PREFIX) || rawValue === undefined) continue;
    const key = name.slice(META_PREFIX.length);
    const value = Array.isArray(rawValue) ? rawValue.join(',') : rawValue;
    meta[key] = value;
    size += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (size > USER_META_LIMIT) throw new S3Error('MetadataTooLarge', { detail: { Size: size, MaxSizeAllowed: USER_META_LIMIT } });
  return meta;
}

/** Tag rules: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html */
/** S3's tag rules; an object takes 10 tags, a bucket 50 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-managing.html). */
export function validateTags(tags: Array<[string, string]>, max = 10, what = 'Object'): Array<[string, string]> {
  if (tags.length > max) throw new S3Error('InvalidTag', { message: `${what} tags cannot be greater than ${max}` });
  const seen = new Set<string>();
  for (const [key, value] of tags) {
    if (key.length === 0 || [...key].length > 128) throw new S3Error('InvalidTag', { message: 'The TagKey you have provided is invalid' });
    if ([...value].length > 256) throw new S3Error('InvalidTag', { message: 'The TagValue you have provided is invalid' });
    if (key.toLowerCase().startsWith('aws:')) throw new S3Error('InvalidTag', { message: 'Your TagKey cannot be prefixed with aws:' });
    if (seen.has(key)) throw new S3Error('InvalidTag', { message: 'Cannot provide multiple Tags with the same key' });
    seen.add(key);
  }
  return tags;
}

/**
 * A Tagging document (PutObjectTagging, PutBucketTagging, the POST Object `tagging` field) as validated tags.
 * An empty <TagSet/> parses as '' (or whitespace); text in it is not a tag set and must not clear the tags.
 */
export function tagsFromXml(bytes: Buffer, max = 10, what = 'Object'): Array<[string, string]> {
  const doc = parseXml(bytes, 'Tagging', ['Tagging.TagSet.Tag']);
  const tagSet = doc.TagSet;
  if (tagSet === undefined || (typeof tagSet === 'string' && tagSet.trim() !== '')) throw new S3Error('MalformedXML');
  const raw = tagSet && typeof tagSet === 'object' ? ((tagSet as { Tag?: unknown }).Tag ?? []) : [];
  if (!Array.isArray(raw)) throw new S3Error('MalformedXML');
  const tags: Array<[string, string]> = raw.map((t: unknown) => {
    const { Key, Value } = (t ?? {}) as { Key?: unknown; Value?: unknown };
    if (typeof Key !== 'string' || (Value !== undefined && typeof Value !== 'string')) throw new S3Error('MalformedXML');
    return [Key, Value ?? ''];
  });
  return validateTags(tags, max, what);
}

/** Tags as GetObjectTagging / GetBucketTagging answer them: sorted by key, as RGW does (S3 promises no order). */
export function taggingXml(tags: ReadonlyArray<[string, string]>): string {
  const sorted = [...tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return renderXml('Tagging', { TagSet: { Tag: sorted.map(([Key, Value]) => ({ Key, Value })) } });
}

/** x-amz-tagging: a URL query string, "k1=v1&k2=v2". */
export function tagsFromHeader(value: string | undefined): Array<[string, string]> {
  if (value === undefined || value === '') return [];
  const tags: Array<[string, string]> = [];
  for (const [k, v] of new URLSearchParams(value)) tags.push([k, v]);
  return validateTags(tags);
}

export function objectMetaFrom(header: (name: string) => string | undefined, headers: Record<string, string | string[] | undefined>): ObjectMeta {
  return { headers: storedHeadersFrom(header), userMeta: userMetaFrom(headers), tags: tagsFromHeader(header('x-amz-tagging')) };
}

/**
 * A user metadata value as GET and HEAD send it: US-ASCII as stored, anything else as an RFC 2047 encoded-word of its
 * UTF-8 bytes. https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html ("encoded as per RFC 2047
 * to make them mail-safe before returning"). Header bytes arrive read as ISO-8859-1, by Node as by S3: raw UTF-8
 * "ö" is stored as "Ã¶" and S3 answers =?UTF-8?B?w4PCtg==?= for it (reported in minio/minio#21282), as this does.
 */
export function mailSafe(value: string): string {
  return /^[\t\x20-\x7e]*$/.test(value) ? value : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** GET/HEAD response-* query overrides (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html). */
const OVERRIDES: Array<[string, string]> = [
  ['response-content-type', 'Content-Type'],
  ['response-content-language', 'Content-Language'],
  ['response-expires', 'Expires'],
  ['response-cache-control', 'Cache-Control'],
  ['response-content-disposition', 'Content-Disposition'],
  ['response-content-encoding', 'Content-Encoding'],
];

/** The headers GET and HEAD answer for an object. */
export function objectHeaders(info: ObjectInfo, query: URLSearchParams, checksumMode: boolean): Record<string, string | number | undefined> {
  const h = info.meta.headers;
  const out: Record<string, string | number | undefined> = {
    'Last-Modified': formatHttpDate(info.lastModified),
    ETag: quoteEtag(info.etag),
    'Accept-Ranges': 'bytes',
    'Content-Type': h.contentType ?? DEFAULT_CONTENT_TYPE,
    'Content-Encoding': h.contentEncoding,
    'Content-Disposition': h.contentDisposition,
    'Content-Language': h.contentLanguage,
    'Cache-Control': h.cacheControl,
    Expires: h.expires,
  };
  for (const [name, value] of Object.entries(info.meta.userMeta)) out[META_PREFIX + name] = mailSafe(value);
  if (info.meta.tags.length) out['x-amz-tagging-count'] = info.meta.tags.length;
  if (checksumMode && info.checksum) {
    out[checksumHeaderName(info.checksum.algorithm)] = info.checksum.value;
    out['x-amz-checksum-type'] = info.checksum.type;
  }
  for (const [param, name] of OVERRIDES) {
    const value = query.get(param);
    if (value === null) continue;
    // The value is percent-decoded from the query: one Node cannot write as a header (a char past U+00FF, CR, LF)
    // would otherwise fail the reply as an InternalError. AWS answers this error for it.
    if (!isFieldValue(value)) {
      throw new S3Error('InvalidArgument', { message: 'Header value cannot be represented using ISO-8859-1.', detail: { ArgumentName: param, ArgumentValue: value } });
    }
    out[name] = value;
  }
  return out;
}

/** S3's XML timestamps: ISO 8601 with milliseconds. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}
