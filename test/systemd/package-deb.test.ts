// `npm run package` with stand-in binaries: two .debs whose metadata, file modes, conffiles and unpacked tree are right.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENV_PATH, PACKAGE_BINARY, PACKAGE_UNIT_PATH, renderEnvFile, renderUnit } from '../../src/cli/systemd-files.ts';
import { requireTool, ROOT, runTool, verifyUnit } from './helpers.ts';

const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const VERSION = pkg.version.replace(/-/g, '~');
let work = '';
let out = '';
const standIns: Record<string, string> = {};

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-deb-test-'));
  out = join(work, 'out');
  for (const arch of ['x64', 'arm64']) {
    standIns[arch] = join(work, `ferry-linux-${arch}`);
    await writeFile(standIns[arch], `#!/bin/sh\necho stand-in for linux-${arch}\n`);
    await chmod(standIns[arch], 0o755);
  }
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function npmPackage(args: string[]) {
  return runTool('npm', ['run', '--silent', 'package', '--', ...args], { cwd: ROOT, timeoutMs: 120_000 });
}

test('npm run package fails with a clear message when the binaries are not built', () => {
  const r = npmPackage(['--binary-x64', join(work, 'missing-x64'), '--binary-arm64', standIns.arm64!, '--out', out]);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /missing-x64 not found: run `npm run build` first/);
});

test('npm run package builds an amd64 and an arm64 .deb with the binary, unit, env conffile and maintainer scripts', async () => {
  requireTool('dpkg-deb', 'dpkg');
  requireTool('systemd-analyze', 'systemd');
  const r = npmPackage(['--binary-x64', standIns.x64!, '--binary-arm64', standIns.arm64!, '--out', out]);
  assert.equal(r.status, 0, r.stdout + r.stderr);

  for (const [arch, debArch] of [['x64', 'amd64'], ['arm64', 'arm64']] as const) {
    const deb = join(out, `ferry_${VERSION}_${debArch}.deb`);
    const field = (name: string) => runTool('dpkg-deb', ['--field', deb, name]).stdout.trim();
    assert.equal(field('Package'), 'ferry');
    assert.equal(field('Version'), VERSION);
    assert.equal(field('Architecture'), debArch);
    assert.match(field('Depends'), /^libc6 \(>= 2\.28\)/);
    assert.ok(field('Maintainer') && field('Description'), 'Maintainer and Description are set');

    const info = runTool('dpkg-deb', ['--info', deb]);
    assert.equal(info.status, 0, info.stderr);
    for (const member of ['control', 'conffiles', 'postinst', 'prerm', 'postrm']) assert.match(info.stdout, new RegExp(`\\b${member}\\b`));
    assert.equal(runTool('dpkg-deb', ['--info', deb, 'conffiles']).stdout, `${ENV_PATH}\n`);

    // --contents: "mode owner/group size date time path", every file root-owned.
    const contents = runTool('dpkg-deb', ['--contents', deb]).stdout.trim().split('\n');
    const files = contents
      .filter((line) => !line.startsWith('d'))
      .map((line) => {
        const cols = line.split(/\s+/);
        return `${cols[0]} ${cols[1]} ${cols[5]}`;
      })
      .sort();
    assert.deepEqual(files, [
      `-rw------- root/root .${ENV_PATH}`,
      `-rw-r--r-- root/root .${PACKAGE_UNIT_PATH}`,
      `-rwxr-xr-x root/root .${PACKAGE_BINARY}`,
    ]);
    for (const dir of contents.filter((line) => line.startsWith('d'))) assert.match(dir, /^drwxr-xr-x root\/root /);

    const staging = join(work, `root-${debArch}`);
    await mkdir(staging);
    assert.equal(runTool('dpkg-deb', ['-x', deb, staging]).status, 0);
    assert.equal(await readFile(join(staging, PACKAGE_BINARY), 'utf8'), await readFile(standIns[arch]!, 'utf8'));
    const unit = await readFile(join(staging, PACKAGE_UNIT_PATH), 'utf8');
    assert.equal(unit, renderUnit({ binary: PACKAGE_BINARY }));
    assert.equal(await verifyUnit(unit), '');
    assert.equal(await readFile(join(staging, ENV_PATH), 'utf8'), renderEnvFile());

    const control = join(work, `control-${debArch}`);
    assert.equal(runTool('dpkg-deb', ['-e', deb, control]).status, 0);
    for (const script of ['postinst', 'prerm', 'postrm']) {
      const syntax = runTool('sh', ['-n', join(control, script)]);
      assert.equal(syntax.status, 0, `${script}: ${syntax.stderr}`);
    }
  }
});

test('the maintainer scripts create the user, enable the unit, stop it on remove, and never delete /var/lib/ferry', async () => {
  const script = async (name: string) => readFile(join(ROOT, 'scripts/deb', name), 'utf8');
  const code = (text: string) => text.split('\n').filter((line) => !/^\s*(#|echo )/.test(line)).join('\n');
  const postinst = await script('postinst');
  assert.match(postinst, /getent passwd ferry/);
  assert.match(postinst, /useradd --system --user-group --no-create-home/);
  assert.match(postinst, /deb-systemd-helper enable ferry\.service/);
  // Guarded: enabling works in a chroot, starting only where systemd runs.
  assert.match(postinst, /if \[ -d \/run\/systemd\/system \]; then[\s\S]*deb-systemd-invoke "\$action" ferry\.service/);
  assert.match(await script('prerm'), /"\$1" = remove \] && \[ -d \/run\/systemd\/system \][\s\S]*stop ferry\.service/);
  for (const name of ['postinst', 'prerm', 'postrm']) {
    assert.doesNotMatch(code(await script(name)), /rm\b[^\n]*\/var\/lib\/ferry/, `${name} deletes data`);
  }
  assert.match(await script('postrm'), /kept the data in \/var\/lib\/ferry/);
});
