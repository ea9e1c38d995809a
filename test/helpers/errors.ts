// One predicate for "this failed with S3Error <code>", for assert.rejects and assert.throws.
import assert from 'node:assert/strict';
import { isS3Error, type S3ErrorCode } from '../../src/s3/errors.ts';

export function isS3Code(code: S3ErrorCode, message?: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(isS3Error(err), `expected an S3Error ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

export async function rejectsWithCode(promise: Promise<unknown>, code: S3ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(promise, isS3Code(code, message));
}
