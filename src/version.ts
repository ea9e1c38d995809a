// ferry's version, read from package.json at bundle or run time.
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
