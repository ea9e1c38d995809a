// `ferry install` / `ferry uninstall` into a staging --root: what lands where, with which modes, and what survives.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { renderEnvFile, renderUnit, LOCAL_BINARY } from '../../src/cli/systemd-files.ts';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Ran {
  code: number | null;
  out: string;
}

function ferry(args: string[], options: { uid?: number; gid?: number } = {}): Ran {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (r.error) throw r.error;
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** A stand-in for the single executable: install only copies it. */
async function fakeBinary(dir: string, text = 'v1'): Promise<string> {
  const path = join(dir, `fake-ferry-${text}`);
  await writeFile(path, `#!/bin/sh\necho ${text}\n`);
  await chmod(path, 0o755);
  return path;
}

/** Every entry under root as "mode path", directories included. */
async function tree(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    out.push(`${((await stat(path)).mode & 0o777).toString(8)} ${relative(root, path)}${entry.isDirectory() ? '/' : ''}`);
    if (entry.isDirectory()) out.push(...(await tree(root, path)));
  }
  return out;
}

async function installed(): Promise<{ root: string; binary: string; work: string }> {
  const work = await tempDir('ferry-install-work-');
  const root = await tempDir('ferry-install-root-');
  const binary = await fakeBinary(work);
  const r = ferry(['install', '--root', root, '--binary', binary, '--no-enable']);
  assert.equal(r.code, 0, r.out);
  return { root, binary, work };
}

test('install --root --binary --no-enable lays out exactly the binary, unit and env file, with their modes', async () => {
  const work = await tempDir('ferry-install-work-');
  const root = await tempDir('ferry-install-root-');
  const binary = await fakeBinary(work);
  const r = ferry(['install', '--root', root, '--binary', binary, '--no-enable']);
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(await tree(root), [
    '755 etc/',
    '755 etc/ferry/',
    '600 etc/ferry/ferry.env',
    '755 etc/systemd/',
    '755 etc/systemd/system/',
    '644 etc/systemd/system/ferry.service',
    '755 usr/',
    '755 usr/local/',
    '755 usr/local/bin/',
    '755 usr/local/bin/ferry',
  ]);
  assert.equal(await readFile(join(root, 'usr/local/bin/ferry'), 'utf8'), await readFile(binary, 'utf8'));
  assert.equal(await readFile(join(root, 'etc/systemd/system/ferry.service'), 'utf8'), renderUnit({ binary: LOCAL_BINARY }));
  assert.equal(await readFile(join(root, 'etc/ferry/ferry.env'), 'utf8'), renderEnvFile());
  // No user is created in a staging tree and nothing is enabled: the output says what to run on the target.
  assert.match(r.out, /useradd --system .*ferry/);
  assert.match(r.out, /systemctl enable --now ferry/);
  assert.match(r.out, /journalctl -u ferry/);
});

test('--user names the service user in the installed unit', async () => {
  const work = await tempDir('ferry-install-work-');
  const root = await tempDir('ferry-install-root-');
  const r = ferry(['install', '--root', root, '--binary', await fakeBinary(work), '--no-enable', '--user', 's3gw']);
  assert.equal(r.code, 0, r.out);
  const unit = await readFile(join(root, 'etc/systemd/system/ferry.service'), 'utf8');
  assert.match(unit, /^User=s3gw\nGroup=s3gw$/m);
  assert.equal(ferry(['install', '--root', root, '--binary', await fakeBinary(work), '--user', 'Bad User']).code, 2);
});

test('a second install replaces binary and unit but keeps the edited env file', async () => {
  const { root, work } = await installed();
  const env = join(root, 'etc/ferry/ferry.env');
  const edited = `${renderEnvFile()}FERRY_ROOT_ACCESS_KEY=gateway-admin\nFERRY_ROOT_SECRET_KEY=a-long-secret-value\n`;
  await writeFile(env, edited);
  await writeFile(join(root, 'etc/systemd/system/ferry.service'), '[Unit]\nDescription=stale\n');
  const v2 = await fakeBinary(work, 'v2');
  const r = ferry(['install', '--root', root, '--binary', v2, '--no-enable']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /kept/);
  assert.equal(await readFile(env, 'utf8'), edited);
  assert.equal((await stat(env)).mode & 0o777, 0o600);
  assert.equal(await readFile(join(root, 'usr/local/bin/ferry'), 'utf8'), await readFile(v2, 'utf8'));
  assert.equal(await readFile(join(root, 'etc/systemd/system/ferry.service'), 'utf8'), renderUnit({ binary: LOCAL_BINARY }));
});

test('uninstall --root removes binary and unit, keeps the env file and the data', async () => {
  const { root } = await installed();
  await mkdir(join(root, 'var/lib/ferry/data'), { recursive: true });
  await writeFile(join(root, 'var/lib/ferry/data/object'), 'bytes');
  const r = ferry(['uninstall', '--root', root]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /kept/);
  assert.deepEqual(
    (await tree(root)).filter((line) => !line.endsWith('/')),
    ['600 etc/ferry/ferry.env', '644 var/lib/ferry/data/object'],
  );
  // Uninstalling twice is harmless.
  assert.equal(ferry(['uninstall', '--root', root]).code, 0);
});

test('uninstall --purge refuses without --yes when stdin is not a terminal, and deletes config, data and cache with it', async () => {
  const { root } = await installed();
  await mkdir(join(root, 'var/lib/ferry'), { recursive: true });
  await writeFile(join(root, 'var/lib/ferry/root-credentials.json'), '{}');
  await mkdir(join(root, 'var/cache/ferry'), { recursive: true });
  const refused = ferry(['uninstall', '--root', root, '--purge']);
  assert.equal(refused.code, 2, refused.out);
  assert.match(refused.out, /--yes/);
  assert.ok((await tree(root)).includes('755 usr/local/bin/ferry'), 'nothing is removed when purge is refused');

  const r = ferry(['uninstall', '--root', root, '--purge', '--yes']);
  assert.equal(r.code, 0, r.out);
  assert.deepEqual((await tree(root)).filter((line) => !line.endsWith('/')), []);
  for (const gone of ['etc/ferry', 'var/lib/ferry', 'var/cache/ferry']) {
    await assert.rejects(stat(join(root, gone)), { code: 'ENOENT' }, gone);
  }
});

test('running from source without --binary is a usage error that says what to pass', async () => {
  const root = await tempDir('ferry-install-root-');
  const r = ferry(['install', '--root', root, '--no-enable']);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /--binary/);
  assert.match(r.out, /npm run build/);
  assert.deepEqual(await readdir(root), []);
});

test('a missing --binary or --root is a usage error; unknown options exit 2; --help exits 0', async () => {
  const root = await tempDir('ferry-install-root-');
  assert.equal(ferry(['install', '--root', root, '--binary', join(root, 'nope')]).code, 2);
  assert.equal(ferry(['install', '--root', join(root, 'nope'), '--binary', process.execPath]).code, 2);
  assert.equal(ferry(['install', '--no-such-flag']).code, 2);
  assert.equal(ferry(['uninstall', '--no-such-flag']).code, 2);
  const help = ferry(['install', '--help']);
  assert.equal(help.code, 0);
  for (const word of ['--root', '--binary', '--no-enable', '--user', '/usr/local/bin/ferry', '/etc/ferry/ferry.env', 'Exit codes']) {
    assert.ok(help.out.includes(word), `install --help mentions ${word}`);
  }
  const uninstallHelp = ferry(['uninstall', '--help']);
  assert.equal(uninstallHelp.code, 0);
  assert.match(uninstallHelp.out, /--purge/);
});

test('install and uninstall against / refuse to run as a non-root user, with a clear message', async () => {
  const work = await tempDir('ferry-install-work-');
  await chmod(work, 0o755);
  const binary = await fakeBinary(work);
  // As root (CI), drop to nobody; as a developer, we already are not root.
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const install = ferry(['install', '--binary', binary, '--no-enable'], asUser);
  assert.equal(install.code, 1, install.out);
  assert.match(install.out, /run it as root/);
  const uninstall = ferry(['uninstall'], asUser);
  assert.equal(uninstall.code, 1, uninstall.out);
  assert.match(uninstall.out, /run it as root/);
});
