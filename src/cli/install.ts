// `ferry install` / `ferry uninstall`: place the binary, unit and env file (on this machine or under --root) and enable the service.
import type { Command, CommanderError } from 'commander';
import { constants } from 'node:fs';
import { access, copyFile, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { isSea } from 'node:sea';
import { CliError, inRoot, mustRun, placeFile, requireSuperuser, systemdRuns, targetRoot, userAddArgs, userExists } from './host.ts';
import { CACHE_DIR, DATA_DIR, DEFAULT_USER, ENV_DIR, ENV_PATH, isValidUserName, LOCAL_BINARY, LOCAL_UNIT_PATH, renderEnvFile, renderUnit, UNIT_NAME } from './systemd-files.ts';
import { uninstall, type UninstallOptions } from './uninstall.ts';

export interface InstallOptions {
  root?: string;
  binary?: string;
  /** false with --no-enable. */
  enable?: boolean;
  user?: string;
}

type Log = (line: string) => void;

/** The executable to copy: --binary, else this process when it is the single executable. */
async function binarySource(given: string | undefined): Promise<string> {
  if (given === undefined) {
    if (!isSea()) {
      throw new CliError(
        'ferry is running from source or the JS bundle (under node), so there is no ferry executable to copy:\n' +
          '  pass --binary dist/ferry-linux-x64 (or -arm64); `npm run build` makes them',
        2,
      );
    }
    return process.execPath;
  }
  let info;
  try {
    info = await stat(given);
  } catch {
    throw new CliError(`--binary ${given}: no such file`, 2);
  }
  if (!info.isFile()) throw new CliError(`--binary ${given}: not a regular file`, 2);
  try {
    await access(given, constants.R_OK | constants.X_OK);
  } catch {
    throw new CliError(`--binary ${given}: not executable (chmod +x it first)`, 2);
  }
  return given;
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    return (await realpath(a)) === (await realpath(b));
  } catch {
    return false;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function install(opts: InstallOptions, log: Log = console.log): Promise<void> {
  const root = targetRoot(opts.root);
  const user = opts.user ?? DEFAULT_USER;
  if (!isValidUserName(user)) throw new CliError(`--user "${user}" is not a valid system user name`, 2);
  if (root !== '/' && !(await stat(root).then((s) => s.isDirectory(), () => false))) {
    throw new CliError(`--root ${root}: no such directory`, 2);
  }
  const source = await binarySource(opts.binary);
  requireSuperuser(root, 'install');
  log(`installing ferry ${root === '/' ? 'on this system' : `into ${root}`}`);

  const binary = inRoot(root, LOCAL_BINARY);
  if (await sameFile(source, binary)) {
    log(`  binary  ${binary} (already in place)`);
  } else {
    await placeFile(binary, 0o755, (tmp) => copyFile(source, tmp));
    log(`  binary  ${binary} (mode 0755, from ${source})`);
  }

  // The unit is ours: always rewritten. Local changes belong in a drop-in (systemctl edit ferry).
  const unitPath = inRoot(root, LOCAL_UNIT_PATH);
  const unit = renderUnit({ binary: LOCAL_BINARY, user });
  const previous = await readIfExists(unitPath);
  if (previous !== unit) await placeFile(unitPath, 0o644, (tmp) => writeFile(tmp, unit));
  log(`  unit    ${unitPath} (${previous === undefined ? 'new' : previous === unit ? 'unchanged' : 'updated'})`);

  // The env file is the admin's: never overwritten, so their edits (and secrets) survive reinstalls and upgrades.
  const envPath = inRoot(root, ENV_PATH);
  if ((await readIfExists(envPath)) === undefined) {
    await placeFile(envPath, 0o600, (tmp) => writeFile(tmp, renderEnvFile(), { flag: 'wx', mode: 0o600 }));
    log(`  config  ${envPath} (mode 0600, defaults: edit it, then systemctl restart ferry)`);
  } else {
    log(`  config  ${envPath} (kept: an existing env file is never overwritten; ferry install --print-env shows the template)`);
  }

  const next: string[] = [];
  if (root !== '/') {
    log(`  user    ${user}: not created (--root is not /)`);
    next.push(`useradd ${userAddArgs(user).map(shellQuote).join(' ')}`);
  } else if (userExists(user)) {
    log(`  user    ${user} (exists)`);
  } else {
    mustRun('useradd', userAddArgs(user));
    log(`  user    ${user} (created: system user, no home, no login shell)`);
  }

  if (systemdRuns(root)) {
    mustRun('systemctl', ['daemon-reload']);
    if (opts.enable !== false) {
      // restart, not start: after a reinstall the running process still executes the old binary.
      mustRun('systemctl', ['enable', UNIT_NAME]);
      mustRun('systemctl', ['restart', UNIT_NAME]);
      log(`  service ${UNIT_NAME} enabled and (re)started: systemctl status ferry`);
    } else {
      next.push(`systemctl enable --now ferry`);
    }
  } else {
    if (root === '/') log('  service not started: systemd is not running here (no /run/systemd/system)');
    next.push('systemctl daemon-reload', 'systemctl enable --now ferry');
  }

  if (next.length > 0) {
    log(root === '/' ? 'next, as root:' : `next, as root on the system that boots ${root}:`);
    for (const line of next) log(`  ${line}`);
  }
  log(
    'logs: journalctl -u ferry. Unless ferry.env sets FERRY_ROOT_ACCESS_KEY/SECRET_KEY, the first start prints generated\n' +
      `root credentials there once and keeps them in ${DATA_DIR}/root-credentials.json (mode 0600).`,
  );
}

function shellQuote(word: string): string {
  return /^[\w./=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Commander's own usage errors exit 2 like ours; --help and --version still exit 0. */
function usageExit(err: CommanderError): never {
  process.exit(err.exitCode === 0 ? 0 : 2);
}

async function runCli(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    console.error(`ferry ${name}: ${(err as Error).message}`);
    process.exit(err instanceof CliError ? err.exitCode : 1);
  }
}

const PLACES: [string, string][] = [
  [LOCAL_BINARY, 'the executable, mode 0755'],
  [LOCAL_UNIT_PATH, 'the hardened unit (systemd-analyze security ferry)'],
  [ENV_PATH, 'settings, mode 0600; an existing file is never overwritten'],
  [`user ${DEFAULT_USER}`, 'created with useradd --system when missing (not with --root)'],
];
const INSTALL_HELP = `
Places (under --root DIR when given):
${PLACES.map(([what, why]) => `  ${what.padEnd(36)} ${why}`).join('\n')}
Then, when systemd runs and --root is /: systemctl daemon-reload, enable ferry, restart ferry.
Otherwise it prints those commands. Data: ${DATA_DIR}. Logs: journalctl -u ferry.
Exit codes: 0 done, 1 failed, 2 usage error.`;

export function registerInstall(program: Command): void {
  program
    .command('install')
    .description('install ferry as a systemd service: binary, unit, env file and user; enable and start it')
    .option('--root <dir>', 'install into this staging tree instead of the running system', '/')
    .option('--binary <path>', 'executable to install (default: this ferry executable; required when running from source)')
    .option('--no-enable', 'do not enable or start the service; print the commands instead')
    .option('--user <name>', 'system user the service runs as', DEFAULT_USER)
    .option('--print-unit', 'print the unit file install writes, and exit')
    .option('--print-env', 'print the default env file, and exit')
    .addHelpText('after', INSTALL_HELP)
    .exitOverride(usageExit)
    .action((opts: InstallOptions & { printUnit?: boolean; printEnv?: boolean }) =>
      runCli('install', async () => {
        if (opts.printUnit || opts.printEnv) {
          const user = opts.user ?? DEFAULT_USER;
          if (!isValidUserName(user)) throw new CliError(`--user "${user}" is not a valid system user name`, 2);
          process.stdout.write(opts.printUnit ? renderUnit({ binary: LOCAL_BINARY, user }) : renderEnvFile());
          return;
        }
        await install(opts);
      }),
    );

  program
    .command('uninstall')
    .description('stop and disable the service, remove the binary and unit; keep config and data unless --purge')
    .option('--root <dir>', 'uninstall from this staging tree instead of the running system', '/')
    .option('--purge', `also delete ${ENV_DIR}, ${DATA_DIR} (every object) and ${CACHE_DIR}`)
    .option('-y, --yes', 'confirm --purge without asking (required when stdin is not a terminal)')
    .addHelpText('after', '\nThe system user is kept (its uid may still own files). Exit codes: 0 done, 1 failed, 2 usage error.')
    .exitOverride(usageExit)
    .action((opts: UninstallOptions) => runCli('uninstall', () => uninstall(opts)));
}
