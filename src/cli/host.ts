// What `ferry install` / `uninstall` need from the host: root check, systemd detection, the service user, running tools.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/** A failure with the exit code the CLI should end with: 1 for failures, 2 for usage errors. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Absolute target root; '/' means "this machine". */
export function targetRoot(root: string | undefined): string {
  return resolve(root ?? '/');
}

/** `path` (absolute in the target system) as seen from here. */
export function inRoot(root: string, path: string): string {
  return root === '/' ? path : join(root, path);
}

export function requireSuperuser(root: string, command: string): void {
  if (root === '/' && typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new CliError(`${command} writes to /usr/local/bin, /etc and creates a system user: run it as root (sudo ferry ${command} ...), or pass --root DIR to stage a tree`);
  }
}

/** sd_booted(3): systemd is PID 1 exactly when /run/systemd/system exists. Only meaningful for root '/'. */
export function systemdRuns(root: string): boolean {
  return root === '/' && existsSync('/run/systemd/system');
}

export interface RunResult {
  status: number;
  output: string;
}

/** Runs a tool to completion (bounded), capturing its output for our messages. */
export function run(command: string, args: string[], timeoutMs = 60_000): RunResult {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${command} not found on this system` : `${command} ${args.join(' ')}: ${r.error.message}`);
  }
  return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Runs a tool that must succeed. */
export function mustRun(command: string, args: string[]): void {
  const r = run(command, args);
  if (r.status !== 0) throw new CliError(`${command} ${args.join(' ')} failed (exit ${r.status})${r.output ? `:\n${r.output}` : ''}`);
}

export function userExists(name: string): boolean {
  return run('getent', ['passwd', name]).status === 0;
}

/** The service user: a system account, no home, no login shell (scripts/deb/postinst uses the same flags). */
export function userAddArgs(name: string): string[] {
  return ['--system', '--user-group', '--no-create-home', '--home-dir', '/var/lib/ferry', '--shell', '/usr/sbin/nologin', '--comment', 'ferry object store', name];
}

/** mkdir -p with mode 0755 on every directory it creates, whatever the caller's umask (sudo may carry 0077). */
export async function ensureDir(dir: string): Promise<void> {
  const parent = dirname(dir);
  if (parent !== dir && !existsSync(parent)) await ensureDir(parent);
  try {
    await mkdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  await chmod(dir, 0o755);
}

/**
 * Writes `dest` through a temp name and a rename: a running executable cannot be rewritten in place (ETXTBSY),
 * and nothing ever sees half a file.
 */
export async function placeFile(dest: string, mode: number, write: (tmp: string) => Promise<void>): Promise<void> {
  await ensureDir(dirname(dest));
  const tmp = `${dest}.ferry-new-${process.pid}`;
  try {
    await write(tmp);
    await chmod(tmp, mode);
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
