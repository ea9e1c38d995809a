#!/usr/bin/env node
// ferry's command line: wiring only, each command lives in src/cli/.
// First: it must run before anything uses libuv's thread pool.
import './pool-size.ts';
import { Command } from 'commander';
import { registerServe } from './cli/serve.ts';
import { COMMIT, VERSION } from './version.ts';

async function main(): Promise<void> {
  const program = new Command();
  program
    .name('ferry')
    .description('Edge-first S3-compatible object store that ferries its buckets upstream')
    .version(`ferry ${VERSION} (node ${process.version}, ${process.platform}-${process.arch}, commit ${COMMIT})`, '-V, --version');
  registerServe(program);
  // The other commands are never needed by a running server: loaded only for any other command line (help
  // included), they cost `ferry serve` nothing. In the bundle an import() is evaluated on first use: 0.3 MB less
  // idle RssAnon measured (bench/footprint.ts).
  const command = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
  if (command !== 'serve') {
    const [{ registerInstall }, { registerReplication }] = await Promise.all([import('./cli/install.ts'), import('./cli/replication.ts')]);
    registerInstall(program);
    registerReplication(program);
  }
  await program.parseAsync(process.argv);
}

// No top-level await: the shipped bundle is CommonJS. Errors still end the process with a stack and exit code 1.
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
