// The footprint phase of `npm run bench`: size of each single executable, exec-to-first-S3-reply time, idle and peak memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemorySampler, makeTempDir, readCpuMs, readMemory, type ProcMemory } from './children.ts';
import { makeTarget, send } from './http-client.ts';
import { median, type DriveStats } from './load.ts';
import type { Row } from './report.ts';
import type { Credentials } from './sigv4.ts';
import { LARGE_SIZE, SMALL_SIZE, createBucket, largeGet, largePut, smallGet, smallPut } from './workloads.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const MB = 1e6;
const QEMU_LD_PREFIX = '/usr/aarch64-linux-gnu';
const SECTION = 'footprint of the single executables (dist/ferry-linux-*)';

export interface FootprintOptions {
  quick: boolean;
  creds: Credentials;
  progress(line: string): void;
}

interface Running {
  child: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** `xz -6` size, cached beside the binary by its size and mtime: compressing 100 MB takes most of a minute. */
async function xzSize(file: string): Promise<number> {
  const st = await stat(file);
  const cache = join(ROOT, 'dist/sea', `${file.split('/').pop()}.xz-size.json`);
  const key = `${st.size}:${st.mtimeMs}`;
  const cached = await readFile(cache, 'utf8').then((t) => JSON.parse(t) as { key: string; bytes: number }, () => undefined);
  if (cached?.key === key) return cached.bytes;
  const xz = spawn('xz', ['-6', '-T1', '-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let bytes = 0;
  xz.stdout.on('data', (d: Buffer) => (bytes += d.length));
  createReadStream(file).pipe(xz.stdin);
  const code = await new Promise<number | null>((resolve) => xz.once('exit', resolve));
  if (code !== 0) throw new Error(`xz exited ${code} on ${file}`);
  await writeFile(cache, JSON.stringify({ key, bytes }));
  return bytes;
}

/**
 * A fresh copy of the binary in `dir`, as a user's download would be. Its RssFile depends on the file's page
 * cache: run in place after xz has read all of dist/ferry-linux-x64, it measured 64 MB instead of 49 (the kernel
 * maps whole cached folios around each fault).
 */
async function install(arch: 'x64' | 'arm64', dir: string): Promise<void> {
  await copyFile(join(ROOT, `dist/ferry-linux-${arch}`), join(dir, 'ferry'));
}

/** Execs the copied binary (arm64 through qemu) with a clean environment and the addon cache in `dir`. */
function exec(arch: 'x64' | 'arm64', dir: string, port: number, creds: Credentials, extraEnv: Record<string, string> = {}): Running {
  const binary = join(dir, 'ferry');
  const [cmd, ...args] = arch === 'x64' ? [binary] : ['qemu-aarch64-static', binary];
  const child = spawn(cmd!, [...args, 'serve'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'ignore'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      FERRY_CACHE_DIR: join(dir, 'cache'),
      FERRY_DATA_DIR: join(dir, 'data'),
      FERRY_ADDRESS: `127.0.0.1:${port}`,
      FERRY_ROOT_ACCESS_KEY: creds.accessKeyId,
      FERRY_ROOT_SECRET_KEY: creds.secretAccessKey,
      FERRY_REGION: creds.region,
      ...(arch === 'arm64' ? { QEMU_LD_PREFIX } : {}),
      ...extraEnv,
    },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Milliseconds from exec to the first 200 to a signed ListBuckets, polling every 2 ms. */
async function timeToFirstReply(
  arch: 'x64' | 'arm64',
  dir: string,
  creds: Credentials,
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<{ ms: number; running: Running; port: number }> {
  const port = await freePort();
  const target = makeTarget(`ferry-${arch}`, port, creds);
  const t0 = performance.now();
  const running = exec(arch, dir, port, creds, env);
  try {
    for (;;) {
      if (running.child.exitCode !== null) throw new Error(`ferry-linux-${arch} exited (${running.child.exitCode}) before answering`);
      if (performance.now() - t0 > timeoutMs) throw new Error(`ferry-linux-${arch} did not answer within ${timeoutMs} ms`);
      const ok = await send(target, 'GET', '/', { timeoutMs: 1000 }).then((r) => r.status === 200, () => false);
      if (ok) return { ms: performance.now() - t0, running, port };
      await sleep(2);
    }
  } catch (err) {
    await running.stop();
    throw err;
  } finally {
    target.agent.destroy();
  }
}

async function present(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

export interface MemoryRun {
  /** After start, a first request and a settle time. */
  idle: ProcMemory;
  /** After the load: its vmHwm is the peak. */
  end: ProcMemory;
  /** Highest RssAnon sampled every 50 ms during the load, in KiB. */
  sampledRssAnon: number;
  /** Throughput and server CPU (ms, all threads) of each part of the load. */
  load: Record<'smallPut' | 'smallGet' | 'largePut' | 'largeGet', { stats: DriveStats; cpuMs: number }>;
}

/**
 * One fresh start of `binary` (copied to a temp dir, first start unpacks the addon), its idle memory, then the main
 * benchmark's load (4 KiB PUT/GET at c=16, then 64 MiB PUT/GET at c=4) and its peak. `env` adds variables (e.g.
 * NODE_OPTIONS) to the clean environment.
 */
export async function memoryRun(binary: string, creds: Credentials, quick: boolean, env: Record<string, string> = {}): Promise<MemoryRun> {
  const dir = await makeTempDir('ferry-footprint-mem-');
  await copyFile(binary, join(dir, 'ferry'));
  await chmod(join(dir, 'ferry'), 0o755);
  await (await timeToFirstReply('x64', dir, creds, 30_000, env)).running.stop();
  const { running, port } = await timeToFirstReply('x64', dir, creds, 30_000, env);
  const target = makeTarget('ferry-x64', port, creds);
  const sampler = new MemorySampler([running.pid], 50);
  try {
    await sleep(quick ? 1000 : 2000);
    const idle = await readMemory(running.pid);
    await createBucket(target, 'footprint');
    const timed = async (run: () => Promise<DriveStats>) => {
      const cpu0 = await readCpuMs(running.pid);
      const stats = await run();
      return { stats, cpuMs: (await readCpuMs(running.pid)) - cpu0 };
    };
    const small = Buffer.alloc(SMALL_SIZE, 1);
    const smallPutRun = await timed(() => smallPut(target, 'footprint', 's', small, quick ? 1000 : 3000));
    const smallGetRun = await timed(() => smallGet(target, 'footprint', 's', smallPutRun.stats.ops, quick ? 1000 : 3000));
    const largePutRun = await timed(() => largePut(target, 'footprint', Buffer.alloc(LARGE_SIZE, 2), quick ? 1 : 2));
    const largeGetRun = await timed(() => largeGet(target, 'footprint', quick ? 1 : 2));
    await sampler.sample();
    const end = await readMemory(running.pid);
    return {
      idle,
      end,
      sampledRssAnon: sampler.take(running.pid).rssAnon,
      load: { smallPut: smallPutRun, smallGet: smallGetRun, largePut: largePutRun, largeGet: largeGetRun },
    };
  } finally {
    sampler.stop();
    target.agent.destroy();
    await running.stop();
  }
}

/** Rows for the footprint section, or none (with a printed note) when the binaries are not built. */
export async function runFootprintPhase(o: FootprintOptions): Promise<Row[]> {
  const arches = ['x64', 'arm64'] as const;
  const built = await Promise.all(arches.map((a) => present(join(ROOT, `dist/ferry-linux-${a}`))));
  if (!built.every(Boolean)) {
    console.log('\nfootprint: skipped, dist/ferry-linux-x64 and dist/ferry-linux-arm64 are not built (npm run build)');
    return [];
  }
  const rows: Row[] = [];
  for (const arch of arches) {
    const file = join(ROOT, `dist/ferry-linux-${arch}`);
    o.progress(`footprint: xz -6 of dist/ferry-linux-${arch} (cached per build)`);
    const raw = (await stat(file)).size;
    const blob = await stat(join(ROOT, `dist/sea/ferry-linux-${arch}.blob`)).then((s) => s.size, () => NaN);
    rows.push(
      { section: SECTION, phase: `${arch} binary, raw`, unit: 'MB', ferry: raw / MB, digits: 1 },
      { section: SECTION, phase: `${arch} ferry's share (SEA blob: code, addon, SDK chunks)`, unit: 'MB', ferry: blob / MB, goal: { kind: 'at-most', value: 2 }, digits: 2 },
      { section: SECTION, phase: `${arch} binary, xz -6 (download)`, unit: 'MB', ferry: (await xzSize(file)) / MB, goal: { kind: 'at-most', value: 30 }, digits: 1 },
    );
  }

  const dir = await makeTempDir('ferry-footprint-');
  await install('x64', dir);
  // First start unpacks the addon and creates the store: not timed.
  o.progress('footprint: exec to first S3 reply, x64');
  await (await timeToFirstReply('x64', dir, o.creds, 30_000)).running.stop();
  const starts: number[] = [];
  for (let i = 0; i < (o.quick ? 3 : 7); i++) {
    const { ms, running } = await timeToFirstReply('x64', dir, o.creds, 30_000);
    starts.push(ms);
    await running.stop();
  }
  rows.push({ section: SECTION, phase: `x64 exec to first S3 200, median of ${starts.length}`, unit: 'ms', ferry: median(starts), goal: { kind: 'at-most', value: 300 }, digits: 0 });
  if (await present('/usr/bin/qemu-aarch64-static')) {
    o.progress('footprint: exec to first S3 reply, arm64 under qemu');
    const armDir = await makeTempDir('ferry-footprint-arm64-');
    await install('arm64', armDir);
    await (await timeToFirstReply('arm64', armDir, o.creds, 120_000)).running.stop();
    const { ms, running } = await timeToFirstReply('arm64', armDir, o.creds, 120_000);
    await running.stop();
    rows.push({ section: SECTION, phase: 'arm64 exec to first S3 200, under qemu (information)', unit: 'ms', ferry: ms, digits: 0 });
  } else {
    console.log('\nfootprint: arm64 start-up not measured, qemu-aarch64-static is missing');
  }

  const reps = o.quick ? 1 : 3;
  const mem: MemoryRun[] = [];
  for (let i = 0; i < reps; i++) {
    o.progress(`footprint: x64 memory idle and under the benchmark load (${i + 1}/${reps})`);
    mem.push(await memoryRun(join(ROOT, 'dist/ferry-linux-x64'), o.creds, o.quick));
  }
  const mb = (kib: number) => (kib * 1024) / MB;
  const med = (f: (r: MemoryRun) => number) => mb(median(mem.map(f)));
  const of = reps > 1 ? `, median of ${reps}` : '';
  rows.push(
    { section: SECTION, phase: `x64 idle RssAnon${of}`, unit: 'MB', ferry: med((r) => r.idle.rssAnon), goal: { kind: 'at-most', value: 16 }, digits: 1 },
    { section: SECTION, phase: 'x64 idle RssFile (runtime pages: shared, reclaimable)', unit: 'MB', ferry: med((r) => r.idle.rssFile), digits: 1 },
    { section: SECTION, phase: 'x64 idle VmRSS', unit: 'MB', ferry: med((r) => r.idle.vmRss), digits: 1 },
    { section: SECTION, phase: `x64 peak VmHWM under the load${of}`, unit: 'MB', ferry: med((r) => r.end.vmHwm), goal: { kind: 'at-most', value: 120 }, digits: 1 },
    { section: SECTION, phase: 'x64 peak RssAnon under the load, sampled', unit: 'MB', ferry: med((r) => r.sampledRssAnon), digits: 1 },
    { section: SECTION, phase: 'x64 RssFile after the load', unit: 'MB', ferry: med((r) => r.end.rssFile), digits: 1 },
  );
  return rows;
}
