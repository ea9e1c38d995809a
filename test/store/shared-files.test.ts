// Small bodies sharing data files (src/store/files.ts writeShared), through the store: the startup sweep keeps a
// shared file while the index lists any blob of it, readers keep a freed one until they finish, and nothing is left.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openStore } from '../../src/store/level-store.ts';
import type { Store, StreamedBody } from '../../src/store/types.ts';
import { bodyOf, collect, dataFileCount, eventually, META, readAll, TempDirs } from './fixtures.ts';

const dirs = new TempDirs();
after(() => dirs.removeAll());

/** A body that declares its length, as the S3 layer's do: only those can share a file. */
function sized(bytes: Buffer): StreamedBody {
  return { ...bodyOf(bytes), size: bytes.length };
}

/** `count` small objects PUT at once; resolves with their bodies. */
async function putTogether(store: Store, count: number): Promise<Map<string, Buffer>> {
  const bodies = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) bodies.set(`k${i}`, randomBytes(100 + i * 50));
  await Promise.all([...bodies].map(([key, body]) => store.putObject('b', key, sized(body), META)));
  return bodies;
}

describe('shared data files', () => {
  it('survive an unclean shutdown while any of their objects lives (the orphan sweep reads blob ids)', async () => {
    const { store, dataDir } = await dirs.open();
    await store.createBucket('b', 'us-east-1');
    const bodies = await putTogether(store, 20);
    const files = await dataFileCount(dataDir);
    assert.ok(files < bodies.size, `20 bodies at once made ${files} files: none shared`);
    // Most objects go; one per file may be the last one keeping it.
    for (const key of [...bodies.keys()].slice(0, 15)) await store.deleteObject('b', key);
    await store.close();
    await unlink(join(dataDir, 'clean-shutdown'));

    const reopened = await openStore({ dataDir });
    try {
      for (const [key, body] of [...bodies].slice(15)) assert.deepEqual(await readAll(reopened, 'b', key), body, key);
      for (const key of [...bodies.keys()].slice(15)) await reopened.deleteObject('b', key);
      await eventually(async () => (await dataFileCount(dataDir)) === 0);
    } finally {
      await reopened.close();
    }
  });

  it('a reader keeps a freed shared file until it is done; then the file goes', async () => {
    const { store, dataDir } = await dirs.open();
    try {
      await store.createBucket('b', 'us-east-1');
      const bodies = await putTogether(store, 12);
      const reader = await store.getObject('b', 'k3');
      for (const key of bodies.keys()) await store.deleteObject('b', key);
      assert.ok((await dataFileCount(dataDir)) >= 1, 'the file being read was unlinked');
      assert.deepEqual(await collect(reader.stream()), bodies.get('k3'));
      await eventually(async () => (await dataFileCount(dataDir)) === 0);
    } finally {
      await store.close();
    }
  });

  it('a shared file freed while a reader held it at close is removed at the next open', async () => {
    const { store, dataDir } = await dirs.open();
    await store.createBucket('b', 'us-east-1');
    const bodies = await putTogether(store, 12);
    const reader = await store.getObject('b', 'k5');
    for (const key of bodies.keys()) await store.deleteObject('b', key);
    await store.close();
    assert.deepEqual(await collect(reader.stream()), bodies.get('k5'));
    const reopened = await openStore({ dataDir });
    try {
      assert.equal(await dataFileCount(dataDir), 0);
    } finally {
      await reopened.close();
    }
  });
});
