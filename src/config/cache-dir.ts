// Where the single executable unpacks its native addon: candidate cache dirs in order of preference.
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * FERRY_CACHE_DIR alone when set (an explicit choice is never silently skipped); else systemd's $CACHE_DIRECTORY
 * (CacheDirectory=ferry; systemd.exec(5) may list several, colon-separated), $XDG_CACHE_HOME/ferry,
 * ~/.cache/ferry (XDG Base Directory spec), then the temp dir.
 */
export function cacheDirCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.FERRY_CACHE_DIR) return [resolve(env.FERRY_CACHE_DIR)];
  const dirs: string[] = [];
  if (env.CACHE_DIRECTORY) dirs.push(env.CACHE_DIRECTORY.split(':')[0]!);
  if (env.XDG_CACHE_HOME) dirs.push(join(env.XDG_CACHE_HOME, 'ferry'));
  let home = env.HOME;
  if (!home) {
    try {
      home = homedir();
    } catch {
      home = undefined;
    }
  }
  if (home) dirs.push(join(home, '.cache', 'ferry'));
  dirs.push(join(tmpdir(), `ferry-cache-${process.getuid?.() ?? 'user'}`));
  return [...new Set(dirs.map((d) => resolve(d)))];
}
