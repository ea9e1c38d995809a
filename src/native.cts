// classic-level's native addon: from the SEA asset inside the single executable, else from node_modules as usual.
// build.mjs redirects classic-level's `require('./binding')` here in the SEA bundle (shared/notes/single-binary.md).
const { createHash } = require('node:crypto') as typeof import('node:crypto');
const fs = require('node:fs') as typeof import('node:fs');
const path = require('node:path') as typeof import('node:path');
const sea = require('node:sea') as typeof import('node:sea');
const { cacheDirCandidates } = require('./config/cache-dir.ts') as typeof import('./config/cache-dir.ts');
const { makeDirsSync } = require('./make-dirs.ts') as typeof import('./make-dirs.ts');

/** The SEA asset name build.mjs gives the addon of the binary's architecture. */
const ADDON_ASSET = 'classic-level.node';
/** The addon's SHA-256 (hex), computed by build-sea.mjs: a start need not read and hash the addon asset itself. */
const HASH_ASSET = 'classic-level.node.sha256';

/**
 * A SEA's require loads built-in modules only, and dlopen needs a real file: write the asset once per content
 * hash (temp name + rename, so a concurrent start never loads half a file), then load that file. Once the file
 * is there, the asset's pages are never touched: 0.45 MB less idle RssFile, and no 0.5 MB copies to collect.
 */
function loadFromAsset(): unknown {
  const hash = sea.getAsset(HASH_ASSET, 'utf8').trim();
  const failures: string[] = [];
  for (const dir of cacheDirCandidates()) {
    const file = path.join(dir, `classic-level-${hash.slice(0, 16)}.node`);
    try {
      makeDirsSync(dir, 0o700);
      checkPrivate(dir);
      if (!sameContent(file, hash)) {
        const tmp = `${file}.${process.pid}.tmp`;
        // getRawAsset: a view of the executable's own bytes, not a copy.
        fs.writeFileSync(tmp, new Uint8Array(sea.getRawAsset(ADDON_ASSET)), { mode: 0o700 });
        fs.renameSync(tmp, file);
      }
      const mod = { exports: {} };
      process.dlopen(mod, file);
      return mod.exports;
    } catch (err) {
      const message = (err as Error).message;
      // dlopen's message on a noexec mount (e.g. a hardened /tmp); the fix is another dir, not a retry.
      const hint = /failed to map segment/.test(message) ? ' (the file system is mounted noexec: set FERRY_CACHE_DIR to an exec-allowed dir)' : '';
      failures.push(`  ${dir}: ${message}${hint}`);
    }
  }
  throw new Error(`ferry: cannot load its LevelDB addon from any cache dir (set FERRY_CACHE_DIR to a writable, exec-allowed dir):\n${failures.join('\n')}`);
}

/** Code is loaded from here: another user able to write the dir could swap the file between the check and dlopen. */
function checkPrivate(dir: string): void {
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw new Error('not a directory');
  const uid = process.getuid?.();
  // Root-owned is fine too: an admin may pre-seed a read-only cache dir.
  if ((uid !== undefined && st.uid !== uid && st.uid !== 0) || (st.mode & 0o022) !== 0) {
    throw new Error('not private to this user (owned by another user, or group/other-writable)');
  }
}

/** Hashed through one small buffer: reading the whole file at once would leave a 0.5 MB copy to collect. */
function sameContent(file: string, hash: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const digest = createHash('sha256');
    const chunk = Buffer.allocUnsafe(64 * 1024);
    for (let n = fs.readSync(fd, chunk); n > 0; n = fs.readSync(fd, chunk)) digest.update(chunk.subarray(0, n));
    return digest.digest('hex') === hash;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

let addon: Record<string | symbol, unknown> | undefined;
function load(): Record<string | symbol, unknown> {
  addon ??= (sea.isSea() ? loadFromAsset() : require('classic-level/binding.js')) as Record<string | symbol, unknown>;
  return addon;
}

// Loaded on first use, so `ferry --version` and `--help` never touch the disk.
module.exports = new Proxy({}, { get: (_target, key) => load()[key], has: (_target, key) => key in load() });
