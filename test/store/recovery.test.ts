// Startup recovery and persistence: reopen keeps everything; orphans, freed files and stale uploads are swept.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openStore } from '../../src/store/level-store.ts';
import { bodyOf, collect, dataFileCount, diskFiles, META, readAll, takeAllParts, TempDirs } from './fixtures.ts';

const dirs = new TempDirs();
after(() => dirs.removeAll());

describe('reopening', () => {
  it('keeps buckets, objects, uploads and parts across close and open', async () => {
    const { store, dataDir } = await dirs.open();
    await store.createBucket('keep', 'eu-central-1');
    const bytes = randomBytes(200_000);
    await store.putObject('keep', 'obj', bodyOf(bytes), { ...META, tags: [['k', 'v']] });
    const upload = await store.createMultipartUpload('keep', 'mp', META);
    await store.uploadPart('keep', 'mp', upload.uploadId, 1, bodyOf('part one'));
    await store.close();

    const reopened = await openStore({ dataDir });
    try {
      assert.equal((await reopened.headBucket('keep')).region, 'eu-central-1');
      assert.deepEqual(await readAll(reopened, 'keep', 'obj'), bytes);
      assert.deepEqual((await reopened.headObject('keep', 'obj')).meta.tags, [['k', 'v']]);
      const parts = await reopened.listParts('keep', 'mp', upload.uploadId, { maxParts: 10 });
      assert.equal(parts.parts.length, 1);
      await reopened.completeMultipartUpload('keep', 'mp', upload.uploadId, takeAllParts);
      assert.equal((await readAll(reopened, 'keep', 'mp')).toString(), 'part one');
    } finally {
      await reopened.close();
    }
  });

  it('refuses a second open of the same data dir while the first is running', async () => {
    const { store, dataDir } = await dirs.open();
    try {
      await assert.rejects(openStore({ dataDir }), /in use by another ferry process/);
    } finally {
      await store.close();
    }
  });
});

describe('startup sweep', () => {
  it('after an unclean shutdown removes temp files and data files no metadata references', async () => {
    const { store, dataDir } = await dirs.open();
    await store.createBucket('b', 'us-east-1');
    await store.putObject('b', 'live', bodyOf('still here'), META);
    await store.close();
    // A crash would leave no marker, a half-written temp file, and a renamed file never committed.
    await unlink(join(dataDir, 'clean-shutdown'));
    await writeFile(join(dataDir, 'tmp', 'ab' + '0'.repeat(32)), 'partial');
    await writeFile(join(dataDir, 'data', '7f', '7f' + '1'.repeat(32)), 'orphan');
    await writeFile(join(dataDir, 'data', '00', 'not-an-id'), 'stray');

    const logs: string[] = [];
    const reopened = await openStore({ dataDir, log: (msg) => logs.push(msg) });
    try {
      const files = await diskFiles(dataDir);
      assert.deepEqual(files.tmp, []);
      assert.equal(files.data.length, 1);
      assert.equal((await readAll(reopened, 'b', 'live')).toString(), 'still here');
      assert.match(logs.join('\n'), /after an unclean shutdown: removed 1 temp files.*1 orphan files/s);
    } finally {
      await reopened.close();
    }
  });

  it('after a clean shutdown does not walk data/, but still empties tmp/', async () => {
    const { store, dataDir } = await dirs.open();
    await store.close();
    await writeFile(join(dataDir, 'tmp', 'leftover'), 'x');
    const logs: string[] = [];
    const reopened = await openStore({ dataDir, log: (msg) => logs.push(msg) });
    await reopened.close();
    assert.match(logs.join('\n'), /^recovery: removed 1 temp files/m);
    assert.deepEqual((await diskFiles(dataDir)).tmp, []);
  });

  it('removes files freed while a reader still held them, at the next open', async () => {
    const { store, dataDir } = await dirs.open();
    await store.createBucket('b', 'us-east-1');
    const old = randomBytes(50_000);
    await store.putObject('b', 'k', bodyOf(old), META);
    const reader = await store.getObject('b', 'k');
    await store.putObject('b', 'k', bodyOf('new'), META);
    await store.close();
    assert.equal(await dataFileCount(dataDir), 2);
    // The pinned file outlives the store that freed it.
    assert.deepEqual(await collect(reader.stream()), old);

    const reopened = await openStore({ dataDir });
    try {
      assert.equal(await dataFileCount(dataDir), 1);
      assert.equal((await readAll(reopened, 'b', 'k')).toString(), 'new');
    } finally {
      await reopened.close();
    }
  });

  it('aborts multipart uploads older than staleUploadAgeMs and frees their parts', async () => {
    const { store, dataDir } = await dirs.open();
    await store.createBucket('b', 'us-east-1');
    const stale = await store.createMultipartUpload('b', 'old', META);
    await store.uploadPart('b', 'old', stale.uploadId, 1, bodyOf(randomBytes(1000)));
    await store.close();
    // Age the first upload well past the threshold used below, while the second stays well under it.
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const kept = await openStore({ dataDir, staleUploadAgeMs: 60_000 });
    assert.equal((await kept.listMultipartUploads('b', { maxUploads: 10 })).uploads.length, 1);
    const fresh = await kept.createMultipartUpload('b', 'new', META);
    await kept.close();

    const swept = await openStore({ dataDir, staleUploadAgeMs: 1000 });
    try {
      const uploads = await swept.listMultipartUploads('b', { maxUploads: 10 });
      assert.deepEqual(uploads.uploads.map((u) => u.uploadId), [fresh.uploadId]);
      assert.equal(await dataFileCount(dataDir), 0);
    } finally {
      await swept.close();
    }
  });
});
