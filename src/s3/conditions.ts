// Conditional requests (If-*, x-amz-copy-source-if-*), Range and x-amz-copy-source-range: pure parsing and checks.
// RFC 9110 §13 (conditions) and §14 (ranges), as S3 applies them:
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
import type { ByteRange, WriteCondition } from '../store/types.ts';
import { S3Error } from './errors.ts';

type HeaderGetter = (name: string) => string | undefined;

export interface ReadConditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

interface ObjectState {
  /** Unquoted. */
  etag: string;
  /** Milliseconds since the epoch. */
  lastModified: number;
}

/** An empty header carries no condition: treat it as absent. */
function present(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

function conditionsFrom(headers: HeaderGetter, prefix: string): ReadConditions {
  const c: ReadConditions = {};
  const ifMatch = present(headers(`${prefix}if-match`));
  const ifNoneMatch = present(headers(`${prefix}if-none-match`));
  const ifModifiedSince = present(headers(`${prefix}if-modified-since`));
  const ifUnmodifiedSince = present(headers(`${prefix}if-unmodified-since`));
  if (ifMatch !== undefined) c.ifMatch = ifMatch;
  if (ifNoneMatch !== undefined) c.ifNoneMatch = ifNoneMatch;
  if (ifModifiedSince !== undefined) c.ifModifiedSince = ifModifiedSince;
  if (ifUnmodifiedSince !== undefined) c.ifUnmodifiedSince = ifUnmodifiedSince;
  return c;
}

export function readConditionsFrom(headers: HeaderGetter): ReadConditions {
  return conditionsFrom(headers, '');
}

export function copySourceConditionsFrom(headers: HeaderGetter): ReadConditions {
  return conditionsFrom(headers, 'x-amz-copy-source-');
}

// --- ETags -----------------------------------------------------------------------------------------

interface EntityTag { weak: boolean; tag: string }

/** '*' or a list of entity-tags (RFC 9110 §8.8.3). Unquoted tags are accepted too: S3 clients send bare ETags. */
function parseEtagList(value: string): '*' | EntityTag[] {
  if (value === '*') return '*';
  const tags: EntityTag[] = [];
  let i = 0;
  while (i < value.length) {
    const ch = value[i];
    if (ch === ',' || ch === ' ' || ch === '\t') { i++; continue; }
    let weak = false;
    if (value.startsWith('W/', i)) { weak = true; i += 2; }
    let tag: string;
    if (value[i] === '"') {
      const close = value.indexOf('"', i + 1);
      const end = close === -1 ? value.length : close;
      tag = value.slice(i + 1, end);
      i = end + 1;
    } else {
      const comma = value.indexOf(',', i);
      const end = comma === -1 ? value.length : comma;
      tag = value.slice(i, end).trim();
      i = end;
    }
    tags.push({ weak, tag });
  }
  return tags;
}

/** If-Match compares strongly: a weak tag never matches (RFC 9110 §13.1.1). '*' matches any existing object. */
function matchesStrong(header: string, etag: string): boolean {
  const list = parseEtagList(header);
  return list === '*' || list.some((t) => !t.weak && t.tag === etag);
}

/** If-None-Match compares weakly: W/ is ignored (RFC 9110 §13.1.2). */
function matchesWeak(header: string, etag: string): boolean {
  const list = parseEtagList(header);
  return list === '*' || list.some((t) => t.tag === etag);
}

export function quoteEtag(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag : `"${etag}"`;
}

// --- HTTP dates ------------------------------------------------------------------------------------

const DAYS = 'Mon|Tue|Wed|Thu|Fri|Sat|Sun';
const LONG_DAYS = 'Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MON = MONTHS.join('|');
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// IMF-fixdate, plus a one-digit day as some SDKs send it (MinIO accepts it too).
const IMF_FIXDATE = new RegExp(`^(?:${DAYS}), (\\d{1,2}) (${MON}) (\\d{4}) ${TIME} GMT$`);
const RFC850 = new RegExp(`^(?:${LONG_DAYS}), (\\d{2})-(${MON})-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^(?:${DAYS}) (${MON}) ([ \\d]\\d) ${TIME} (\\d{4})$`);

/** HTTP-date (RFC 9110 §5.6.7) to ms, or undefined: recipients ignore conditions with invalid dates. */
export function parseHttpDate(value: string, now = Date.now()): number | undefined {
  let m = IMF_FIXDATE.exec(value);
  if (m) return utc(+m[3]!, m[2]!, +m[1]!, m[4]!, m[5]!, m[6]!);
  m = RFC850.exec(value);
  if (m) {
    // A two-digit year more than 50 years ahead means the most recent past year with those digits.
    const thisYear = new Date(now).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + +m[3]!;
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[2]!, +m[1]!, m[4]!, m[5]!, m[6]!);
  }
  m = ASCTIME.exec(value);
  if (m) return utc(+m[6]!, m[1]!, +m[2]!.trim(), m[3]!, m[4]!, m[5]!);
  return undefined;
}

function utc(year: number, month: string, day: number, h: string, min: string, s: string): number | undefined {
  const mon = MONTHS.indexOf(month);
  const hours = +h, minutes = +min, seconds = +s;
  if (hours > 23 || minutes > 59 || seconds > 60 || day < 1) return undefined;
  const ms = Date.UTC(year, mon, day, hours, minutes, seconds);
  // Date.UTC rolls 31 Feb over into March: refuse it instead.
  return new Date(ms).getUTCDate() === day || seconds === 60 ? ms : undefined;
}

/** IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT". */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

// --- Read conditions -------------------------------------------------------------------------------

type Outcome = 'ok' | 'precondition' | 'not-modified';

/**
 * RFC 9110 §13.2.2 order: If-Match, else If-Unmodified-Since (412); then If-None-Match, else If-Modified-Since (304).
 * That order gives both AWS rules: If-Match true makes If-Unmodified-Since ignored; If-None-Match present
 * makes If-Modified-Since ignored. HTTP dates have 1 s resolution, so the object's time is floored to seconds.
 */
function evaluate(c: ReadConditions, info: ObjectState, now: number): { outcome: Outcome; condition?: keyof ReadConditions } {
  const modified = Math.floor(info.lastModified / 1000) * 1000;
  if (c.ifMatch !== undefined) {
    if (!matchesStrong(c.ifMatch, info.etag)) return { outcome: 'precondition', condition: 'ifMatch' };
  } else if (c.ifUnmodifiedSince !== undefined) {
    const since = parseHttpDate(c.ifUnmodifiedSince, now);
    if (since !== undefined && modified > since) return { outcome: 'precondition', condition: 'ifUnmodifiedSince' };
  }
  if (c.ifNoneMatch !== undefined) {
    if (matchesWeak(c.ifNoneMatch, info.etag)) return { outcome: 'not-modified', condition: 'ifNoneMatch' };
  } else if (c.ifModifiedSince !== undefined) {
    const since = parseHttpDate(c.ifModifiedSince, now);
    // A date in the future is invalid (RFC 7232 §3.3) and S3 ignores it: it answers 200, not 304
    // (seen on AWS: repost.aws "copy-object ... copies data even if x-amz-copy-source-if-modified-since is false").
    if (since !== undefined && since <= now && modified <= since) return { outcome: 'not-modified', condition: 'ifModifiedSince' };
  }
  return { outcome: 'ok' };
}

const READ_HEADER_NAMES: Record<keyof ReadConditions, string> = {
  ifMatch: 'If-Match',
  ifNoneMatch: 'If-None-Match',
  ifModifiedSince: 'If-Modified-Since',
  ifUnmodifiedSince: 'If-Unmodified-Since',
};

/** GET/HEAD: throws PreconditionFailed (412, with <Condition>) or NotModified (304, carrying ETag and Last-Modified). */
export function checkReadConditions(c: ReadConditions, info: ObjectState, now = Date.now()): void {
  const { outcome, condition } = evaluate(c, info, now);
  if (outcome === 'precondition') {
    throw new S3Error('PreconditionFailed', { detail: { Condition: READ_HEADER_NAMES[condition!] } });
  }
  if (outcome === 'not-modified') {
    throw new S3Error('NotModified', { headers: { ETag: quoteEtag(info.etag), 'Last-Modified': formatHttpDate(info.lastModified) } });
  }
}

/**
 * CopyObject/UploadPartCopy source conditions: the same evaluation, but S3 answers every failure with 412:
 * "x-amz-copy-source-if-none-match false and x-amz-copy-source-if-modified-since true -> 412", and
 * "x-amz-copy-source-if-match true and x-amz-copy-source-if-unmodified-since false -> 200" (API_CopyObject).
 */
export function checkCopySourceConditions(c: ReadConditions, info: ObjectState, now = Date.now()): void {
  const { outcome, condition } = evaluate(c, info, now);
  if (outcome !== 'ok') {
    throw new S3Error('PreconditionFailed', { detail: { Condition: `x-amz-copy-source-${READ_HEADER_NAMES[condition!]}` } });
  }
}

// --- Write conditions ------------------------------------------------------------------------------

/**
 * PutObject/CompleteMultipartUpload. S3 supports If-None-Match only as "*" and answers 501 NotImplemented to
 * any other value, and to If-Match and If-None-Match together (checked on AWS by versitygw #1727, aws-sdk-ruby #3144).
 * If-Match "expects the ETag value as a string": quotes stripped, compared by the store at commit.
 */
export function writeConditionFrom(headers: HeaderGetter): WriteCondition | undefined {
  const ifMatch = present(headers('if-match'));
  const ifNoneMatch = present(headers('if-none-match'));
  if (ifNoneMatch !== undefined && ifNoneMatch !== '*') {
    throw new S3Error('NotImplemented', { message: 'A header you provided implies functionality that is not implemented', detail: { Header: 'If-None-Match' } });
  }
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw new S3Error('NotImplemented', { message: 'A header you provided implies functionality that is not implemented', detail: { Header: 'If-Match' } });
  }
  if (ifNoneMatch !== undefined) return { ifNoneMatch: '*' };
  if (ifMatch !== undefined) return { ifMatch: unquote(ifMatch) };
  return undefined;
}

function unquote(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

// --- Ranges ----------------------------------------------------------------------------------------

const BYTE_RANGE = /^bytes=(\d*)-(\d*)$/i;

/**
 * GET/HEAD Range. S3 serves one range: a multi-range or malformed header is ignored and the whole object
 * returned with 200 (RFC 9110 §14.2 lets a server ignore Range; seen on AWS: aws-c-s3 #257, riak_cs #304).
 * Unsatisfiable -> 416 InvalidRange. The edge cases follow what versitygw verified against AWS:
 * "a-b" with a > b is ignored; "-0" is unsatisfiable; a suffix range on an empty object is ignored;
 * any first-byte range on an empty object is unsatisfiable.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = BYTE_RANGE.exec(header.trim());
  if (!m) return undefined;
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) throw invalidRange(header, size);
    if (size === 0) return undefined;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (last !== '' && start > end) return undefined;
  if (start >= size) throw invalidRange(header, size);
  return { start, end: Math.min(end, size - 1) };
}

function invalidRange(header: string, size: number): S3Error {
  return new S3Error('InvalidRange', {
    headers: { 'Content-Range': `bytes */${size}` },
    detail: { RangeRequested: header, ActualObjectSize: size },
  });
}

const COPY_RANGE = /^bytes=(\d+)-(\d+)$/;

/**
 * UploadPartCopy x-amz-copy-source-range: exactly "bytes=first-last" (API_UploadPartCopy).
 * Malformed (open-ended, suffix, multi-range, first > last) -> InvalidArgument; beyond the source ->
 * InvalidArgument too, not InvalidRange: AWS answers "Range specified is not valid for source object of size: N"
 * (versitygw #610, #1122, measured on AWS).
 */
export function parseCopySourceRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = COPY_RANGE.exec(header.trim());
  const start = m ? Number(m[1]) : NaN;
  const end = m ? Number(m[2]) : NaN;
  if (!m || start > end) {
    throw new S3Error('InvalidArgument', {
      message: 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      detail: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header },
    });
  }
  if (end >= size) {
    throw new S3Error('InvalidArgument', {
      message: `Range specified is not valid for source object of size: ${size}`,
      detail: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header },
    });
  }
  return { start, end };
}
