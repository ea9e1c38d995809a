// Bundles src/main.ts into the one file that ships, dist/ferry.cjs (plain JS so the machine's own node can run it too).
import { build } from 'esbuild';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(fileURLToPath(import.meta.url));
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

export async function bundle({ outfile = OUTFILE, plugins = [nativeAddonFromNodeModules] } = {}) {
  const result = await build({
    entryPoints: [join(ROOT, 'src/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    plugins,
    // Readable stack traces in bug reports; minifying saves no measurable memory (V8 compiles lazily).
    minify: false,
    sourcemap: false,
    legalComments: 'eof',
    metafile: true,
    logLevel: 'silent',
  });
  // Any warning is a failure: e.g. esbuild replaces `import.meta` with `{}` in cjs output and only warns.
  const problems = [...result.errors, ...result.warnings].map((m) => `${m.location?.file ?? ''}:${m.location?.line ?? ''} ${m.text}`);
  // esbuild escapes non-ASCII in code but keeps it in comments, and one such character makes V8 hold the whole
  // source (kept for lazy compilation) as a two-byte string: 0.65 MB more idle memory for a few dashes.
  // Outside comments the escape is what esbuild would have written anyway.
  const text = (await readFile(outfile, 'utf8')).replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  await writeFile(outfile, text);
  if (/\bimport\.meta\b/.test(text)) problems.push('import.meta survived into the bundle');
  const gyp = Object.keys(result.metafile.inputs).filter((input) => input.includes('node_modules/node-gyp-build/'));
  if (gyp.length > 0) problems.push(`node-gyp-build was bundled (from ${gyp.join(', ')}): the addon would be looked for beside the bundle`);
  if (problems.length > 0) throw new Error(`build failed:\n  ${problems.join('\n  ')}`);
  return { outfile, bytes: Buffer.byteLength(text), inputs: Object.keys(result.metafile.inputs).length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const { outfile, bytes, inputs } = await bundle();
    console.error(`built ${relative(process.cwd(), outfile)} (${(bytes / 1024).toFixed(0)} KiB from ${inputs} files)`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
