// Loads a lazily imported package's chunk (build.mjs LAZY_PACKAGES): a SEA asset in the single executable, else the file beside the bundle.
const path = require('node:path') as typeof import('node:path');
const sea = require('node:sea') as typeof import('node:sea');
const vm = require('node:vm') as typeof import('node:vm');

const loaded = new Map<string, unknown>();

/**
 * A SEA's require loads built-in modules only, so a chunk is compiled here as CommonJS with a require that maps
 * the other chunks (`./<file>`, e.g. lib-storage's import of client-s3) to their assets and everything else to
 * built-ins (https://nodejs.org/api/single-executable-applications.html#requireid-in-the-injected-main-script-is-not-file-based).
 */
function loadChunk(file: string): unknown {
  const known = loaded.get(file);
  if (known !== undefined) return known;
  if (!sea.isSea()) return require(path.join(__dirname, file));
  const source = sea.getAsset(file, 'utf8');
  const mod = { exports: {} as unknown };
  const chunkRequire = (id: string): unknown => (id.startsWith('./') ? loadChunk(id.slice(2)) : require(id));
  const fn = vm.compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: `sea:${file}` });
  fn(mod.exports, chunkRequire, mod, `sea:${file}`, '.');
  loaded.set(file, mod.exports);
  return mod.exports;
}

module.exports = { loadChunk };
