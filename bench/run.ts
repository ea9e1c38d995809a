// `npm run bench`: ferry against a plain node:http ceiling with one client and one workload, interleaved; prints a table.
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  MemorySampler, installCleanup, makeTempDir, readCpuMs, readMemory, removeTempDirs, startServerChild, type ProcMemory, type ServerChild,
} from './children.ts';
import { plainJsFerry, plainJsFile } from './plain-js.ts';
import { readStartCommand, runSteps } from './start-script.ts';
import { makeTarget, type Target } from './http-client.ts';
import { median, type DriveStats } from './load.ts';
import { renderTable, ratioOf, verdictOf, writeJson, type Row } from './report.ts';
import { runSdkPhase, type SdkFigures } from './sdk-phase.ts';
import { runFootprintPhase } from './footprint.ts';
import { runReplicationPhase } from './replication.ts';
import type { Credentials } from './sigv4.ts';
import { LARGE_SIZE, SMALL_SIZE, createBucket, fillForList, largeGet, largePut, listAll, smallGet, smallPut, type ListRun } from './workloads.ts';

const HELP = `usage: node bench/run.ts [--quick] [--json <file>] [--only main|footprint|replication] [--ferry-flags="<node flags>"] [--source | --plain-js | --ferry-entry <file>]

Runs the same workload against ferry and a plain node:http server (the ceiling) and prints
ferry's ratio to it. Exit 0 even when a target is missed; non-zero only on a crash.
By default ferry runs as \`npm start\` runs it (read from package.json): the bundle is built, then
started with the same Node flags.
  --quick        ~30 s smoke run (1 repetition, shorter phases, 1,000 keys to list)
  --json <file>  also write every figure (each repetition) as JSON
  --only <phase> run one phase alone: main (ferry against the ceiling, ListObjectsV2, SDK), footprint
                 (the single executables, as built by npm run build) or replication
  --ferry-flags  Node flags for the ferry process, instead of npm start's (with '=', as they start
                 with a dash; --ferry-flags= for none), e.g. --ferry-flags="--max-semi-space-size=2"
  --source       run ferry from src/main.ts (Node strips the types; its loader is in every memory figure)
  --plain-js     run ferry from a plain-JS copy of src/ (unbundled, no .ts loader)
  --ferry-entry  run ferry from this script instead (e.g. another bundle)`;

interface Plan {
  reps: number;
  smallMs: number;
  smallWarmMs: number;
  largeRounds: number;
  largeWarmRounds: number;
  listKeys: number;
  listReps: number;
  listPageSize: number;
  settleMs: number;
  sdkSmallMs: number;
  sdkLargeRounds: number;
}

const FULL: Plan = { reps: 3, smallMs: 3000, smallWarmMs: 500, largeRounds: 3, largeWarmRounds: 1, listKeys: 10_000, listReps: 5, listPageSize: 1000, settleMs: 2000, sdkSmallMs: 2000, sdkLargeRounds: 2 };
const QUICK: Plan = { reps: 1, smallMs: 1000, smallWarmMs: 250, largeRounds: 1, largeWarmRounds: 0, listKeys: 1000, listReps: 2, listPageSize: 100, settleMs: 1000, sdkSmallMs: 500, sdkLargeRounds: 1 };

const PHASES = ['put-4k', 'get-4k', 'put-64m', 'get-64m'] as const;
type Phase = (typeof PHASES)[number];
type SideName = 'baseline' | 'ferry';

interface Side {
  name: SideName;
  server: ServerChild;
  target: Target;
  /** Keys the current repetition's 4 KiB PUT wrote, read back by its GET. */
  smallKeys: number;
}

interface Measured {
  stats: DriveStats;
  /** Server CPU time (user + system) during the measured part. */
  cpuMs: number;
  peakKiB: { vmRss: number; rssAnon: number };
}

const ROOT = new URL('../', import.meta.url).pathname;
const BASELINE_TS = join(ROOT, 'bench/baseline-server.ts');
const BUCKET = 'bench';
const MB = 1e6;
const kib = (k: number) => (k * 1024) / MB;
/** Set before the planned stop, so an exit before it is reported as a crash. */
let stopping = false;
const started: ServerChild[] = [];

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

interface ServerOptions {
  /** ferry's entry script: src/main.ts, its plain-JS copy, or a bundle. */
  ferryEntry: string;
  ferryFlags: string[];
}

function ferryEnv(creds: Credentials): Record<string, string> {
  const env: Record<string, string> = { FERRY_ROOT_ACCESS_KEY: creds.accessKeyId, FERRY_ROOT_SECRET_KEY: creds.secretAccessKey, FERRY_REGION: creds.region };
  // To measure another I/O thread count than ferry's default (src/pool-size.ts).
  if (process.env.UV_THREADPOOL_SIZE !== undefined) env.UV_THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE;
  return env;
}

function ferryArgs(o: ServerOptions, dataDir: string): string[] {
  return [...o.ferryFlags, o.ferryEntry, 'serve', '--data-dir', dataDir, '--address', '127.0.0.1:0'];
}

async function startServers(dir: string, creds: Credentials, o: ServerOptions): Promise<{ ferry: ServerChild; baseline: ServerChild }> {
  // The ceiling runs as plain JS: Node's .ts loader is a cost of running from source, not of Node.
  const baselineJs = join(dir, 'baseline-server.mjs');
  await plainJsFile(BASELINE_TS, baselineJs);
  const [ferry, baseline] = await Promise.all([
    startServerChild('ferry', ferryArgs(o, join(dir, 'ferry')), ferryEnv(creds)),
    startServerChild('baseline', [baselineJs, join(dir, 'baseline')], {}),
  ]);
  for (const s of [ferry, baseline]) {
    s.child.once('exit', (code, signal) => {
      if (!stopping) progress(`${s.name} exited unexpectedly (${code ?? signal}):\n${s.output().slice(-2000)}`);
    });
  }
  started.push(ferry, baseline);
  return { ferry, baseline };
}

/** Idle memory of ferry from a plain-JS copy of src/: ferry without the .ts loader, as a bundle runs. */
async function idlePlainJs(dir: string, creds: Credentials, o: ServerOptions, settleMs: number): Promise<ProcMemory> {
  const entry = await plainJsFerry(ROOT, join(dir, 'plain-js'));
  const probe = await startServerChild('ferry-plain-js', ferryArgs({ ...o, ferryEntry: entry }, join(dir, 'ferry-plain-js')), ferryEnv(creds));
  try {
    await sleep(settleMs);
    return await readMemory(probe.pid);
  } finally {
    await probe.stop();
  }
}

async function runPhase(phase: Phase, side: Side, rep: number, plan: Plan, bodies: { small: Buffer; large: Buffer }, sampler: MemorySampler): Promise<Measured> {
  const t = side.target;
  const measure = async (run: () => Promise<DriveStats>): Promise<Measured> => {
    await sampler.sample();
    sampler.take(side.server.pid);
    const cpu0 = await readCpuMs(side.server.pid);
    const stats = await run();
    const cpuMs = (await readCpuMs(side.server.pid)) - cpu0;
    await sampler.sample();
    return { stats, cpuMs, peakKiB: sampler.take(side.server.pid) };
  };
  switch (phase) {
    case 'put-4k': {
      await smallPut(t, BUCKET, `w${rep}`, bodies.small, plan.smallWarmMs);
      const m = await measure(() => smallPut(t, BUCKET, `s${rep}`, bodies.small, plan.smallMs));
      side.smallKeys = m.stats.ops;
      return m;
    }
    case 'get-4k':
      await smallGet(t, BUCKET, `s${rep}`, side.smallKeys, plan.smallWarmMs);
      return measure(() => smallGet(t, BUCKET, `s${rep}`, side.smallKeys, plan.smallMs));
    case 'put-64m':
      if (plan.largeWarmRounds > 0) await largePut(t, BUCKET, bodies.large, plan.largeWarmRounds);
      return measure(() => largePut(t, BUCKET, bodies.large, plan.largeRounds));
    case 'get-64m':
      if (plan.largeWarmRounds > 0) await largeGet(t, BUCKET, plan.largeWarmRounds);
      return measure(() => largeGet(t, BUCKET, plan.largeRounds));
  }
}

function describe(phase: Phase, m: Measured): string {
  const s = m.stats;
  const tput = phase.endsWith('4k') ? `${s.opsPerSec.toFixed(0)} ops/s, p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms` : `${s.mibPerSec.toFixed(0)} MiB/s`;
  return `${tput}, server CPU ${(m.cpuMs / s.ops).toFixed(phase.endsWith('4k') ? 3 : 0)} ms/op`;
}

function parseCommandLine() {
  try {
    return parseArgs({
      options: {
        quick: { type: 'boolean' },
        json: { type: 'string' },
        only: { type: 'string' },
        'ferry-flags': { type: 'string' },
        'ferry-entry': { type: 'string' },
        source: { type: 'boolean' },
        'plain-js': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
}

async function main(): Promise<number> {
  const values = parseCommandLine();
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const plan = values.quick ? QUICK : FULL;
  if ([values.source, values['plain-js'], values['ferry-entry'] !== undefined].filter(Boolean).length > 1) {
    throw new Error('--source, --plain-js and --ferry-entry exclude each other');
  }
  const start = await readStartCommand(ROOT);
  const ferryFlags = values['ferry-flags'] === undefined ? start.nodeFlags : values['ferry-flags'].split(/\s+/).filter(Boolean);
  installCleanup();
  if (values.only !== undefined && values.only !== 'main') return runOnly(values.only, values.quick === true, ferryFlags, values.json);

  const loadStart = loadavg();
  const creds: Credentials = { accessKeyId: 'FERRYBENCHACCESSKEY', secretAccessKey: randomBytes(24).toString('base64url'), region: 'us-east-1' };
  const bodies = { small: randomBytes(SMALL_SIZE), large: randomBytes(LARGE_SIZE) };
  const dir = await makeTempDir('ferry-bench-');
  let ferryEntry: string;
  if (values['plain-js']) ferryEntry = await plainJsFerry(ROOT, join(dir, 'plain-js-main'));
  else if (values.source) ferryEntry = join(ROOT, 'src/main.ts');
  else if (values['ferry-entry'] !== undefined) ferryEntry = resolve(values['ferry-entry']);
  else {
    progress(`building as npm start does: ${start.steps.join(', ')}`);
    await runSteps(ROOT, start.steps);
    ferryEntry = join(ROOT, start.entry);
  }
  const fromSource = /\.[cm]?ts$/.test(ferryEntry);
  progress(`${values.quick ? 'quick' : 'full'} run, node ${process.version}, data under ${dir}`);

  const servers = await startServers(dir, creds, { ferryEntry, ferryFlags });
  // From source, also measure ferry's idle memory without the .ts loader (its cost grows with the number of files).
  const [idleJs] = await Promise.all([fromSource ? idlePlainJs(dir, creds, { ferryEntry, ferryFlags }, plan.settleMs) : undefined, sleep(plan.settleMs)]);
  const idle: Record<SideName, ProcMemory> = { ferry: await readMemory(servers.ferry.pid), baseline: await readMemory(servers.baseline.pid) };
  progress(`idle RssAnon: ferry ${kib(idle.ferry.rssAnon).toFixed(1)} MB, baseline ${kib(idle.baseline.rssAnon).toFixed(1)} MB`);

  const sides: Record<SideName, Side> = {
    ferry: { name: 'ferry', server: servers.ferry, target: makeTarget('ferry', servers.ferry.port, creds), smallKeys: 0 },
    baseline: { name: 'baseline', server: servers.baseline, target: makeTarget('baseline', servers.baseline.port), smallKeys: 0 },
  };
  for (const s of Object.values(sides)) await createBucket(s.target, BUCKET);

  const sampler = new MemorySampler([servers.ferry.pid, servers.baseline.pid]);
  const runs = Object.fromEntries(PHASES.map((p) => [p, { baseline: [] as Measured[], ferry: [] as Measured[] }])) as Record<Phase, Record<SideName, Measured[]>>;
  for (let rep = 0; rep < plan.reps; rep++) {
    for (const [p, phase] of PHASES.entries()) {
      // Alternate who goes first (A B, B A, ...): a noisy neighbour then hits both sides alike.
      const order: SideName[] = (rep + p) % 2 === 0 ? ['baseline', 'ferry'] : ['ferry', 'baseline'];
      for (const name of order) {
        const m = await runPhase(phase, sides[name], rep, plan, bodies, sampler);
        runs[phase][name].push(m);
        progress(`rep ${rep + 1}/${plan.reps} ${phase} ${name}: ${describe(phase, m)}`);
        await sleep(300);
      }
    }
  }
  const peak: Record<SideName, ProcMemory> = { ferry: await readMemory(servers.ferry.pid), baseline: await readMemory(servers.baseline.pid) };

  // ListObjectsV2: ferry only, the baseline keeps no key index to list.
  const ferryT = sides.ferry.target;
  await createBucket(ferryT, 'bench-list');
  progress(`filling bench-list with ${plan.listKeys} empty objects`);
  const fill = await fillForList(ferryT, 'bench-list', plan.listKeys);
  await listAll(ferryT, 'bench-list', plan.listPageSize);
  const lists: ListRun[] = [];
  for (let i = 0; i < plan.listReps; i++) {
    const l = await listAll(ferryT, 'bench-list', plan.listPageSize);
    if (l.keys !== plan.listKeys) throw new Error(`ListObjectsV2 returned ${l.keys} keys, expected ${plan.listKeys}`);
    lists.push(l);
  }
  progress(`list ${plan.listKeys} keys in ${lists[0]!.pages} pages: median ${median(lists.map((l) => l.seconds)).toFixed(3)} s`);

  progress('@aws-sdk/client-s3 phase against ferry');
  const sdk: SdkFigures = await runSdkPhase({
    endpoint: `http://127.0.0.1:${servers.ferry.port}`,
    creds,
    bucket: 'bench-sdk',
    smallBody: bodies.small,
    largeBody: bodies.large,
    smallMs: plan.sdkSmallMs,
    largeRounds: plan.sdkLargeRounds,
  });
  sampler.stop();
  for (const s of Object.values(sides)) s.target.agent.destroy();
  await sleep(plan.settleMs);
  const after: Record<SideName, ProcMemory> = { ferry: await readMemory(servers.ferry.pid), baseline: await readMemory(servers.baseline.pid) };

  stopping = true;
  await Promise.all([servers.ferry.stop(), servers.baseline.stop()]);
  await removeTempDirs();

  const rows = buildRows(plan, runs, idle, peak, after, fill, lists, sdk, idleJs);
  const loadEnd = loadavg();
  console.log(`ferry benchmark (${values.quick ? 'QUICK smoke run' : 'full run'}), ${new Date().toISOString()}, node ${process.version}, ${cpus().length} CPUs`);
  console.log(`load average at start ${loadStart.map((l) => l.toFixed(2)).join(' ')}, at end ${loadEnd.map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`medians of ${plan.reps} interleaved repetition(s); ferry requests are SigV4-signed with x-amz-content-sha256: UNSIGNED-PAYLOAD`);
  console.log('(no body hashing on either side); the baseline gets the identical requests unsigned. MB = 10^6 bytes.');
  const shownEntry = values['plain-js'] ? 'src/ (plain-JS copy)' : relative(ROOT, ferryEntry);
  const asStart = !values.source && !values['plain-js'] && values['ferry-entry'] === undefined && values['ferry-flags'] === undefined;
  console.log(`ferry ran as: node ${[...ferryFlags, shownEntry].join(' ')} serve${asStart ? ' (as npm start runs it)' : ''}; the baseline as plain JS (no type stripping)`);
  console.log(renderTable(rows));
  const everything = values.only === undefined;
  // The single executables, if built (npm run build): sizes, start-up, memory of the binary itself.
  const footprint = everything ? await runFootprintPhase({ quick: values.quick === true, creds, progress }) : [];
  if (footprint.length > 0) console.log(renderTable(footprint));
  // Replication to a local upstream ferry next to a plain SDK copy of the same objects (target >= 0.8x).
  let replication: Row[] = [];
  if (everything) {
    progress('replication: edge ferry -> upstream ferry vs a plain SDK copy');
    replication = await runReplicationPhase({
      smallCount: values.quick ? 100 : 400,
      largeCount: values.quick ? 2 : 4,
      reps: values.quick ? 1 : 2,
      ferryArgs: [...ferryFlags, ferryEntry, 'serve'],
    });
    console.log(renderTable(replication));
  }
  await removeTempDirs();
  if (idleJs) {
    const loader = kib(idle.ferry.rssAnon - idleJs.rssAnon).toFixed(1);
    console.log(`\nferry ran from .ts source: Node's type stripper holds ~${loader} MB of its RssAnon (the two idle rows differ by that),`);
    console.log('and it is inside every other ferry memory figure. --plain-js runs every phase without it.');
  }

  if (values.json) {
    await writeJson(values.json, {
      generated: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      loadavg: { start: loadStart, end: loadEnd },
      mode: values.quick ? 'quick' : 'full',
      plan,
      ferryFlags,
      ferryEntry,
      payloadSigning: 'UNSIGNED-PAYLOAD',
      rows: [...rows, ...footprint, ...replication].map((r) => ({ ...r, ratio: ratioOf(r), verdict: verdictOf(r) })),
      runs,
      memoryKiB: { idle, peak, afterLoad: after, ...(idleJs ? { ferryPlainJsIdle: idleJs } : {}) },
      list: { keys: plan.listKeys, pageSize: plan.listPageSize, fill, runs: lists },
      sdk,
    });
    console.log(`\nfigures written to ${values.json}`);
  }
  return 0;
}

/** `--only <phase>`: one phase against ferry as npm start runs it (the footprint phase runs the built binaries). */
async function runOnly(only: string, quick: boolean, ferryFlags: string[], json: string | undefined): Promise<number> {
  const creds: Credentials = { accessKeyId: 'FERRYBENCHACCESSKEY', secretAccessKey: randomBytes(24).toString('base64url'), region: 'us-east-1' };
  let rows: Row[];
  if (only === 'footprint') {
    rows = await runFootprintPhase({ quick, creds, progress });
  } else if (only === 'replication') {
    const start = await readStartCommand(ROOT);
    await runSteps(ROOT, start.steps);
    rows = await runReplicationPhase({ smallCount: quick ? 100 : 400, largeCount: quick ? 2 : 4, reps: quick ? 1 : 2, ferryArgs: [...ferryFlags, join(ROOT, start.entry), 'serve'] });
  } else {
    console.error(`--only ${only}: expected main, footprint or replication\n\n${HELP}`);
    return 2;
  }
  await removeTempDirs();
  console.log(`ferry benchmark, ${only} phase only (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}, ${cpus().length} CPUs, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (rows.length > 0) console.log(renderTable(rows));
  if (json !== undefined) {
    await writeJson(json, { generated: new Date().toISOString(), node: process.version, only, mode: quick ? 'quick' : 'full', rows: rows.map((r) => ({ ...r, ratio: ratioOf(r), verdict: verdictOf(r) })) });
    console.log(`\nfigures written to ${json}`);
  }
  return 0;
}

function buildRows(
  plan: Plan,
  runs: Record<Phase, Record<SideName, Measured[]>>,
  idle: Record<SideName, ProcMemory>,
  peak: Record<SideName, ProcMemory>,
  after: Record<SideName, ProcMemory>,
  fill: DriveStats,
  lists: ListRun[],
  sdk: SdkFigures,
  idleJs: ProcMemory | undefined,
): Row[] {
  const med = (phase: Phase, side: SideName, f: (m: Measured) => number) => median(runs[phase][side].map(f));
  const both = (phase: Phase, f: (m: Measured) => number) => ({
    baseline: med(phase, 'baseline', f),
    ferry: med(phase, 'ferry', f),
    repRatios: runs[phase].ferry.map((m, i) => f(m) / f(runs[phase].baseline[i]!)),
  });
  const peakOf = (side: SideName, f: (m: Measured) => number) => Math.max(...PHASES.flatMap((p) => runs[p][side].map(f)));
  const largePeak = (side: SideName, f: (m: Measured) => number) => Math.max(...(['put-64m', 'get-64m'] as const).flatMap((p) => runs[p][side].map(f)));
  const data = 'Data path: ferry vs the node:http ceiling (same client, same requests)';
  const cpu = 'Server CPU per request (info; steadier than throughput on a shared machine)';
  const list = `ListObjectsV2, ferry only (no meaningful ceiling): ${plan.listKeys.toLocaleString('en-US')} keys in pages of ${plan.listPageSize}`;
  const mem = 'Server memory, /proc/<pid>/status (RssAnon = heap + malloc; the rest of RSS is the runtime\'s shared, reclaimable pages)';
  const sdkSec = 'AWS SDK v3 against ferry (info: default checksums = aws-chunked body + CRC32 trailer); baseline column = raw client on the ceiling';
  const listSeconds = median(lists.map((l) => l.seconds));
  return [
    { section: data, phase: 'PUT 4 KiB, c=16', unit: 'ops/s', ...both('put-4k', (m) => m.stats.opsPerSec), goal: { kind: 'ratio-at-least', value: 0.6 }, digits: 0 },
    { section: data, phase: 'PUT 4 KiB p50', unit: 'ms', ...both('put-4k', (m) => m.stats.p50Ms), digits: 2 },
    { section: data, phase: 'PUT 4 KiB p99', unit: 'ms', ...both('put-4k', (m) => m.stats.p99Ms), digits: 2 },
    { section: data, phase: 'GET 4 KiB, c=16', unit: 'ops/s', ...both('get-4k', (m) => m.stats.opsPerSec), goal: { kind: 'ratio-at-least', value: 0.6 }, digits: 0 },
    { section: data, phase: 'GET 4 KiB p50', unit: 'ms', ...both('get-4k', (m) => m.stats.p50Ms), digits: 2 },
    { section: data, phase: 'GET 4 KiB p99', unit: 'ms', ...both('get-4k', (m) => m.stats.p99Ms), digits: 2 },
    { section: data, phase: 'PUT 64 MiB, c=4', unit: 'MiB/s', ...both('put-64m', (m) => m.stats.mibPerSec), goal: { kind: 'ratio-at-least', value: 0.9 }, digits: 0 },
    { section: data, phase: 'GET 64 MiB, c=4', unit: 'MiB/s', ...both('get-64m', (m) => m.stats.mibPerSec), goal: { kind: 'ratio-at-least', value: 0.9 }, digits: 0 },
    { section: cpu, phase: 'PUT 4 KiB', unit: 'CPU us/op', ...both('put-4k', (m) => (m.cpuMs * 1000) / m.stats.ops), digits: 0 },
    { section: cpu, phase: 'GET 4 KiB', unit: 'CPU us/op', ...both('get-4k', (m) => (m.cpuMs * 1000) / m.stats.ops), digits: 0 },
    { section: cpu, phase: 'PUT 64 MiB', unit: 'CPU ms/op', ...both('put-64m', (m) => m.cpuMs / m.stats.ops), digits: 0 },
    { section: cpu, phase: 'GET 64 MiB', unit: 'CPU ms/op', ...both('get-64m', (m) => m.cpuMs / m.stats.ops), digits: 0 },
    { section: list, phase: 'list all keys', unit: 's', ferry: listSeconds, digits: 3 },
    { section: list, phase: 'list rate', unit: 'keys/s', ferry: plan.listKeys / listSeconds, digits: 0 },
    { section: list, phase: 'fill: PUT empty objects, c=16', unit: 'ops/s', ferry: fill.opsPerSec, digits: 0 },
    { section: mem, phase: 'idle VmRSS', unit: 'MB', baseline: kib(idle.baseline.vmRss), ferry: kib(idle.ferry.vmRss), digits: 1 },
    { section: mem, phase: 'idle RssFile', unit: 'MB', baseline: kib(idle.baseline.rssFile), ferry: kib(idle.ferry.rssFile), digits: 1 },
    { section: mem, phase: `idle RssAnon${idleJs ? ', ferry from .ts source' : ''}`, unit: 'MB', baseline: kib(idle.baseline.rssAnon), ferry: kib(idle.ferry.rssAnon), goal: { kind: 'at-most', value: 20 }, digits: 1 },
    ...(idleJs === undefined
      ? []
      : [
          // The product runs bundled JS: this row, not the one above, is what a deployment sees.
          { section: mem, phase: 'idle RssAnon, ferry as plain JS (no .ts loader)', unit: 'MB', baseline: kib(idle.baseline.rssAnon), ferry: kib(idleJs.rssAnon), goal: { kind: 'at-most', value: 20 }, digits: 1 } satisfies Row,
          { section: mem, phase: 'idle VmRSS, ferry as plain JS', unit: 'MB', baseline: kib(idle.baseline.vmRss), ferry: kib(idleJs.vmRss), digits: 1 } satisfies Row,
        ]),
    { section: mem, phase: 'peak VmHWM after the 64 MiB phases', unit: 'MB', baseline: kib(peak.baseline.vmHwm), ferry: kib(peak.ferry.vmHwm), goal: { kind: 'at-most', value: 150 }, digits: 1 },
    { section: mem, phase: 'peak VmRSS in 64 MiB phases, sampled', unit: 'MB', baseline: kib(largePeak('baseline', (m) => m.peakKiB.vmRss)), ferry: kib(largePeak('ferry', (m) => m.peakKiB.vmRss)), digits: 1 },
    { section: mem, phase: 'peak RssAnon in data phases, sampled', unit: 'MB', baseline: kib(peakOf('baseline', (m) => m.peakKiB.rssAnon)), ferry: kib(peakOf('ferry', (m) => m.peakKiB.rssAnon)), digits: 1 },
    { section: mem, phase: 'RssAnon idle after the whole run', unit: 'MB', baseline: kib(after.baseline.rssAnon), ferry: kib(after.ferry.rssAnon), digits: 1 },
    { section: mem, phase: 'VmHWM at the end (incl. list + SDK)', unit: 'MB', baseline: kib(after.baseline.vmHwm), ferry: kib(after.ferry.vmHwm), digits: 1 },
    { section: sdkSec, phase: 'SDK PUT 4 KiB, c=16', unit: 'ops/s', baseline: med('put-4k', 'baseline', (m) => m.stats.opsPerSec), ferry: sdk.smallPut.opsPerSec, digits: 0 },
    { section: sdkSec, phase: 'SDK PUT 4 KiB p99', unit: 'ms', baseline: med('put-4k', 'baseline', (m) => m.stats.p99Ms), ferry: sdk.smallPut.p99Ms, digits: 2 },
    { section: sdkSec, phase: 'SDK GET 4 KiB, c=16', unit: 'ops/s', baseline: med('get-4k', 'baseline', (m) => m.stats.opsPerSec), ferry: sdk.smallGet.opsPerSec, digits: 0 },
    { section: sdkSec, phase: 'SDK GET 4 KiB p99', unit: 'ms', baseline: med('get-4k', 'baseline', (m) => m.stats.p99Ms), ferry: sdk.smallGet.p99Ms, digits: 2 },
    { section: sdkSec, phase: 'SDK PUT 64 MiB, c=4', unit: 'MiB/s', baseline: med('put-64m', 'baseline', (m) => m.stats.mibPerSec), ferry: sdk.largePut.mibPerSec, digits: 0 },
    { section: sdkSec, phase: 'SDK GET 64 MiB, c=4', unit: 'MiB/s', baseline: med('get-64m', 'baseline', (m) => m.stats.mibPerSec), ferry: sdk.largeGet.mibPerSec, digits: 0 },
  ];
}

try {
  process.exitCode = await main();
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
  for (const s of started) console.error(`--- last output of ${s.name}:\n${s.output().slice(-3000)}`);
  // The children's pipes would keep the loop alive: exit now; the 'exit' hook kills them and removes the temp dirs.
  process.exit(1);
}
