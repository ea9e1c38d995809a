// Store behaviour on a real classic-level + data dir: buckets, objects, conditions, failures, pinned readers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { S3Error } from '../../src/s3/errors.ts';
import type { Store } from '../../src/store/types.ts';
import {
  bodyOf, collect, controlledBody, dataFileCount, diskFiles, eventually, failingBody, META, md5, readAll, TempDirs,
} from './fixtures.ts';
import { isS3Code as isCode } from '../helpers/errors.ts';

const dirs = new TempDirs();
after(() => dirs.removeAll());


describe('buckets', () => {
  let store: Store;
  before(async () => { ({ store } = await dirs.open()); });
  after(() => store.close());

  it('creates, lists in name order, heads and deletes buckets', async () => {
    await store.createBucket('zeta', 'eu-west-1');
    const created = await store.createBucket('alpha', 'us-east-1');
    assert.equal(created.name, 'alpha');
    assert.equal(created.region, 'us-east-1');
    assert.deepEqual((await store.listBuckets()).map((b) => b.name), ['alpha', 'zeta']);
    assert.equal((await store.headBucket('zeta')).region, 'eu-west-1');
    await store.deleteBucket('zeta');
    await assert.rejects(store.headBucket('zeta'), isCode('NoSuchBucket'));
    assert.deepEqual((await store.listBuckets()).map((b) => b.name), ['alpha']);
  });

  it('refuses to create a bucket twice', async () => {
    await store.createBucket('twice', 'us-east-1');
    await assert.rejects(store.createBucket('twice', 'us-east-1'), isCode('BucketAlreadyOwnedByYou'));
  });

  it('answers NoSuchBucket for operations on a missing bucket', async () => {
    await assert.rejects(store.deleteBucket('nope'), isCode('NoSuchBucket'));
    await assert.rejects(store.putObject('nope', 'k', bodyOf('x'), META), isCode('NoSuchBucket'));
    await assert.rejects(store.getObject('nope', 'k'), isCode('NoSuchBucket'));
    await assert.rejects(store.listObjects('nope', { maxKeys: 10 }), isCode('NoSuchBucket'));
    await assert.rejects(store.createMultipartUpload('nope', 'k', META), isCode('NoSuchBucket'));
  });

  it('refuses to delete a bucket holding an object; uploads in progress are aborted with it, as on S3', async () => {
    await store.createBucket('full', 'us-east-1');
    await store.putObject('full', 'k', bodyOf('x'), META);
    await assert.rejects(store.deleteBucket('full'), isCode('BucketNotEmpty'));
    await store.deleteObject('full', 'k');
    const upload = await store.createMultipartUpload('full', 'u', META);
    await store.uploadPart('full', 'u', upload.uploadId, 1, bodyOf('part one'));
    await store.deleteBucket('full');
    await assert.rejects(store.headBucket('full'), isCode('NoSuchBucket'));
    await store.createBucket('full', 'us-east-1');
    assert.equal((await store.listMultipartUploads('full', { maxUploads: 10 })).uploads.length, 0);
    await assert.rejects(store.uploadPart('full', 'u', upload.uploadId, 2, bodyOf('late')), isCode('NoSuchUpload'));
    await store.deleteBucket('full');
  });

  it('rejects bucket names that cannot be stored', async () => {
    await assert.rejects(store.createBucket('a!b', 'us-east-1'), isCode('InvalidBucketName'));
    await assert.rejects(store.createBucket('', 'us-east-1'), isCode('InvalidBucketName'));
  });
});

describe('objects', () => {
  let store: Store;
  let dataDir: string;
  before(async () => {
    ({ store, dataDir } = await dirs.open());
    await store.createBucket('b', 'us-east-1');
  });
  after(() => store.close());

  it('round-trips a multi-chunk body byte for byte, then overwrites and deletes it', async () => {
    const first = randomBytes(1024 * 1024 + 17);
    const info = await store.putObject('b', 'big', bodyOf(first, 60_000), { ...META, userMeta: { colour: 'blue' } });
    assert.equal(info.size, first.length);
    assert.equal(info.etag, md5(first));
    assert.deepEqual(await readAll(store, 'b', 'big'), first);
    const head = await store.headObject('b', 'big');
    assert.deepEqual(head.meta.userMeta, { colour: 'blue' });
    assert.equal(head.etag, md5(first));

    const second = randomBytes(5000);
    await store.putObject('b', 'big', bodyOf(second), META);
    assert.deepEqual(await readAll(store, 'b', 'big'), second);
    assert.equal((await store.headObject('b', 'big')).size, 5000);

    assert.equal(await store.deleteObject('b', 'big'), true);
    assert.equal(await store.deleteObject('b', 'big'), false);
    await assert.rejects(store.headObject('b', 'big'), isCode('NoSuchKey'));
    await assert.rejects(store.getObject('b', 'big'), isCode('NoSuchKey'));
    await eventually(async () => (await dataFileCount(dataDir)) === 0);
  });

  it('serves byte ranges of a single-segment object', async () => {
    const bytes = randomBytes(300_000);
    await store.putObject('b', 'ranged', bodyOf(bytes), META);
    for (const [start, end] of [[0, 0], [1, 1000], [131_071, 131_073], [299_999, 299_999], [0, 299_999]] as const) {
      assert.deepEqual(await readAll(store, 'b', 'ranged', { start, end }), bytes.subarray(start, end + 1));
    }
    const reader = await store.getObject('b', 'ranged');
    assert.throws(() => reader.stream({ start: 10, end: 300_000 }), isCode('InvalidRange'));
  });

  it('stores an empty body without a data file', async () => {
    const before = await dataFileCount(dataDir);
    const info = await store.putObject('b', 'empty/', bodyOf(Buffer.alloc(0)), META);
    assert.equal(info.size, 0);
    assert.equal(info.etag, 'd41d8cd98f00b204e9800998ecf8427e');
    assert.equal((await readAll(store, 'b', 'empty/')).length, 0);
    assert.equal(await dataFileCount(dataDir), before);
  });

  it('keeps hostile keys distinct and out of file names', async () => {
    const keys = [
      '../escape', '..%2Fescape', '%2F..', '..', '.', '/', '//', 'a/', 'a//', 'a', '/a', 'a/./b', 'a/../b',
      '\u0000', 'a\u0000b', 'a\u0000', 'tab\there', 'new\nline', '\u007f', 'ü', 'u\u0308', '😀', '\uFFFD',
      'CON', 'nul.txt', 'x'.repeat(1024), 'é'.repeat(512),
    ];
    for (const [i, key] of keys.entries()) await store.putObject('b', key, bodyOf(`body ${i}`), META);
    for (const [i, key] of keys.entries()) assert.equal((await readAll(store, 'b', key)).toString(), `body ${i}`, JSON.stringify(key));
    const listed = await store.listObjects('b', { maxKeys: 1000 });
    for (const key of keys) assert.ok(listed.objects.some((o) => o.key === key), JSON.stringify(key));
    for (const name of (await diskFiles(dataDir)).data) assert.match(name, /^[0-9a-f]{2}\/[0-9a-f]{34}$/);
  });

  it('rejects keys over 1024 bytes and keys that are not valid UTF-8', async () => {
    await assert.rejects(store.putObject('b', 'é'.repeat(513), bodyOf('x'), META), isCode('KeyTooLongError'));
    await assert.rejects(store.putObject('b', 'bad\uD800', bodyOf('x'), META), isCode('InvalidArgument'));
  });

  it('replaces the tag set without touching the bytes or Last-Modified', async () => {
    const put = await store.putObject('b', 'tagged', bodyOf('tag me'), { ...META, tags: [['a', '1']] });
    const tagged = await store.putObjectTags('b', 'tagged', [['z', '26'], ['b', '2']]);
    assert.deepEqual(tagged.meta.tags, [['z', '26'], ['b', '2']]);
    assert.equal(tagged.lastModified, put.lastModified);
    assert.deepEqual((await store.headObject('b', 'tagged')).meta.tags, [['z', '26'], ['b', '2']]);
    assert.equal((await readAll(store, 'b', 'tagged')).toString(), 'tag me');
    await assert.rejects(store.putObjectTags('b', 'untagged-missing', []), isCode('NoSuchKey'));
  });

  it('records the body checksum as a full-object checksum', async () => {
    const body = bodyOf('checked');
    const digest = body.digest.bind(body);
    body.digest = () => ({ ...digest(), checksum: { algorithm: 'CRC32', value: 'AAAAAA==' } });
    const info = await store.putObject('b', 'checked', body, META);
    assert.deepEqual(info.checksum, { algorithm: 'CRC32', value: 'AAAAAA==', type: 'FULL_OBJECT' });
    assert.deepEqual((await store.headObject('b', 'checked')).checksum, info.checksum);
  });
});

describe('conditional writes', () => {
  let store: Store;
  let dataDir: string;
  before(async () => {
    ({ store, dataDir } = await dirs.open());
    await store.createBucket('b', 'us-east-1');
  });
  after(() => store.close());

  it('applies If-None-Match: * and If-Match at commit time', async () => {
    const v1 = await store.putObject('b', 'k', bodyOf('one'), META, { ifNoneMatch: '*' });
    await assert.rejects(store.putObject('b', 'k', bodyOf('two'), META, { ifNoneMatch: '*' }), isCode('PreconditionFailed'));
    await assert.rejects(store.putObject('b', 'k', bodyOf('two'), META, { ifMatch: md5(Buffer.from('other')) }), isCode('PreconditionFailed'));
    await assert.rejects(store.putObject('b', 'missing', bodyOf('two'), META, { ifMatch: v1.etag }), isCode('NoSuchKey'));
    await store.putObject('b', 'k', bodyOf('two'), META, { ifMatch: v1.etag });
    assert.equal((await readAll(store, 'b', 'k')).toString(), 'two');
    await eventually(async () => (await dataFileCount(dataDir)) === 1);
    assert.deepEqual((await diskFiles(dataDir)).tmp, []);
  });

  it('lets exactly one of many concurrent If-None-Match: * writers win', async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.putObject('b', 'race', bodyOf(`writer ${i}`), META, { ifNoneMatch: '*' })));
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results) if (r.status === 'rejected') isCode('PreconditionFailed')(r.reason);
    const winner = (won[0] as PromiseFulfilledResult<{ etag: string }>).value;
    assert.equal((await store.headObject('b', 'race')).etag, winner.etag);
  });
});

describe('failures', () => {
  let store: Store;
  let dataDir: string;
  before(async () => {
    ({ store, dataDir } = await dirs.open());
    await store.createBucket('b', 'us-east-1');
  });
  after(() => store.close());

  it('commits nothing and leaves no file when the body stream fails', async () => {
    await store.putObject('b', 'kept', bodyOf('old bytes'), META);
    const bad = new S3Error('BadDigest');
    await assert.rejects(store.putObject('b', 'kept', failingBody(randomBytes(200_000), bad), META), (err) => err === bad);
    await assert.rejects(store.putObject('b', 'new', failingBody(Buffer.alloc(0), new S3Error('IncompleteBody')), META), isCode('IncompleteBody'));
    assert.equal((await readAll(store, 'b', 'kept')).toString(), 'old bytes');
    await assert.rejects(store.headObject('b', 'new'), isCode('NoSuchKey'));
    const files = await diskFiles(dataDir);
    assert.deepEqual(files.tmp, []);
    assert.equal(files.data.length, 1);
  });

  it('maps a non-S3 stream error to InternalError', async () => {
    await assert.rejects(store.putObject('b', 'x', failingBody(Buffer.from('abc'), new Error('socket hang up')), META), isCode('InternalError'));
    assert.deepEqual((await diskFiles(dataDir)).tmp, []);
  });

  it('does not leave an object behind when the bucket is deleted while the body streams', async () => {
    await store.createBucket('doomed', 'us-east-1');
    const body = controlledBody();
    const put = store.putObject('doomed', 'late', body, META);
    body.push(randomBytes(10_000));
    await store.deleteBucket('doomed');
    body.end();
    await assert.rejects(put, isCode('NoSuchBucket'));
    await store.createBucket('doomed', 'us-east-1');
    assert.deepEqual((await store.listObjects('doomed', { maxKeys: 10 })).objects, []);
    await eventually(async () => (await diskFiles(dataDir)).data.length === 1);
  });
});

describe('pinned readers', () => {
  let store: Store;
  let dataDir: string;
  before(async () => {
    ({ store, dataDir } = await dirs.open());
    await store.createBucket('b', 'us-east-1');
  });
  after(() => store.close());

  it('keeps serving the old bytes after an overwrite and a delete, then frees them', async () => {
    const old = randomBytes(700_000);
    await store.putObject('b', 'k', bodyOf(old), META);
    const reader = await store.getObject('b', 'k');
    const early = await store.getObject('b', 'k');
    await store.putObject('b', 'k', bodyOf('new'), META);
    assert.deepEqual(await collect(reader.stream()), old);
    await store.deleteObject('b', 'k');
    const late = early.stream({ start: 100, end: 699_999 });
    assert.deepEqual(await collect(late), old.subarray(100));
    await eventually(async () => (await dataFileCount(dataDir)) === 0);
  });

  it('never hands out a reader whose files vanish, while the key is overwritten concurrently', async () => {
    const versions = Array.from({ length: 40 }, (_, i) => Buffer.from(`version ${i} `.repeat(2000 + i)));
    await store.putObject('b', 'hot', bodyOf(versions[0] as Buffer), META);
    const reads: Array<Promise<Buffer>> = [];
    for (const version of versions.slice(1)) {
      reads.push(readAll(store, 'b', 'hot'), readAll(store, 'b', 'hot'));
      await store.putObject('b', 'hot', bodyOf(version), META);
      reads.push(readAll(store, 'b', 'hot'));
    }
    for (const bytes of await Promise.all(reads)) assert.ok(versions.some((v) => v.equals(bytes)), 'a read returned a mix or a partial object');
    await store.deleteObject('b', 'hot');
    await eventually(async () => (await dataFileCount(dataDir)) === 0);
  });

  it('releases the pin on close() without streaming and on a destroyed stream', async () => {
    await store.putObject('b', 'p', bodyOf(randomBytes(500_000)), META);
    const unread = await store.getObject('b', 'p');
    const abandoned = await store.getObject('b', 'p');
    const stream = abandoned.stream();
    await new Promise((resolve) => stream.once('readable', resolve));
    await store.deleteObject('b', 'p');
    assert.equal(await dataFileCount(dataDir), 1);
    unread.close();
    assert.equal(await dataFileCount(dataDir), 1);
    stream.destroy();
    await eventually(async () => (await dataFileCount(dataDir)) === 0);
    assert.throws(() => unread.stream());
  });
});

describe('close', () => {
  it('aborts bodies still streaming and refuses later calls', async () => {
    const { store, dataDir } = await dirs.open();
    await store.createBucket('b', 'us-east-1');
    const body = controlledBody();
    const put = store.putObject('b', 'slow', body, META);
    body.push(randomBytes(1000));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await store.close();
    await assert.rejects(put, isCode('ServiceUnavailable'));
    await assert.rejects(store.headBucket('b'), isCode('ServiceUnavailable'));
    assert.deepEqual(await diskFiles(dataDir), { data: [], tmp: [] });
  });
});
