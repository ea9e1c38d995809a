// How `npm start` runs ferry, read from package.json, so the bench measures exactly that (build step, Node flags, entry).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface StartCommand {
  /** Scripts run before the server, e.g. ["build.mjs"]. */
  steps: string[];
  /** Node flags of the server process, e.g. ["--max-semi-space-size=1"]. */
  nodeFlags: string[];
  /** The server's entry script, relative to the package root. */
  entry: string;
}

/**
 * Parses `node a.mjs && exec node --flag entry serve`: every command is `node <flags> <script> <args>`.
 * Anything else (pipes, env assignments, other programs) is refused rather than guessed at.
 */
export function parseStartScript(script: string): StartCommand {
  const commands = script.split('&&').map((c) => c.trim().split(/\s+/).filter((w) => w !== 'exec'));
  const parsed = commands.map((words) => {
    if (words[0] !== 'node' || /[|;<>$`'"]/.test(words.join(' '))) throw new Error(`npm start: cannot read "${script}": expected "node <flags> <script> ..." commands joined by &&`);
    const at = words.findIndex((w, i) => i > 0 && !w.startsWith('-'));
    if (at < 0) throw new Error(`npm start: no script in "${words.join(' ')}"`);
    return { flags: words.slice(1, at), script: words[at]!, args: words.slice(at + 1) };
  });
  const server = parsed.at(-1)!;
  if (server.args[0] !== 'serve') throw new Error(`npm start: the last command should be "<entry> serve", got "${script}"`);
  return { steps: parsed.slice(0, -1).map((c) => c.script), nodeFlags: server.flags, entry: server.script };
}

export async function readStartCommand(root: string): Promise<StartCommand> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  const start = pkg.scripts?.start;
  if (start === undefined) throw new Error('package.json has no start script');
  return parseStartScript(start);
}

/** Runs the steps before the server (the bundle build) with this Node, as npm would with the package's Node first on PATH. */
export async function runSteps(root: string, steps: string[]): Promise<void> {
  for (const step of steps) await promisify(execFile)(process.execPath, [join(root, step)], { cwd: root, timeout: 120_000 });
}
