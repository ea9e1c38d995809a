// Multipart uploads: zero-copy completion, ranges across parts, part replacement, abort, races, planner errors.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { S3Error } from '../../src/s3/errors.ts';
import type { CompletePlanner, Store } from '../../src/store/types.ts';
import { bodyOf, dataFileCount, eventually, META, md5, readAll, takeAllParts, TempDirs } from './fixtures.ts';
import { isS3Code as isCode } from '../helpers/errors.ts';

const dirs = new TempDirs();
after(() => dirs.removeAll());


describe('multipart uploads', () => {
  let store: Store;
  let dataDir: string;
  before(async () => {
    ({ store, dataDir } = await dirs.open());
    await store.createBucket('b', 'us-east-1');
  });
  after(() => store.close());

  it('assembles the planned parts without copying and serves ranges across them', async () => {
    const upload = await store.createMultipartUpload('b', 'mp', { ...META, userMeta: { from: 'upload' } }, { algorithm: 'CRC32', type: 'COMPOSITE' });
    assert.equal((await store.getUpload('b', 'mp', upload.uploadId)).checksumAlgorithm, 'CRC32');
    const parts = [randomBytes(100_000), randomBytes(1), randomBytes(0), randomBytes(250_001)];
    // Uploaded out of order: the store lists them by number.
    for (const n of [3, 1, 4, 2]) {
      const part = await store.uploadPart('b', 'mp', upload.uploadId, n, bodyOf(parts[n - 1] as Buffer, 30_000));
      assert.equal(part.etag, md5(parts[n - 1] as Buffer));
    }
    const listed = await store.listParts('b', 'mp', upload.uploadId, { maxParts: 1000 });
    assert.deepEqual(listed.parts.map((p) => [p.partNumber, p.size]), [[1, 100_000], [2, 1], [3, 0], [4, 250_001]]);
    const filesBefore = await dataFileCount(dataDir);

    const plan: CompletePlanner = (stored, info) => {
      assert.equal(info.key, 'mp');
      return { parts: stored, etag: 'abc-4', checksum: { algorithm: 'CRC32', value: 'AAAAAA==-4', type: 'COMPOSITE' } };
    };
    const info = await store.completeMultipartUpload('b', 'mp', upload.uploadId, plan);
    assert.equal(info.size, 350_002);
    assert.equal(info.etag, 'abc-4');
    assert.equal(info.partsCount, 4);
    assert.deepEqual(info.meta.userMeta, { from: 'upload' });
    assert.equal(await dataFileCount(dataDir), filesBefore, 'completion made or dropped data files');

    const whole = Buffer.concat(parts);
    assert.deepEqual(await readAll(store, 'b', 'mp'), whole);
    for (const [start, end] of [[0, 99_999], [99_999, 100_000], [99_990, 100_010], [100_000, 100_000], [100_001, 100_001], [5, 350_001], [350_001, 350_001]] as const) {
      assert.deepEqual(await readAll(store, 'b', 'mp', { start, end }), whole.subarray(start, end + 1), `${start}-${end}`);
    }
    await assert.rejects(store.getUpload('b', 'mp', upload.uploadId), isCode('NoSuchUpload'));
    assert.deepEqual((await store.listMultipartUploads('b', { maxUploads: 10 })).uploads, []);
  });

  it('frees the parts left out of the completion and the object it replaces', async () => {
    await store.putObject('b', 'pick', bodyOf(randomBytes(10)), META);
    const upload = await store.createMultipartUpload('b', 'pick', META);
    const parts = [randomBytes(1000), randomBytes(2000), randomBytes(3000)];
    for (const [i, bytes] of parts.entries()) await store.uploadPart('b', 'pick', upload.uploadId, i + 1, bodyOf(bytes));
    const before = await dataFileCount(dataDir);
    const info = await store.completeMultipartUpload('b', 'pick', upload.uploadId, (stored) => ({
      parts: stored.filter((p) => p.partNumber !== 2),
      etag: 'x-2',
    }));
    assert.equal(info.partsCount, 2);
    assert.deepEqual(await readAll(store, 'b', 'pick'), Buffer.concat([parts[0] as Buffer, parts[2] as Buffer]));
    await eventually(async () => (await dataFileCount(dataDir)) === before - 2);
  });

  it('replaces an earlier part with the same number and frees its file', async () => {
    const upload = await store.createMultipartUpload('b', 'again', META);
    await store.uploadPart('b', 'again', upload.uploadId, 1, bodyOf('first version'));
    const count = await dataFileCount(dataDir);
    const second = await store.uploadPart('b', 'again', upload.uploadId, 1, bodyOf('second'));
    const listed = await store.listParts('b', 'again', upload.uploadId, { maxParts: 10 });
    assert.deepEqual(listed.parts.map((p) => [p.partNumber, p.etag, p.size]), [[1, second.etag, 6]]);
    await eventually(async () => (await dataFileCount(dataDir)) === count);
    await store.completeMultipartUpload('b', 'again', upload.uploadId, takeAllParts);
    assert.equal((await readAll(store, 'b', 'again')).toString(), 'second');
  });

  it('pages through parts with a part-number marker', async () => {
    const upload = await store.createMultipartUpload('b', 'paged', META);
    for (const n of [1, 2, 3, 10, 10000]) await store.uploadPart('b', 'paged', upload.uploadId, n, bodyOf(`part ${n}`));
    const first = await store.listParts('b', 'paged', upload.uploadId, { maxParts: 2 });
    assert.deepEqual(first.parts.map((p) => p.partNumber), [1, 2]);
    assert.equal(first.isTruncated, true);
    assert.equal(first.nextPartNumberMarker, 2);
    const rest = await store.listParts('b', 'paged', upload.uploadId, { maxParts: 10, partNumberMarker: 2 });
    assert.deepEqual(rest.parts.map((p) => p.partNumber), [3, 10, 10000]);
    assert.equal(rest.isTruncated, false);
    await assert.rejects(store.uploadPart('b', 'paged', upload.uploadId, 10001, bodyOf('x')), isCode('InvalidArgument'));
    await store.abortMultipartUpload('b', 'paged', upload.uploadId);
  });

  it('aborts an upload, freeing its parts', async () => {
    const count = await dataFileCount(dataDir);
    const upload = await store.createMultipartUpload('b', 'gone', META);
    await store.uploadPart('b', 'gone', upload.uploadId, 1, bodyOf(randomBytes(5000)));
    await store.uploadPart('b', 'gone', upload.uploadId, 2, bodyOf(randomBytes(5000)));
    await store.abortMultipartUpload('b', 'gone', upload.uploadId);
    await assert.rejects(store.listParts('b', 'gone', upload.uploadId, { maxParts: 10 }), isCode('NoSuchUpload'));
    await assert.rejects(store.uploadPart('b', 'gone', upload.uploadId, 3, bodyOf('late')), isCode('NoSuchUpload'));
    await assert.rejects(store.abortMultipartUpload('b', 'gone', upload.uploadId), isCode('NoSuchUpload'));
    await eventually(async () => (await dataFileCount(dataDir)) === count);
  });

  it('answers NoSuchUpload for foreign, malformed or mismatched upload ids', async () => {
    const upload = await store.createMultipartUpload('b', 'owner', META);
    await assert.rejects(store.getUpload('b', 'other-key', upload.uploadId), isCode('NoSuchUpload'));
    await assert.rejects(store.getUpload('b', 'owner', 'not!an/id'), isCode('NoSuchUpload'));
    // Change the last character to a different valid one (the id may already end in 'Z').
    const twin = `${upload.uploadId.slice(0, -1)}${upload.uploadId.endsWith('Z') ? 'Y' : 'Z'}`;
    await assert.rejects(store.getUpload('b', 'owner', twin), isCode('NoSuchUpload'));
    await store.abortMultipartUpload('b', 'owner', upload.uploadId);
  });

  it('lets the planner refuse with its own S3Error and keeps the upload intact', async () => {
    const upload = await store.createMultipartUpload('b', 'refused', META);
    await store.uploadPart('b', 'refused', upload.uploadId, 1, bodyOf('tiny'));
    const refusal = new S3Error('EntityTooSmall');
    await assert.rejects(store.completeMultipartUpload('b', 'refused', upload.uploadId, () => { throw refusal; }), (err) => err === refusal);
    await assert.rejects(
      store.completeMultipartUpload('b', 'refused', upload.uploadId, (stored) => ({ parts: [{ ...stored[0]!, etag: 'f'.repeat(32) }], etag: 'e-1' })),
      isCode('InvalidPart'),
    );
    assert.equal((await store.listParts('b', 'refused', upload.uploadId, { maxParts: 10 })).parts.length, 1);
    await store.abortMultipartUpload('b', 'refused', upload.uploadId);
  });

  it('checks write conditions when completing', async () => {
    await store.putObject('b', 'cond', bodyOf('existing'), META);
    const upload = await store.createMultipartUpload('b', 'cond', META);
    await store.uploadPart('b', 'cond', upload.uploadId, 1, bodyOf('replacement'));
    await assert.rejects(store.completeMultipartUpload('b', 'cond', upload.uploadId, takeAllParts, { ifNoneMatch: '*' }), isCode('PreconditionFailed'));
    await store.completeMultipartUpload('b', 'cond', upload.uploadId, takeAllParts, { ifMatch: md5(Buffer.from('existing')) });
    assert.equal((await readAll(store, 'b', 'cond')).toString(), 'replacement');
  });

  it('lets exactly one of a racing complete and abort win', async () => {
    for (let round = 0; round < 5; round++) {
      const upload = await store.createMultipartUpload('b', 'race', META);
      await store.uploadPart('b', 'race', upload.uploadId, 1, bodyOf(`round ${round}`));
      // Alternate which call starts first, so each side wins some rounds.
      const complete = (): Promise<unknown> => store.completeMultipartUpload('b', 'race', upload.uploadId, takeAllParts);
      const abort = (): Promise<unknown> => store.abortMultipartUpload('b', 'race', upload.uploadId);
      const [completed, aborted] = round % 2 === 0
        ? await Promise.allSettled([complete(), abort()])
        : (await Promise.allSettled([abort(), complete()])).reverse() as [PromiseSettledResult<unknown>, PromiseSettledResult<unknown>];
      assert.equal([completed, aborted].filter((r) => r.status === 'fulfilled').length, 1);
      const loser = completed.status === 'rejected' ? completed : aborted;
      assert.equal(loser.status, 'rejected');
      isCode('NoSuchUpload')(loser.reason);
      if (completed.status === 'fulfilled') assert.equal((await readAll(store, 'b', 'race')).toString(), `round ${round}`);
    }
  });
});
