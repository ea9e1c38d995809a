// `ferry uninstall`: stop and disable the service, remove what `ferry install` placed; config and data stay unless --purge.
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { CliError, inRoot, mustRun, requireSuperuser, run, systemdRuns, targetRoot } from './host.ts';
import { CACHE_DIR, DATA_DIR, ENV_DIR, ENV_PATH, LOCAL_BINARY, LOCAL_UNIT_PATH, UNIT_NAME } from './systemd-files.ts';

export interface UninstallOptions {
  root?: string;
  purge?: boolean;
  yes?: boolean;
}

type Log = (line: string) => void;

async function confirmPurge(targets: string[]): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`delete ${targets.join(', ')}, including every stored object? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** An uncommented FERRY_DATA_DIR in the env file: purge leaves such a directory alone and says so. */
async function customDataDir(envFile: string): Promise<string | undefined> {
  const text = await readFile(envFile, 'utf8').catch(() => '');
  const m = /^\s*FERRY_DATA_DIR=\s*["']?([^"'\n]*?)["']?\s*$/m.exec(text);
  const dir = m?.[1];
  return dir && dir !== DATA_DIR && dir !== '%S/ferry' ? dir : undefined;
}

async function remove(path: string, what: string, log: Log): Promise<void> {
  const present = existsSync(path);
  await rm(path, { recursive: true, force: true });
  log(`  ${what.padEnd(7)} ${path} (${present ? 'removed' : 'not present'})`);
}

export async function uninstall(opts: UninstallOptions, log: Log = console.log): Promise<void> {
  const root = targetRoot(opts.root);
  if (root !== '/' && !existsSync(root)) throw new CliError(`--root ${root}: no such directory`, 2);
  requireSuperuser(root, 'uninstall');
  const purgeTargets = [ENV_DIR, DATA_DIR, CACHE_DIR].map((p) => inRoot(root, p));
  if (opts.purge && !opts.yes) {
    if (!process.stdin.isTTY) {
      throw new CliError(`--purge deletes ${purgeTargets.join(', ')} (every stored object): add --yes to confirm`, 2);
    }
    if (!(await confirmPurge(purgeTargets))) throw new CliError('not confirmed: nothing removed');
  }
  log(`uninstalling ferry ${root === '/' ? 'from this system' : `from ${root}`}`);

  const unitPath = inRoot(root, LOCAL_UNIT_PATH);
  const systemd = systemdRuns(root);
  if (systemd && existsSync(unitPath)) {
    mustRun('systemctl', ['disable', '--now', UNIT_NAME]);
    log(`  service ${UNIT_NAME} stopped and disabled`);
  }
  await remove(inRoot(root, LOCAL_BINARY), 'binary', log);
  await remove(unitPath, 'unit', log);
  if (systemd) {
    mustRun('systemctl', ['daemon-reload']);
    // Forget a failed state so `systemctl status ferry` no longer reports it.
    run('systemctl', ['reset-failed', UNIT_NAME]);
  }

  if (opts.purge) {
    const custom = await customDataDir(inRoot(root, ENV_PATH));
    for (const dir of purgeTargets) await remove(dir, 'purged', log);
    if (custom) log(`  note    ferry.env had FERRY_DATA_DIR=${custom}: not deleted, remove it yourself if you mean to`);
  } else {
    log(`  kept    ${inRoot(root, ENV_PATH)} and ${inRoot(root, DATA_DIR)} (ferry uninstall --purge deletes them)`);
  }
  log('  kept    the system user (files may still carry its uid; userdel ferry removes it)');
  if (existsSync(inRoot(root, '/var/lib/dpkg/info/ferry.list'))) {
    log('  note    the ferry .deb is installed too (/usr/bin/ferry): apt remove ferry removes it');
  }
}
