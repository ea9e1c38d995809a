// ListObjects and ListMultipartUploads paging: UTF-8 byte order, prefixes, delimiters, markers, stitched pages.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ListObjectsInput, Store } from '../../src/store/types.ts';
import { bodyOf, inPool, META, TempDirs } from './fixtures.ts';

const dirs = new TempDirs();
after(() => dirs.removeAll());

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** What S3 returns over all pages: keys and common prefixes, in byte order. */
function expected(keys: string[], prefix: string, delimiter: string | undefined): string[] {
  const items = new Set<string>();
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    const at = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    items.add(at < 0 ? key : key.slice(0, at + (delimiter ?? '').length));
  }
  return [...items].sort(byteOrder);
}

async function listAll(store: Store, bucket: string, input: Omit<ListObjectsInput, 'after'>): Promise<{ items: string[]; pages: number }> {
  const items: string[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await store.listObjects(bucket, after === undefined ? input : { ...input, after });
    pages++;
    const merged = [...page.objects.map((o) => o.key), ...page.commonPrefixes].sort(byteOrder);
    assert.ok(merged.length <= input.maxKeys);
    items.push(...merged);
    if (merged.length > 0) assert.equal(page.lastReturned, merged.at(-1));
    if (!page.isTruncated) return { items, pages };
    assert.equal(merged.length, input.maxKeys);
    after = page.lastReturned;
    assert.ok(pages < 10_000, 'paging does not terminate');
  }
}

describe('listObjects', () => {
  let store: Store;
  const keys: string[] = [];
  before(async () => {
    ({ store } = await dirs.open());
    await store.createBucket('b', 'us-east-1');
    for (let i = 0; i < 2400; i++) keys.push(`dir${i % 7}/sub${i % 13}/key${i}`);
    for (let i = 0; i < 300; i++) keys.push(`flat${i}`, `dir${i % 3}/file${i}`);
    keys.push('dir1', 'dir1/', 'dir1//double', 'z\uFFFD', 'z\uE000', 'z😀', 'zé', 'z~', 'Z', 'dir1/sub1/');
    // Empty bodies keep this fast: only the metadata commit is durable work.
    await inPool(keys, 16, (key) => store.putObject('b', key, bodyOf(Buffer.alloc(0)), META));
  });
  after(() => store.close());

  it('returns keys in UTF-8 byte order, astral characters after U+FFFD', async () => {
    const page = await store.listObjects('b', { prefix: 'z', maxKeys: 1000 });
    assert.deepEqual(page.objects.map((o) => o.key), ['z~', 'zé', 'z\uE000', 'z\uFFFD', 'z😀']);
    assert.equal(page.isTruncated, false);
  });

  it('stitches pages into the full sorted listing for every prefix, delimiter and page size', async () => {
    const cases: Array<[string, string | undefined, number]> = [
      ['', undefined, 1000], ['', undefined, 333], ['', '/', 1], ['', '/', 4], ['dir1/', '/', 5], ['dir1/', '/', 1000],
      ['dir1/sub1', '/', 7], ['dir', 'sub', 3], ['dir2/', undefined, 97], ['flat1', '/', 2], ['nothing', '/', 10], ['dir1/', '//', 2],
    ];
    for (const [prefix, delimiter, maxKeys] of cases) {
      const input: Omit<ListObjectsInput, 'after'> = { prefix, maxKeys };
      if (delimiter !== undefined) input.delimiter = delimiter;
      const { items } = await listAll(store, 'b', input);
      assert.deepEqual(items, expected(keys, prefix, delimiter), JSON.stringify({ prefix, delimiter, maxKeys }));
    }
  });

  it('rolls up common prefixes, each counting once against maxKeys', async () => {
    const page = await store.listObjects('b', { prefix: 'dir', delimiter: '/', maxKeys: 3 });
    assert.deepEqual(page.commonPrefixes, ['dir0/', 'dir1/']);
    assert.deepEqual(page.objects.map((o) => o.key), ['dir1']);
    assert.equal(page.isTruncated, true);
    assert.equal(page.lastReturned, 'dir1/');
    const next = await store.listObjects('b', { prefix: 'dir', delimiter: '/', maxKeys: 2, after: 'dir1/' });
    assert.deepEqual(next.commonPrefixes, ['dir2/', 'dir3/']);
    assert.deepEqual(next.objects, []);
  });

  it('skips the whole common prefix when after falls inside it', async () => {
    const page = await store.listObjects('b', { delimiter: '/', maxKeys: 2, after: 'dir1/sub5/key5' });
    assert.deepEqual(page.commonPrefixes, ['dir2/', 'dir3/']);
  });

  it('starts strictly after `after`, and at the prefix when after sorts before it', async () => {
    const page = await store.listObjects('b', { prefix: 'flat1', maxKeys: 2, after: 'flat10' });
    assert.deepEqual(page.objects.map((o) => o.key), ['flat100', 'flat101']);
    const early = await store.listObjects('b', { prefix: 'flat2', maxKeys: 1, after: 'a' });
    assert.deepEqual(early.objects.map((o) => o.key), ['flat2']);
  });

  it('returns an empty, untruncated page for maxKeys 0', async () => {
    assert.deepEqual(await store.listObjects('b', { maxKeys: 0 }), { objects: [], commonPrefixes: [], isTruncated: false });
  });

  it('reports object details in listings', async () => {
    const page = await store.listObjects('b', { prefix: 'flat0', maxKeys: 1 });
    assert.equal(page.objects[0]?.size, 0);
    assert.equal(page.objects[0]?.etag, 'd41d8cd98f00b204e9800998ecf8427e');
    assert.equal(page.isTruncated, false);
  });
});

describe('listMultipartUploads', () => {
  let store: Store;
  before(async () => {
    ({ store } = await dirs.open());
    await store.createBucket('b', 'us-east-1');
  });
  after(() => store.close());

  it('orders uploads by key, then by initiation time, and pages with key and upload-id markers', async () => {
    const ids: Record<string, string[]> = {};
    for (const key of ['b', 'a', 'a\u0000', 'a\u0000x', 'a/1', 'a/2', 'c😀', 'c\uFFFD']) {
      for (let n = 0; n < 2; n++) {
        const upload = await store.createMultipartUpload('b', key, META);
        (ids[key] ??= []).push(upload.uploadId);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }
    const order = Object.keys(ids).sort(byteOrder);
    const all = await store.listMultipartUploads('b', { maxUploads: 1000 });
    assert.deepEqual(all.uploads.map((u) => [u.key, u.uploadId]), order.flatMap((key) => (ids[key] ?? []).map((id) => [key, id])));
    assert.equal(all.isTruncated, false);

    const seen: string[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const input = { maxUploads: 3, ...(keyMarker === undefined ? {} : { keyMarker }), ...(uploadIdMarker === undefined ? {} : { uploadIdMarker }) };
      const page = await store.listMultipartUploads('b', input);
      seen.push(...page.uploads.map((u) => u.uploadId));
      if (!page.isTruncated) break;
      keyMarker = page.nextKeyMarker;
      uploadIdMarker = page.nextUploadIdMarker;
    }
    assert.deepEqual(seen, all.uploads.map((u) => u.uploadId));

    const afterKey = await store.listMultipartUploads('b', { maxUploads: 1000, keyMarker: 'a\u0000' });
    assert.deepEqual([...new Set(afterKey.uploads.map((u) => u.key))], ['a\u0000x', 'a/1', 'a/2', 'b', 'c\uFFFD', 'c😀']);
  });

  it('rolls up uploads by prefix and delimiter', async () => {
    const page = await store.listMultipartUploads('b', { prefix: 'a', delimiter: '/', maxUploads: 1000 });
    assert.deepEqual(page.commonPrefixes, ['a/']);
    assert.deepEqual([...new Set(page.uploads.map((u) => u.key))], ['a', 'a\u0000', 'a\u0000x']);
    const skipped = await store.listMultipartUploads('b', { delimiter: '/', keyMarker: 'a/1', maxUploads: 1000 });
    assert.deepEqual([...new Set(skipped.uploads.map((u) => u.key))], ['b', 'c\uFFFD', 'c😀']);
    const first = await store.listMultipartUploads('b', { prefix: 'a', delimiter: '/', maxUploads: 0 });
    assert.deepEqual(first, { uploads: [], commonPrefixes: [], isTruncated: false });
  });
});
