#!/usr/bin/env node
// ferry's command line: wiring only, each command lives in src/cli/.
import { Command } from 'commander';
import { registerInstall } from './cli/install.ts';
import { registerReplication } from './cli/replication.ts';
import { registerServe } from './cli/serve.ts';
import { COMMIT, VERSION } from './version.ts';

const program = new Command();
program
  .name('ferry')
  .description('Edge-first S3-compatible object store that ferries its buckets upstream')
  .version(`ferry ${VERSION} (node ${process.version}, ${process.platform}-${process.arch}, commit ${COMMIT})`, '-V, --version');
registerServe(program);
registerInstall(program);
registerReplication(program);
// No top-level await: the shipped bundle is CommonJS. Errors still end the process with a stack and exit code 1.
program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
