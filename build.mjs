// Bundles src/main.ts into dist/ferry.cjs (plain JS so the machine's own node can run it too); with --sea, also the single executables (build-sea.mjs).
import { analyzeMetafile, build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = dirname(fileURLToPath(import.meta.url));
const OUTFILE = join(ROOT, 'dist/ferry.cjs');

/**
 * classic-level's `./binding` calls node-gyp-build(__dirname), which needs classic-level's own folder: left inside
 * the bundle it would look beside dist/. Keep that one file external so it loads from node_modules.
 * The single-executable build swaps this plugin for a loader that reads the addon from a SEA asset
 * (shared/notes/single-binary.md).
 */
const nativeAddonFromNodeModules = {
  name: 'native-addon-from-node-modules',
  setup(b) {
    b.onResolve({ filter: /^\.\/binding(\.js)?$/ }, (args) =>
      /[\\/]node_modules[\\/]classic-level[\\/]/.test(args.importer) ? { path: 'classic-level/binding.js', external: true } : undefined,
    );
  },
};

/**
 * Packages ferry loads only when a feature first needs them, with `await import(...)`: each goes to its own file
 * beside the bundle. Inside the main bundle they would cost idle memory even if never run: V8 keeps the whole
 * source of a script, and the bundled SDK measured +6 MB of idle RssAnon (~2 MB of source and its top level).
 */
export const LAZY_PACKAGES = { '@aws-sdk/client-s3': 'aws-sdk-client-s3.cjs', '@aws-sdk/lib-storage': 'aws-sdk-lib-storage.cjs', '@fastify/busboy': 'fastify-busboy.cjs' };
export const LAZY_FILTER = new RegExp(`^(${Object.keys(LAZY_PACKAGES).map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);

/** `import('<lazy package>')` becomes a require of its file beside the bundle; a static import fails the build. */
const lazyPackagesBeside = {
  name: 'lazy-packages-beside',
  setup(b) {
    b.onResolve({ filter: LAZY_FILTER }, (args) => {
      if (args.kind !== 'dynamic-import') {
        return { errors: [{ text: `${args.path} is loaded lazily: import it with await import('${args.path}'), not a static import (build.mjs LAZY_PACKAGES)` }] };
      }
      return { path: `./${LAZY_PACKAGES[args.path]}`, external: true };
    });
  },
};

/**
 * esbuild escapes non-ASCII in code but keeps it in comments, and one such character makes V8 hold the whole
 * source (kept for lazy compilation) as a two-byte string: 0.65 MB more idle memory for a few dashes.
 * Outside comments the escape is what esbuild would have written anyway.
 */
async function asciiOnly(file) {
  const text = (await readFile(file, 'utf8')).replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  await writeFile(file, text);
  return text;
}

/** A chunk that needs another lazy package (lib-storage needs client-s3) requires that package's chunk, not a second copy. */
const otherChunksExternal = (self) => ({
  name: 'other-chunks-external',
  setup(b) {
    b.onResolve({ filter: LAZY_FILTER }, (args) => (args.path === self ? undefined : { path: `./${LAZY_PACKAGES[args.path]}`, external: true }));
  },
});

/** The commit `ferry --version` shows: "unknown" outside a git checkout, "-dirty" with uncommitted changes. */
export function gitCommit() {
  try {
    // --no-optional-locks: a build must not rewrite the index (git status refreshes it otherwise).
    const git = (...args) => execFileSync('git', ['--no-optional-locks', ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', '--short=12', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') === '' ? head : `${head}-dirty`;
  } catch {
    return 'unknown';
  }
}

const COMMON = { bundle: true, platform: 'node', format: 'cjs', target: 'node24', metafile: true, logLevel: 'silent' };

export async function bundle({ outfile = OUTFILE, plugins = [nativeAddonFromNodeModules, lazyPackagesBeside], chunkOptions = {}, mainOptions = {} } = {}) {
  const chunks = await Promise.all(
    Object.entries(LAZY_PACKAGES).map(([name, file]) =>
      build({
        ...COMMON,
        ...chunkOptions,
        stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: ROOT, loader: 'js' },
        outfile: join(dirname(outfile), file),
        plugins: [otherChunksExternal(name)],
      }),
    ),
  );
  const result = await build({
    ...COMMON,
    entryPoints: [join(ROOT, 'src/main.ts')],
    outfile,
    plugins,
    define: { __FERRY_COMMIT__: JSON.stringify(gitCommit()) },
    // import() of a lazy package becomes a require: named exports work, and a SEA's require can be swapped in.
    supported: { 'dynamic-import': false },
    // Readable stack traces in bug reports; minifying saved 0.1 MB of idle memory once the source is ASCII (below).
    minify: false,
    sourcemap: false,
    legalComments: 'eof',
    ...mainOptions,
  });
  // Any warning is a failure: e.g. esbuild replaces `import.meta` with `{}` in cjs output and only warns.
  const problems = [result, ...chunks].flatMap((r) => [...r.errors, ...r.warnings]).map((m) => `${m.location?.file ?? ''}:${m.location?.line ?? ''} ${m.text}`);
  let bytes = 0;
  for (const file of [outfile, ...Object.values(LAZY_PACKAGES).map((f) => join(dirname(outfile), f))]) {
    const text = await asciiOnly(file);
    if (file === outfile) bytes = text.length;
    if (/\bimport\.meta\b/.test(text)) problems.push(`import.meta survived into ${relative(ROOT, file)}`);
  }
  const gyp = Object.keys(result.metafile.inputs).filter((input) => input.includes('node_modules/node-gyp-build/'));
  if (gyp.length > 0) problems.push(`node-gyp-build was bundled (from ${gyp.join(', ')}): the addon would be looked for beside the bundle`);
  if (problems.length > 0) throw new Error(`build failed:\n  ${problems.join('\n  ')}`);
  return { outfile, bytes, inputs: Object.keys(result.metafile.inputs).length, metafile: result.metafile };
}

async function main() {
  // --outfile: tests build a copy; it must stay inside the package so node_modules resolves from it.
  // --sea: also the single executables (npm run build).
  // --if-stale: skip the executables when their inputs did not change since the last build (tests, bench).
  // --analyze: what the bundle is made of, biggest first: every byte of it is held in memory by a running ferry.
  const { values } = parseArgs({ options: { outfile: { type: 'string' }, sea: { type: 'boolean' }, 'if-stale': { type: 'boolean' }, analyze: { type: 'boolean' } } });
  const { outfile, bytes, inputs, metafile } = await bundle(values.outfile === undefined ? {} : { outfile: resolve(values.outfile) });
  console.error(`built ${relative(process.cwd(), outfile)} (${(bytes / 1024).toFixed(0)} KiB from ${inputs} files)`);
  if (values.analyze) console.error(await analyzeMetafile(metafile));
  if (values.sea) await (await import('./build-sea.mjs')).buildExecutables({ ifStale: values['if-stale'] === true });
}

// Not a top-level await: build-sea.mjs imports this module, which must finish evaluating first.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
