// ferry's version, read from package.json at bundle or run time, and the git commit build.mjs embeds in bundles.
import pkg from '../package.json' with { type: 'json' };

// Replaced by esbuild's `define` (build.mjs); absent when running from source.
declare const __FERRY_COMMIT__: string | undefined;

export const VERSION: string = pkg.version;
export const COMMIT: string = typeof __FERRY_COMMIT__ === 'string' ? __FERRY_COMMIT__ : 'unknown';
