// Plain-JS copies of TypeScript sources, so a server can run without Node's .ts loader (amaro), as a bundle would.
// The loader's WebAssembly memory grows with every file it strips and stays: ~12 MB of RssAnon for one small file,
// ~24 MB for ferry's src/ (measured here), which would otherwise be billed to the server's idle memory.
import { copyFile, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const EXTENSIONS: Record<string, string> = { '.ts': '.js', '.mts': '.mjs', '.cts': '.cjs' };
/** Relative specifiers of our own files: './x.ts', "../y.cts" (the style guide writes explicit extensions). */
const RELATIVE_SPECIFIER = /(['"])(\.{1,2}\/[^'"\n]*?)\.([cm]?ts)\1/g;

async function strip(source: string): Promise<string> {
  const { stripTypeScriptTypes } = await import('node:module');
  // The API is still flagged experimental in Node 24: keep its one-off warning out of the report.
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    return stripTypeScriptTypes(source).replace(RELATIVE_SPECIFIER, (_m, q: string, path: string, ext: string) => `${q}${path}${EXTENSIONS['.' + ext]}${q}`);
  } finally {
    process.emitWarning = emitWarning;
  }
}

function renamed(name: string): string | undefined {
  for (const [from, to] of Object.entries(EXTENSIONS)) if (name.endsWith(from) && !name.endsWith('.d' + from)) return name.slice(0, -from.length) + to;
  return undefined;
}

async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (entry.isDirectory()) await copyTree(source, join(to, entry.name));
    else if (renamed(entry.name)) await writeFile(join(to, renamed(entry.name)!), await strip(await readFile(source, 'utf8')));
    else await copyFile(source, join(to, entry.name));
  }
}

/** Copies `<root>/src` as JS into `<out>/src` (with package.json and a node_modules link); returns the entry's path. */
export async function plainJsFerry(root: string, out: string): Promise<string> {
  await copyTree(join(root, 'src'), join(out, 'src'));
  await copyFile(join(root, 'package.json'), join(out, 'package.json'));
  await symlink(join(root, 'node_modules'), join(out, 'node_modules'), 'dir');
  return join(out, 'src', 'main.js');
}

/** One self-contained .ts file (imports only node: built-ins) as a .mjs file. */
export async function plainJsFile(tsFile: string, outFile: string): Promise<void> {
  await writeFile(outFile, await strip(await readFile(tsFile, 'utf8')));
}
