// Shared by the systemd and packaging tests: required host tools, unit/env-file parsing, systemd-analyze runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const MAIN = join(ROOT, 'src/main.ts');

/** Fails (never skips) when a host tool is missing: .ci/run installs them, a developer runs apt-get. */
export function requireTool(command: string, debianPackage: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(found.status, 0, `${command} is not installed: apt-get install -y ${debianPackage} (.ci/run does this in CI)`);
}

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runTool(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Ran {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000, cwd: options.cwd, env: options.env ?? process.env });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `Key=value` lines of a unit, in order (comments and section headers dropped). */
export function unitEntries(unit: string): [string, string][] {
  return unit
    .split('\n')
    .filter((line) => /^[A-Za-z]+=/.test(line))
    .map((line) => {
      const at = line.indexOf('=');
      return [line.slice(0, at), line.slice(at + 1)];
    });
}

/** The active settings of an EnvironmentFile= (systemd.exec(5): # and ; start comments; quotes are stripped). */
export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    assert.ok(m, `not a NAME=value line: ${raw}`);
    out.set(m[1]!, m[2]!.replace(/^"(.*)"$|^'(.*)'$/, '$1$2'));
  }
  return out;
}

/**
 * Runs `systemd-analyze verify` on a copy of the unit whose ExecStart points at a real executable (verify checks
 * that it exists). Returns everything it printed: verify exits 0 even on unknown keys, so any output is a finding.
 */
export async function verifyUnit(unit: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-unit-'));
  try {
    const exe = join(dir, 'ferry');
    await writeFile(exe, '#!/bin/sh\nexit 0\n');
    await chmod(exe, 0o755);
    const copy = unit.replace(/^ExecStart=\S+/m, `ExecStart=${exe}`);
    assert.notEqual(copy, unit, 'the unit has an ExecStart= line');
    await writeFile(join(dir, 'ferry.service'), copy);
    const r = runTool('systemd-analyze', ['verify', join(dir, 'ferry.service')]);
    return `${r.stdout}${r.stderr}`.trim() + (r.status === 0 ? '' : `\n(exit ${r.status})`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
