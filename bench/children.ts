// The servers under test as child processes: start, wait until they listen, read their memory from /proc, always clean up.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ServerChild {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly child: ChildProcess;
  /** The last 64 KiB of its stdout and stderr. */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Figures from /proc/<pid>/status, in KiB as the kernel prints them ("kB"). */
export interface ProcMemory {
  vmRss: number;
  vmHwm: number;
  rssAnon: number;
  rssFile: number;
  rssShmem: number;
}

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
const OUTPUT_CAP = 64 * 1024;

export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Kills children and removes temp dirs synchronously: safe from 'exit' and signal handlers. */
function cleanupNow(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

let installed = false;
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the servers and removing temp dirs`);
      cleanupNow();
      process.exit(130);
    });
  }
}

export async function startServerChild(
  name: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ServerChild> {
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  const append = (d: Buffer) => {
    out += d.toString();
    if (out.length > OUTPUT_CAP) out = out.slice(-OUTPUT_CAP);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => children.delete(child));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not listen within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /listening on [^\s]*:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before listening:\n${out}`));
    });
  });
  if (child.pid === undefined) throw new Error(`${name}: no pid`);
  return {
    name,
    pid: child.pid,
    port,
    child,
    output: () => out,
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function readMemory(pid: number): Promise<ProcMemory> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(m[1]);
  };
  return { vmRss: field('VmRSS'), vmHwm: field('VmHWM'), rssAnon: field('RssAnon'), rssFile: field('RssFile'), rssShmem: field('RssShmem') };
}

/** Samples VmRSS and RssAnon of some processes every `intervalMs`; `take(pid)` returns and resets the maxima. */
export class MemorySampler {
  readonly #max = new Map<number, { vmRss: number; rssAnon: number }>();
  readonly #timer: NodeJS.Timeout;
  #busy = false;

  constructor(pids: number[], intervalMs = 100) {
    for (const pid of pids) this.#max.set(pid, { vmRss: 0, rssAnon: 0 });
    this.#timer = setInterval(() => void this.sample(), intervalMs);
    this.#timer.unref();
  }

  async sample(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (const [pid, max] of this.#max) {
        const m = await readMemory(pid).catch(() => undefined);
        if (!m) continue;
        max.vmRss = Math.max(max.vmRss, m.vmRss);
        max.rssAnon = Math.max(max.rssAnon, m.rssAnon);
      }
    } finally {
      this.#busy = false;
    }
  }

  take(pid: number): { vmRss: number; rssAnon: number } {
    const max = this.#max.get(pid);
    if (!max) throw new Error(`not sampling pid ${pid}`);
    const copy = { ...max };
    max.vmRss = 0;
    max.rssAnon = 0;
    return copy;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** User + system CPU time of a process so far, in ms (utime and stime of /proc/<pid>/stat, in 100 Hz ticks on Linux). */
export async function readCpuMs(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
