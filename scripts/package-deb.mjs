// `npm run package`: wraps dist/ferry-linux-{x64,arm64} into dist/ferry_<version>_{amd64,arm64}.deb with dpkg-deb.
// Options: --binary-x64 PATH --binary-arm64 PATH (default dist/ferry-linux-<arch>), --out DIR (default dist).
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPTS = join(ROOT, 'scripts/deb');

/** Node's arch name, Debian's, and the ELF e_machine the binary must carry (elf.h: EM_X86_64, EM_AARCH64). */
const ARCHES = [
  { node: 'x64', deb: 'amd64', machine: 62 },
  { node: 'arm64', deb: 'arm64', machine: 183 },
];

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

function dpkgDeb(args) {
  const r = spawnSync('dpkg-deb', args, { encoding: 'utf8', timeout: 600_000 });
  if (r.error) fail(r.error.code === 'ENOENT' ? 'dpkg-deb not found: apt-get install dpkg' : `dpkg-deb: ${r.error.message}`);
  if (r.status !== 0) fail(`dpkg-deb ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Catches a swapped --binary-x64/--binary-arm64 before it becomes a package that cannot run. */
async function checkBinary(path, arch) {
  let info;
  try {
    info = await stat(path);
  } catch {
    fail(`${relative(process.cwd(), path) || path} not found: run \`npm run build\` first (it builds dist/ferry-linux-x64 and dist/ferry-linux-arm64)`);
  }
  if (!info.isFile()) fail(`${path} is not a file`);
  const fh = await open(path, 'r');
  const head = Buffer.alloc(20);
  await fh.read(head, 0, 20, 0);
  await fh.close();
  // ELF header: magic, then e_machine (little-endian u16) at offset 18. Non-ELF stand-ins (tests) pass unchecked.
  if (head.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])) && head.readUInt16LE(18) !== arch.machine) {
    fail(`${path} is not a linux-${arch.node} executable (ELF machine ${head.readUInt16LE(18)})`);
  }
}

/** Debian orders "~" before anything, as semver orders a pre-release before its release (deb-version(7)). */
function debianVersion(version) {
  return version.replace(/-/g, '~');
}

async function placed(dest, mode, write) {
  await mkdir(dirname(dest), { recursive: true });
  await write(dest);
  await chmod(dest, mode);
}

/** Every directory in the tree 0755 whatever the umask: dpkg-deb rejects a DEBIAN dir with odd modes. */
async function normaliseDirs(dir) {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await normaliseDirs(join(dir, entry.name));
  }
}

async function buildDeb({ arch, binary, version, outDir, files, maintainer }) {
  const stage = await mkdtemp(join(tmpdir(), `ferry-deb-${arch.deb}-`));
  try {
    await placed(join(stage, files.binaryPath), 0o755, (p) => copyFile(binary, p));
    await placed(join(stage, files.unitPath), 0o644, (p) => writeFile(p, files.unit));
    await placed(join(stage, files.envPath), 0o600, (p) => writeFile(p, files.env));
    const installedKiB = Math.ceil(((await stat(binary)).size + Buffer.byteLength(files.unit) + Buffer.byteLength(files.env)) / 1024);
    const control = [
      'Package: ferry',
      `Version: ${version}`,
      `Architecture: ${arch.deb}`,
      `Maintainer: ${maintainer}`,
      `Installed-Size: ${installedKiB}`,
      // The embedded Node runtime links glibc >= 2.28 (also classic-level's prebuild), libstdc++ (GLIBCXX_3.4.21, GCC 5)
      // and libgcc_s (ldd dist/ferry-linux-x64). libgcc1 is that library's name before Debian 11.
      'Depends: libc6 (>= 2.28), libstdc++6 (>= 5), libgcc-s1 | libgcc1',
      'Section: net',
      'Priority: optional',
      'Description: edge-first S3-compatible object store',
      ' ferry keeps objects on the gateway itself and answers the S3 API (AWS',
      ' Signature V4), so applications use the same client at the edge as in the',
      ' cloud. One self-contained executable, run as a hardened systemd service.',
      ' .',
      ' Settings: /etc/ferry/ferry.env. Data: /var/lib/ferry. Logs: journalctl -u ferry.',
      '',
    ].join('\n');
    await placed(join(stage, 'DEBIAN/control'), 0o644, (p) => writeFile(p, control));
    // A conffile: dpkg keeps the admin's edits on upgrade (asking when the shipped default changed).
    await placed(join(stage, 'DEBIAN/conffiles'), 0o644, (p) => writeFile(p, `${files.envPath}\n`));
    for (const script of ['postinst', 'prerm', 'postrm']) {
      await placed(join(stage, 'DEBIAN', script), 0o755, (p) => copyFile(join(SCRIPTS, script), p));
    }
    await normaliseDirs(stage);
    const deb = join(outDir, `ferry_${version}_${arch.deb}.deb`);
    // --root-owner-group: every file root:root in the archive, whoever builds it. xz, not zstd (Ubuntu's default),
    // so the dpkg of older Debian releases can read it.
    dpkgDeb(['--build', '--root-owner-group', '-Zxz', stage, deb]);
    return deb;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

async function main() {
  const usage =
    'usage: npm run package [-- --binary-x64 PATH --binary-arm64 PATH --out DIR]\n' +
    'Builds ferry_<version>_amd64.deb and ferry_<version>_arm64.deb (defaults: dist/ferry-linux-<arch> into dist/).';
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'binary-x64': { type: 'string' },
        'binary-arm64': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`package: ${err.message}\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    return;
  }
  // Importing .ts needs Node's type stripping: the project runtime (node_modules/.bin/node, first on npm's PATH).
  if (Number(process.versions.node.split('.')[0]) < 24) fail(`needs Node 24 (this is ${process.version}): run it as npm run package`);
  // The unit and env file come from the same code `ferry install` uses, so the two layouts cannot drift.
  const { renderUnit, renderEnvFile, PACKAGE_BINARY, PACKAGE_UNIT_PATH, ENV_PATH } = await import('../src/cli/systemd-files.ts');
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
  const version = debianVersion(pkg.version);
  const maintainer = typeof pkg.author === 'string' && pkg.author.includes('<') ? pkg.author : 'ferry maintainers <ferry@invalid>';
  const outDir = resolve(values.out ?? join(ROOT, 'dist'));
  const binaries = {
    x64: resolve(values['binary-x64'] ?? join(ROOT, 'dist/ferry-linux-x64')),
    arm64: resolve(values['binary-arm64'] ?? join(ROOT, 'dist/ferry-linux-arm64')),
  };
  for (const arch of ARCHES) await checkBinary(binaries[arch.node], arch);
  await mkdir(outDir, { recursive: true });
  const files = {
    binaryPath: PACKAGE_BINARY,
    unitPath: PACKAGE_UNIT_PATH,
    envPath: ENV_PATH,
    unit: renderUnit({ binary: PACKAGE_BINARY }),
    env: renderEnvFile(),
  };
  for (const arch of ARCHES) {
    const deb = await buildDeb({ arch, binary: binaries[arch.node], version, outDir, files, maintainer });
    console.log(`built ${relative(process.cwd(), deb) || deb} (${((await stat(deb)).size / 1024 / 1024).toFixed(1)} MB)`);
  }
}

await main();
