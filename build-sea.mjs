// Builds the single executables dist/ferry-linux-x64 and dist/ferry-linux-arm64: SEA bundle, one blob per arch, injected into a stripped Node runtime.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { bundle, gitCommit, LAZY_FILTER, LAZY_PACKAGES, ROOT } from './build.mjs';

/** The runtime that ships, from the npm registry; the blob must come from this same version (SEA docs). */
export const RUNTIME_VERSION = '24.21.0';
export const ARCHES = {
  x64: { addon: 'node_modules/classic-level/prebuilds/linux-x64/classic-level.node', strip: 'strip' },
  // Debian's binutils-aarch64-linux-gnu; the host `strip` does not know aarch64.
  arm64: { addon: 'node_modules/classic-level/prebuilds/linux-arm64/classic-level.armv8.node', strip: 'aarch64-linux-gnu-strip' },
};
const SEA_DIR = join(ROOT, 'dist/sea');
const RUNTIME_CACHE = join(ROOT, 'node_modules/.cache/ferry-runtimes');
// https://nodejs.org/api/single-executable-applications.html (postject's fuse for Node's SEA resource).
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export const binaryPath = (arch) => join(ROOT, `dist/ferry-linux-${arch}`);

/** classic-level's `./binding` becomes src/native.cts, which loads the addon from the SEA asset. */
const nativeAddonFromAsset = {
  name: 'native-addon-from-asset',
  setup(b) {
    b.onResolve({ filter: /^\.\/binding(\.js)?$/ }, (args) =>
      /[\\/]node_modules[\\/]classic-level[\\/]/.test(args.importer) ? { path: join(ROOT, 'src/native.cts') } : undefined,
    );
    // native.cts's fallback outside a SEA (`node dist/sea/ferry.cjs`) loads classic-level's binding from node_modules.
    b.onResolve({ filter: /^classic-level\/binding\.js$/ }, () => ({ path: 'classic-level/binding.js', external: true }));
  },
};

/** `import('<lazy package>')` becomes src/lazy-chunks.cts's loadChunk(<file>): a SEA asset, as a SEA's require has no files. */
const lazyPackagesFromAssets = {
  name: 'lazy-packages-from-assets',
  setup(b) {
    b.onResolve({ filter: LAZY_FILTER }, (args) => {
      if (args.kind !== 'dynamic-import') return { errors: [{ text: `${args.path} is loaded lazily: use await import('${args.path}')` }] };
      return { path: args.path, namespace: 'lazy-chunk' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-chunk' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(join(ROOT, 'src/lazy-chunks.cts'))}).loadChunk(${JSON.stringify(LAZY_PACKAGES[args.path])});`,
      resolveDir: ROOT,
      loader: 'js',
    }));
  },
};

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts });

/** The stripped runtime for `arch`, fetched once with `npm pack` (npm checks the registry's integrity hash). */
async function runtime(arch) {
  const cached = join(RUNTIME_CACHE, `node-v${RUNTIME_VERSION}-linux-${arch}-stripped`);
  try {
    await stat(cached);
    return cached;
  } catch {}
  await mkdir(RUNTIME_CACHE, { recursive: true });
  const tmp = await mkdtemp(join(RUNTIME_CACHE, 'fetch-'));
  try {
    const tgz = sh('npm', ['pack', '--silent', `node-linux-${arch}@${RUNTIME_VERSION}`, '--pack-destination', tmp]).trim().split('\n').pop();
    sh('tar', ['-xzf', join(tmp, tgz), '-C', tmp, 'package/bin/node']);
    const bin = join(tmp, 'package/bin/node');
    // Strip BEFORE injection: stripping an injected binary gave one that segfaults (notes/single-binary.md).
    try {
      sh(ARCHES[arch].strip, [bin]);
    } catch (err) {
      throw new Error(`${ARCHES[arch].strip} failed (${err.message.split('\n')[0]}): apt-get install binutils-aarch64-linux-gnu`);
    }
    await rename(bin, cached);
    return cached;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * sea-config.json is the x64 config; each arch gets a copy with its own addon asset and blob, and the addon's
 * SHA-256 as a second asset: src/native.cts checks its cached copy against it without reading the addon asset.
 */
async function writeSeaConfig(arch) {
  const base = JSON.parse(await readFile(join(ROOT, 'sea-config.json'), 'utf8'));
  const hashFile = join(SEA_DIR, `classic-level-${arch}.node.sha256`);
  await writeFile(hashFile, createHash('sha256').update(await readFile(join(ROOT, ARCHES[arch].addon))).digest('hex'));
  const assets = { ...base.assets, 'classic-level.node': ARCHES[arch].addon, 'classic-level.node.sha256': relative(ROOT, hashFile) };
  const config = {
    ...base,
    main: join(ROOT, base.main),
    output: join(SEA_DIR, `ferry-linux-${arch}.blob`),
    assets: Object.fromEntries(Object.entries(assets).map(([name, file]) => [name, join(ROOT, file)])),
  };
  const file = join(SEA_DIR, `sea-config-${arch}.json`);
  await writeFile(file, JSON.stringify(config, null, 2) + '\n');
  return config;
}

export async function buildExecutables({ arches = Object.keys(ARCHES), log = (l) => console.error(l), ifStale = false } = {}) {
  const stamp = join(SEA_DIR, 'inputs.sha256');
  const digest = await inputsDigest();
  if (ifStale) {
    const fresh = await readFile(stamp, 'utf8').then((d) => d === digest, () => false);
    const present = await Promise.all(arches.map((a) => stat(binaryPath(a)).then(() => true, () => false)));
    if (fresh && present.every(Boolean)) {
      log('single executables are up to date');
      return [];
    }
  }
  await rm(stamp, { force: true });
  if (process.version !== `v${RUNTIME_VERSION}`) {
    throw new Error(`the SEA blob must be generated by Node ${RUNTIME_VERSION}, this is ${process.version}: run through npm (npm run build) or node_modules/.bin/node`);
  }
  const started = Date.now();
  // Lazy chunks minified: they are only in the binary to be loaded on demand, and this keeps ferry's share small.
  // The main script loses only whitespace and dead syntax (names stay readable in stack traces): -0.26 MB of
  // blob and -0.2 MB of idle RssAnon measured; full minification gained nothing more in memory.
  const { bytes } = await bundle({
    outfile: join(SEA_DIR, 'ferry.cjs'),
    plugins: [nativeAddonFromAsset, lazyPackagesFromAssets],
    chunkOptions: { minify: true },
    mainOptions: { minifyWhitespace: true, minifySyntax: true },
  });
  log(`built dist/sea/ferry.cjs (${(bytes / 1024).toFixed(0)} KiB)`);
  const built = [];
  for (const arch of arches) {
    const config = await writeSeaConfig(arch);
    sh(process.execPath, ['--experimental-sea-config', join(SEA_DIR, `sea-config-${arch}.json`)]);
    const node = await runtime(arch);
    const out = binaryPath(arch);
    const tmp = `${out}.tmp`;
    await copyFile(node, tmp);
    await chmod(tmp, 0o755);
    // postject's "Can't find string offset for section name" warnings are harmless (notes/single-binary.md).
    sh(process.execPath, [join(ROOT, 'node_modules/postject/dist/cli.js'), tmp, 'NODE_SEA_BLOB', config.output, '--sentinel-fuse', SENTINEL_FUSE]);
    await rename(tmp, out);
    const blob = (await stat(config.output)).size;
    const size = (await stat(out)).size;
    built.push({ arch, file: out, size, blob, runtime: (await stat(node)).size });
    log(`built ${relative(ROOT, out)}: ${(size / 1e6).toFixed(1)} MB (runtime ${((await stat(node)).size / 1e6).toFixed(1)} MB + ferry blob ${(blob / 1e6).toFixed(2)} MB)`);
  }
  await writeFile(stamp, digest);
  log(`single executables built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return built;
}

/** A digest of everything that goes into the binaries: tests and the bench rebuild only when it changed. */
export async function inputsDigest() {
  let files;
  try {
    files = sh('git', ['ls-files', '-co', '--exclude-standard', 'src', 'build.mjs', 'build-sea.mjs', 'sea-config.json', 'package-lock.json']).split('\n').filter(Boolean).sort();
  } catch {
    // Not a git checkout: never reuse.
    return `no-git-${Date.now()}`;
  }
  const h = createHash('sha256').update(RUNTIME_VERSION).update(gitCommit());
  for (const f of files) {
    try {
      h.update(f).update(await readFile(join(ROOT, f)));
    } catch {}
  }
  return h.digest('hex');
}
