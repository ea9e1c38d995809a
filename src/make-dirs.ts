// mkdir -p that cannot spin: Node 24's recursive mkdir loops forever on a path it can never create (e.g. under
// /proc, where mkdir answers ENOENT with the parent present), so `--data-dir /proc/x` hung instead of failing.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Creates `dir` and any missing parents with `mode`, one mkdir each, and throws the first real error. Synchronous:
 * it runs at start-up only (data dir, shard dirs, the SEA's addon cache in src/native.cts), before any request.
 */
export function makeDirsSync(dir: string, mode = 0o777): void {
  const missing: string[] = [];
  for (let at = resolve(dir); ;) {
    try {
      if (!statSync(at).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${at}'`), { code: 'ENOTDIR', path: at });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
