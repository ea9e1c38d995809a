// Where the single executable unpacks its addon: the documented order, and an explicit FERRY_CACHE_DIR alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDirCandidates } from '../../src/config/cache-dir.ts';

const TMP = join(tmpdir(), `ferry-cache-${process.getuid?.() ?? 'user'}`);

test('FERRY_CACHE_DIR, when set, is the only candidate (an explicit choice is never skipped)', () => {
  assert.deepEqual(cacheDirCandidates({ FERRY_CACHE_DIR: '/srv/cache', CACHE_DIRECTORY: '/var/cache/ferry', HOME: '/home/u' }), ['/srv/cache']);
});

test("systemd's CACHE_DIRECTORY, then XDG_CACHE_HOME/ferry, ~/.cache/ferry and the temp dir, in that order", () => {
  assert.deepEqual(cacheDirCandidates({ CACHE_DIRECTORY: '/var/cache/ferry:/var/cache/other', XDG_CACHE_HOME: '/x', HOME: '/home/u' }), [
    '/var/cache/ferry',
    '/x/ferry',
    '/home/u/.cache/ferry',
    TMP,
  ]);
  assert.deepEqual(cacheDirCandidates({ HOME: '/home/u' }), ['/home/u/.cache/ferry', TMP]);
});
