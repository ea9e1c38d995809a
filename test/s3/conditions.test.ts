// Table tests for src/s3/conditions.ts: read/copy/write conditions, Range and x-amz-copy-source-range, HTTP dates.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ByteRange, WriteCondition } from '../../src/store/types.ts';
import { S3Error, type S3ErrorCode } from '../../src/s3/errors.ts';
import {
  checkCopySourceConditions,
  checkReadConditions,
  copySourceConditionsFrom,
  formatHttpDate,
  parseCopySourceRange,
  parseHttpDate,
  parseRange,
  quoteEtag,
  readConditionsFrom,
  writeConditionFrom,
  type ReadConditions,
} from '../../src/s3/conditions.ts';

/** Runs fn and returns the S3Error it throws, checking its code and status. */
function s3ErrorOf(fn: () => unknown, code: S3ErrorCode, status: number): S3Error {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof S3Error, `expected S3Error ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.status, status);
  return caught;
}

function getter(map: Record<string, string>): (name: string) => string | undefined {
  return (name) => map[name];
}

// The object: ETag abc123, modified half a second after 12:00:00 (HTTP dates only carry whole seconds).
const info = { etag: 'abc123', lastModified: Date.UTC(2024, 0, 10, 12, 0, 0) + 500 };
const NOW = Date.UTC(2024, 5, 1);
const AT = 'Wed, 10 Jan 2024 12:00:00 GMT';
const BEFORE = 'Wed, 10 Jan 2024 11:59:59 GMT';
const AFTER = 'Wed, 10 Jan 2024 12:00:01 GMT';
const FUTURE = 'Sat, 01 Jun 2030 00:00:00 GMT';

type Expect = 'ok' | 412 | 304;

describe('checkReadConditions (GET/HEAD)', () => {
  const cases: Array<[string, ReadConditions, Expect]> = [
    ['no condition', {}, 'ok'],
    ['If-Match with the quoted ETag', { ifMatch: '"abc123"' }, 'ok'],
    ['If-Match with the bare ETag', { ifMatch: 'abc123' }, 'ok'],
    ['If-Match with another ETag', { ifMatch: '"other"' }, 412],
    ['If-Match with a list holding the ETag', { ifMatch: '"x", "abc123"' }, 'ok'],
    ['If-Match with a bare list holding the ETag', { ifMatch: 'x,abc123' }, 'ok'],
    ['If-Match *', { ifMatch: '*' }, 'ok'],
    ['If-Match with a weak tag (strong comparison)', { ifMatch: 'W/"abc123"' }, 412],
    ['If-Unmodified-Since before the change', { ifUnmodifiedSince: BEFORE }, 412],
    ['If-Unmodified-Since at the change second', { ifUnmodifiedSince: AT }, 'ok'],
    ['If-Unmodified-Since after the change', { ifUnmodifiedSince: AFTER }, 'ok'],
    ['If-Unmodified-Since not a date (ignored)', { ifUnmodifiedSince: 'yesterday' }, 'ok'],
    ['If-Match true and If-Unmodified-Since false (AWS: 200)', { ifMatch: '"abc123"', ifUnmodifiedSince: BEFORE }, 'ok'],
    ['If-Match false and If-Unmodified-Since true', { ifMatch: '"other"', ifUnmodifiedSince: AFTER }, 412],
    ['If-None-Match with the quoted ETag', { ifNoneMatch: '"abc123"' }, 304],
    ['If-None-Match with the bare ETag', { ifNoneMatch: 'abc123' }, 304],
    ['If-None-Match with a weak tag (weak comparison)', { ifNoneMatch: 'W/"abc123"' }, 304],
    ['If-None-Match with a list holding the ETag', { ifNoneMatch: '"a", W/"b", "abc123"' }, 304],
    ['If-None-Match *', { ifNoneMatch: '*' }, 304],
    ['If-None-Match with another ETag', { ifNoneMatch: '"other"' }, 'ok'],
    ['If-Modified-Since at the change second', { ifModifiedSince: AT }, 304],
    ['If-Modified-Since after the change', { ifModifiedSince: AFTER }, 304],
    ['If-Modified-Since before the change', { ifModifiedSince: BEFORE }, 'ok'],
    ['If-Modified-Since in the future (invalid, ignored)', { ifModifiedSince: FUTURE }, 'ok'],
    ['If-Modified-Since not a date (ignored)', { ifModifiedSince: 'Wed, 10 Jan 2024 12:00:00 UTC' }, 'ok'],
    ['If-Modified-Since as an RFC 850 date', { ifModifiedSince: 'Wednesday, 10-Jan-24 12:00:00 GMT' }, 304],
    ['If-Modified-Since as an asctime date', { ifModifiedSince: 'Wed Jan 10 12:00:00 2024' }, 304],
    ['If-None-Match false makes If-Modified-Since ignored', { ifNoneMatch: '"other"', ifModifiedSince: AFTER }, 'ok'],
    ['If-None-Match true and If-Modified-Since true (AWS: 304)', { ifNoneMatch: '"abc123"', ifModifiedSince: BEFORE }, 304],
    ['If-Match false wins over If-None-Match true', { ifMatch: '"other"', ifNoneMatch: '"abc123"' }, 412],
    ['If-Match true and If-None-Match true', { ifMatch: '"abc123"', ifNoneMatch: '"abc123"' }, 304],
    ['If-Match true and If-Modified-Since false', { ifMatch: '"abc123"', ifModifiedSince: AFTER }, 304],
    ['If-Unmodified-Since false wins over If-Modified-Since false', { ifUnmodifiedSince: BEFORE, ifModifiedSince: AFTER }, 412],
    ['If-None-Match false and If-Unmodified-Since false', { ifNoneMatch: '"other"', ifUnmodifiedSince: BEFORE }, 412],
  ];
  for (const [name, conditions, expected] of cases) {
    it(`${name} -> ${expected}`, () => {
      const run = (): void => checkReadConditions(conditions, info, NOW);
      if (expected === 'ok') assert.doesNotThrow(run);
      else if (expected === 412) s3ErrorOf(run, 'PreconditionFailed', 412);
      else s3ErrorOf(run, 'NotModified', 304);
    });
  }

  it('names the failed condition in a 412', () => {
    assert.deepEqual(s3ErrorOf(() => checkReadConditions({ ifMatch: '"x"' }, info, NOW), 'PreconditionFailed', 412).detail, { Condition: 'If-Match' });
    assert.deepEqual(s3ErrorOf(() => checkReadConditions({ ifUnmodifiedSince: BEFORE }, info, NOW), 'PreconditionFailed', 412).detail, { Condition: 'If-Unmodified-Since' });
  });

  it('sends the quoted ETag and Last-Modified with a 304', () => {
    const err = s3ErrorOf(() => checkReadConditions({ ifNoneMatch: '*' }, info, NOW), 'NotModified', 304);
    assert.deepEqual(err.headers, { ETag: '"abc123"', 'Last-Modified': AT });
  });

  it('uses the current time by default to ignore a future If-Modified-Since', () => {
    const recent = { etag: 'e', lastModified: Date.now() - 60_000 };
    assert.doesNotThrow(() => checkReadConditions({ ifModifiedSince: formatHttpDate(Date.now() + 3_600_000) }, recent));
  });
});

describe('checkCopySourceConditions (x-amz-copy-source-if-*)', () => {
  const cases: Array<[string, ReadConditions, Expect, string?]> = [
    ['no condition', {}, 'ok'],
    ['if-match true', { ifMatch: '"abc123"' }, 'ok'],
    ['if-match false', { ifMatch: '"other"' }, 412, 'x-amz-copy-source-If-Match'],
    ['if-unmodified-since false', { ifUnmodifiedSince: BEFORE }, 412, 'x-amz-copy-source-If-Unmodified-Since'],
    ['if-match true and if-unmodified-since false (AWS: 200)', { ifMatch: 'abc123', ifUnmodifiedSince: BEFORE }, 'ok'],
    ['if-none-match matching', { ifNoneMatch: '"abc123"' }, 412, 'x-amz-copy-source-If-None-Match'],
    ['if-none-match other', { ifNoneMatch: '"other"' }, 'ok'],
    ['if-modified-since not modified', { ifModifiedSince: AFTER }, 412, 'x-amz-copy-source-If-Modified-Since'],
    ['if-modified-since modified', { ifModifiedSince: BEFORE }, 'ok'],
    ['if-modified-since in the future (ignored)', { ifModifiedSince: FUTURE }, 'ok'],
    ['if-none-match false and if-modified-since true (AWS: 412)', { ifNoneMatch: 'abc123', ifModifiedSince: BEFORE }, 412, 'x-amz-copy-source-If-None-Match'],
    ['if-none-match true makes if-modified-since ignored', { ifNoneMatch: '"other"', ifModifiedSince: AFTER }, 'ok'],
  ];
  for (const [name, conditions, expected, condition] of cases) {
    it(`${name} -> ${expected}`, () => {
      const run = (): void => checkCopySourceConditions(conditions, info, NOW);
      if (expected === 'ok') assert.doesNotThrow(run);
      else assert.deepEqual(s3ErrorOf(run, 'PreconditionFailed', 412).detail, { Condition: condition });
    });
  }
});

describe('readConditionsFrom and copySourceConditionsFrom', () => {
  it('reads the four If-* headers', () => {
    const h = getter({ 'if-match': '"a"', 'if-none-match': '"b"', 'if-modified-since': AT, 'if-unmodified-since': BEFORE });
    assert.deepEqual(readConditionsFrom(h), { ifMatch: '"a"', ifNoneMatch: '"b"', ifModifiedSince: AT, ifUnmodifiedSince: BEFORE });
  });

  it('reads the four x-amz-copy-source-if-* headers and not the plain ones', () => {
    const h = getter({
      'if-match': '"plain"',
      'x-amz-copy-source-if-match': '"a"',
      'x-amz-copy-source-if-none-match': '"b"',
      'x-amz-copy-source-if-modified-since': AT,
      'x-amz-copy-source-if-unmodified-since': BEFORE,
    });
    assert.deepEqual(copySourceConditionsFrom(h), { ifMatch: '"a"', ifNoneMatch: '"b"', ifModifiedSince: AT, ifUnmodifiedSince: BEFORE });
  });

  it('treats absent and empty headers as no condition', () => {
    assert.deepEqual(readConditionsFrom(getter({})), {});
    assert.deepEqual(readConditionsFrom(getter({ 'if-match': '', 'if-none-match': '  ' })), {});
  });
});

describe('writeConditionFrom (PutObject, CompleteMultipartUpload)', () => {
  const cases: Array<[string, Record<string, string>, WriteCondition | undefined | 501]> = [
    ['no header', {}, undefined],
    ['If-None-Match *', { 'if-none-match': '*' }, { ifNoneMatch: '*' }],
    ['If-None-Match with an ETag', { 'if-none-match': '"abc"' }, 501],
    ['If-None-Match with a bare word', { 'if-none-match': 'true' }, 501],
    ['If-Match with a quoted ETag', { 'if-match': '"abc"' }, { ifMatch: 'abc' }],
    ['If-Match with a bare ETag', { 'if-match': 'abc-3' }, { ifMatch: 'abc-3' }],
    ['If-Match and If-None-Match *', { 'if-match': '"abc"', 'if-none-match': '*' }, 501],
    ['If-Match and If-None-Match with an ETag', { 'if-match': '"abc"', 'if-none-match': '"abc"' }, 501],
    ['an empty If-Match', { 'if-match': '' }, undefined],
  ];
  for (const [name, headers, expected] of cases) {
    it(`${name} -> ${expected === 501 ? 'NotImplemented' : JSON.stringify(expected)}`, () => {
      const run = (): WriteCondition | undefined => writeConditionFrom(getter(headers));
      if (expected === 501) s3ErrorOf(run, 'NotImplemented', 501);
      else assert.deepEqual(run(), expected);
    });
  }
});

describe('parseRange (GET/HEAD Range)', () => {
  const cases: Array<[string | undefined, number, ByteRange | undefined | 416]> = [
    [undefined, 10, undefined],
    ['bytes=0-4', 10, { start: 0, end: 4 }],
    ['bytes=9-9', 10, { start: 9, end: 9 }],
    ['bytes=5-', 10, { start: 5, end: 9 }],
    ['bytes=-3', 10, { start: 7, end: 9 }],
    ['bytes=-20', 10, { start: 0, end: 9 }],
    ['bytes=0-100', 10, { start: 0, end: 9 }],
    ['bytes=3-99999999999999999999999', 10, { start: 3, end: 9 }],
    ['Bytes=0-1', 10, { start: 0, end: 1 }],
    ['bytes=10-', 10, 416],
    ['bytes=10-20', 10, 416],
    ['bytes=99999999999999999999999-', 10, 416],
    ['bytes=-0', 10, 416],
    ['bytes=5-2', 10, undefined],
    ['bytes=0-1,3-4', 10, undefined],
    ['bytes=0-1,', 10, undefined],
    ['bytes=abc', 10, undefined],
    ['bytes=-', 10, undefined],
    ['bytes=1-2-3', 10, undefined],
    ['bytes=a-5', 10, undefined],
    ['items=0-1', 10, undefined],
    ['0-1', 10, undefined],
    ['', 10, undefined],
    ['bytes=0-', 0, 416],
    ['bytes=0-0', 0, 416],
    ['bytes=-5', 0, undefined],
    ['bytes=-0', 0, 416],
  ];
  for (const [header, size, expected] of cases) {
    it(`${JSON.stringify(header)} on ${size} bytes -> ${expected === 416 ? 'InvalidRange' : JSON.stringify(expected)}`, () => {
      const run = (): ByteRange | undefined => parseRange(header, size);
      if (expected === 416) {
        const err = s3ErrorOf(run, 'InvalidRange', 416);
        assert.deepEqual(err.headers, { 'Content-Range': `bytes */${size}` });
        assert.deepEqual(err.detail, { RangeRequested: header, ActualObjectSize: size });
      } else {
        assert.deepEqual(run(), expected);
      }
    });
  }
});

describe('parseCopySourceRange (UploadPartCopy)', () => {
  const malformed = 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy';
  const beyond = (size: number): string => `Range specified is not valid for source object of size: ${size}`;
  const cases: Array<[string | undefined, number, ByteRange | undefined | string]> = [
    [undefined, 10, undefined],
    ['bytes=0-9', 10, { start: 0, end: 9 }],
    ['bytes=3-3', 10, { start: 3, end: 3 }],
    ['bytes=0-10', 10, beyond(10)],
    ['bytes=10-12', 10, beyond(10)],
    ['bytes=0-0', 0, beyond(0)],
    ['bytes=5-', 10, malformed],
    ['bytes=-5', 10, malformed],
    ['bytes=5-3', 10, malformed],
    ['0-2', 10, malformed],
    ['bytes=0', 10, malformed],
    ['bytes=hello-world', 10, malformed],
    ['bytes=0-bar', 10, malformed],
    ['bytes=hello-', 10, malformed],
    ['bytes=0-2,3-5', 10, malformed],
    ['byte=0-1', 10, malformed],
    ['', 10, malformed],
  ];
  for (const [header, size, expected] of cases) {
    it(`${JSON.stringify(header)} on ${size} bytes -> ${typeof expected === 'string' ? 'InvalidArgument' : JSON.stringify(expected)}`, () => {
      const run = (): ByteRange | undefined => parseCopySourceRange(header, size);
      if (typeof expected === 'string') {
        const err = s3ErrorOf(run, 'InvalidArgument', 400);
        assert.equal(err.message, expected);
        assert.deepEqual(err.detail, { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header });
      } else {
        assert.deepEqual(run(), expected);
      }
    });
  }
});

describe('HTTP dates and ETags', () => {
  it('formats an IMF-fixdate, dropping milliseconds', () => {
    assert.equal(formatHttpDate(Date.UTC(1994, 10, 6, 8, 49, 37)), 'Sun, 06 Nov 1994 08:49:37 GMT');
    assert.equal(formatHttpDate(Date.UTC(2024, 0, 10, 12, 0, 0) + 999), AT);
  });

  const now = Date.UTC(2024, 5, 1);
  const dates: Array<[string, number | undefined]> = [
    ['Sun, 06 Nov 1994 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Sun, 6 Nov 1994 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Sunday, 06-Nov-94 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Wednesday, 06-Nov-30 08:49:37 GMT', Date.UTC(2030, 10, 6, 8, 49, 37)],
    ['Thursday, 06-Nov-80 08:49:37 GMT', Date.UTC(1980, 10, 6, 8, 49, 37)],
    ['Sun Nov  6 08:49:37 1994', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Sun Nov 16 08:49:37 1994', Date.UTC(1994, 10, 16, 8, 49, 37)],
    ['Wed, 31 Feb 2024 00:00:00 GMT', undefined],
    ['Wed, 10 Jan 2024 24:00:00 GMT', undefined],
    ['Wed, 10 Jan 2024 12:00:00 UTC', undefined],
    ['2024-01-10T12:00:00Z', undefined],
    ['1704888000', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of dates) {
    it(`parses ${JSON.stringify(text)} as ${expected === undefined ? 'invalid' : new Date(expected).toISOString()}`, () => {
      assert.equal(parseHttpDate(text, now), expected);
    });
  }

  it('quotes a bare ETag once', () => {
    assert.equal(quoteEtag('abc'), '"abc"');
    assert.equal(quoteEtag('abc-2'), '"abc-2"');
    assert.equal(quoteEtag('"abc"'), '"abc"');
  });
});
