// `ferry replication add|list|status|remove|resync`: a client of the running server's admin API (the DB is locked).
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { AdminError, UsageError, adminFetch, resolveAdminTarget } from './admin-client.ts';
import type { AdminTarget } from './admin-client.ts';
import type { TargetStatus } from '../replication/manager.ts';
import type { PublicTarget } from '../replication/targets.ts';

interface CommonOptions {
  server?: string;
  dataDir?: string;
  serverRegion?: string;
  json?: boolean;
}

interface AddOptions extends CommonOptions {
  endpoint?: string;
  targetBucket?: string;
  accessKey?: string;
  secretKeyFile?: string;
  region?: string;
  pathStyle?: boolean;
  prefix?: string;
  mode?: string;
  window?: string;
  bandwidth?: string;
  concurrency?: string;
  multipartThreshold?: string;
  partSize?: string;
}

function adminOpts(opts: CommonOptions): { server?: string; dataDir?: string; region?: string } {
  return {
    ...(opts.server !== undefined ? { server: opts.server } : {}),
    ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
    ...(opts.serverRegion !== undefined ? { region: opts.serverRegion } : {}),
  };
}

function common(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'the running ferry (default http://127.0.0.1:9000, or from FERRY_ADDRESS)')
    .option('-d, --data-dir <dir>', "the server's data dir, to read root-credentials.json (env FERRY_DATA_DIR)")
    .option('--server-region <region>', "the server's region, for signing (env FERRY_REGION, default us-east-1)")
    .option('--json', 'print the raw JSON answer');
}

const CREDENTIALS_HELP = `
Signs with the root credentials: FERRY_ROOT_ACCESS_KEY / FERRY_ROOT_SECRET_KEY, else <data-dir>/root-credentials.json.
Exit codes: 0 done, 1 the server refused or could not be reached, 2 bad arguments or no credentials.`;

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function when(ms: number | undefined): string {
  return ms === undefined ? 'never' : `${new Date(ms).toISOString()} (${duration(Date.now() - ms)} ago)`;
}

function describeTarget(t: PublicTarget): string {
  const extras = [`mode ${t.mode}`, `region ${t.region}`, `concurrency ${t.concurrency}`];
  if (t.prefix) extras.push(`prefix "${t.prefix}"`);
  if (t.pathStyle) extras.push('path-style');
  if (t.bandwidth !== undefined) extras.push(`bandwidth ${bytes(t.bandwidth)}/s`);
  if (t.window !== undefined) {
    const hm = (n: number) => `${String(Math.floor(n / 60)).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}`;
    extras.push(`window ${hm(t.window.start)}-${hm(t.window.end)}`);
  }
  const draining = t.draining === undefined ? '' : `  [draining: bucket deleted ${when(t.draining)}]`;
  return `${t.id}  ${t.bucket} -> ${t.endpoint}/${t.targetBucket} (key ${t.accessKey}; ${extras.join(', ')})${draining}`;
}

/** Runs an action with the shared error handling: exit 2 for usage, 1 for a refused or failed call. */
function action<A extends unknown[]>(run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (err) {
      if (err instanceof UsageError) {
        console.error(`ferry replication: ${err.message}`);
        process.exit(2);
      }
      if (err instanceof AdminError) {
        console.error(`ferry replication: ${err.code === 'Unreachable' ? '' : `${err.code}: `}${err.message}`);
        process.exit(err.code === 'InvalidArgument' || err.code === 'NoSuchBucket' ? 2 : 1);
      }
      throw err;
    }
  };
}

async function readSecret(opts: AddOptions): Promise<string> {
  if (opts.secretKeyFile !== undefined) {
    let text: string;
    try {
      text = await readFile(opts.secretKeyFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--secret-key-file ${opts.secretKeyFile}: ${(err as Error).message}`);
    }
    const secret = text.trim();
    if (secret === '') throw new UsageError(`--secret-key-file ${opts.secretKeyFile} is empty`);
    return secret;
  }
  const fromEnv = process.env.FERRY_TARGET_SECRET_KEY;
  if (fromEnv) return fromEnv;
  throw new UsageError('the target secret key comes from --secret-key-file <path> or env FERRY_TARGET_SECRET_KEY (never from the command line)');
}

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, got "${value}"`);
  return n;
}

async function add(bucket: string, opts: AddOptions): Promise<void> {
  for (const [flag, value] of [['--endpoint', opts.endpoint], ['--target-bucket', opts.targetBucket], ['--access-key', opts.accessKey]] as const) {
    if (value === undefined) throw new UsageError(`${flag} is required`);
  }
  const target = await resolveAdminTarget(adminOpts(opts));
  const body: Record<string, unknown> = {
    endpoint: opts.endpoint,
    targetBucket: opts.targetBucket,
    accessKey: opts.accessKey,
    secretKey: await readSecret(opts),
    pathStyle: opts.pathStyle === true,
  };
  if (opts.region !== undefined) body.region = opts.region;
  if (opts.prefix !== undefined) body.prefix = opts.prefix;
  if (opts.mode !== undefined) body.mode = opts.mode;
  if (opts.window !== undefined) body.window = opts.window;
  if (opts.bandwidth !== undefined) body.bandwidth = opts.bandwidth;
  const numbers = { concurrency: opts.concurrency, multipartThreshold: opts.multipartThreshold, partSize: opts.partSize };
  for (const [name, value] of Object.entries(numbers)) {
    const n = integer(`--${name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`, value);
    if (n !== undefined) body[name] = n;
  }
  const res = await adminFetch(target, 'POST', 'replication', { bucket }, body);
  const answer = (await res.json()) as { target: PublicTarget };
  if (opts.json) console.log(JSON.stringify(answer));
  else console.log(`added ${describeTarget(answer.target)}`);
}

async function list(bucket: string | undefined, opts: CommonOptions): Promise<void> {
  const res = await adminFetch(await resolveAdminTarget(adminOpts(opts)), 'GET', 'replication', { bucket });
  const answer = (await res.json()) as { targets: PublicTarget[] };
  if (opts.json) return console.log(JSON.stringify(answer));
  if (answer.targets.length === 0) return console.log(bucket ? `bucket ${bucket} replicates nowhere` : 'no replication targets');
  for (const t of answer.targets) console.log(describeTarget(t));
}

async function status(bucket: string | undefined, opts: CommonOptions & { target?: string }): Promise<void> {
  const res = await adminFetch(await resolveAdminTarget(adminOpts(opts)), 'GET', 'replication/status', { bucket, target: opts.target });
  const answer = (await res.json()) as { targets: TargetStatus[] };
  if (opts.json) return console.log(JSON.stringify(answer));
  if (answer.targets.length === 0) return console.log(bucket ? `bucket ${bucket} replicates nowhere` : 'no replication targets');
  for (const s of answer.targets) {
    const t = s.target;
    console.log(`${t.bucket} -> ${t.endpoint}/${t.targetBucket}  [${t.id}, ${t.mode}${t.draining === undefined ? '' : ', draining: bucket deleted'}]`);
    console.log(`  link:          ${s.link}${s.window ? `  (window ${s.window}, ${s.windowOpen ? 'open' : 'closed'})` : ''}`);
    console.log(`  queue depth:   ${s.depth} object(s), ${bytes(s.bytesPending)} pending${s.failed > 0 ? `, ${s.failed} failed` : ''}`);
    console.log(`  lag:           ${s.depth === 0 ? 'none' : duration(s.lagMs)}`);
    console.log(`  last success:  ${when(s.lastSuccess)}`);
    console.log(`  last error:    ${s.lastError === undefined ? 'none' : `${s.lastError} at ${when(s.lastErrorAt)}`}`);
  }
}

async function remove(bucket: string, opts: CommonOptions & { target?: string; all?: boolean }): Promise<void> {
  const target = await resolveAdminTarget(adminOpts(opts));
  const res = await adminFetch(target, 'GET', 'replication', { bucket });
  const { targets } = (await res.json()) as { targets: PublicTarget[] };
  const chosen = opts.target !== undefined ? targets.filter((t) => t.id === opts.target) : targets;
  if (chosen.length === 0) throw new UsageError(opts.target ? `bucket ${bucket} has no target ${opts.target}` : `bucket ${bucket} replicates nowhere`);
  if (chosen.length > 1 && !opts.all) {
    throw new UsageError(`bucket ${bucket} has ${chosen.length} targets: name one with --target <id> or pass --all\n${chosen.map(describeTarget).join('\n')}`);
  }
  for (const t of chosen) {
    await adminFetch(target, 'DELETE', `replication/${t.id}`);
    console.log(`removed ${t.id} (${t.bucket} -> ${t.endpoint}/${t.targetBucket})`);
  }
}

/** A bar on a terminal; plain progress lines (at most one per second) otherwise. */
function progressPrinter(): { update(done: number, total: number): void; end(): void } {
  const tty = process.stderr.isTTY === true;
  let lastLine = 0;
  return {
    update(done, total) {
      const pct = total === 0 ? 100 : Math.min(100, Math.floor((done / total) * 100));
      if (tty) {
        const width = 30;
        const filled = Math.round((pct / 100) * width);
        process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% ${done}/${total} objects`);
      } else if (Date.now() - lastLine >= 1000 || done >= total) {
        lastLine = Date.now();
        process.stderr.write(`resync: ${done}/${total} objects scanned (${pct}%)\n`);
      }
    },
    end() {
      if (tty) process.stderr.write('\n');
    },
  };
}

async function resync(bucket: string, opts: CommonOptions & { target?: string }, target?: AdminTarget): Promise<void> {
  const admin = target ?? await resolveAdminTarget(adminOpts(opts));
  const res = await adminFetch(admin, 'POST', 'replication/resync', { bucket, target: opts.target });
  const bar = progressPrinter();
  let total = 0;
  let buffered = '';
  let result: { queued: number; scanned: number } | undefined;
  const decoder = new TextDecoder();
  for await (const chunk of res.body!) {
    buffered += decoder.decode(chunk as Uint8Array, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = JSON.parse(buffered.slice(0, nl)) as { total?: number; scanned?: number; queued?: number; done?: boolean; error?: string };
      buffered = buffered.slice(nl + 1);
      if (line.error !== undefined) {
        bar.end();
        throw new AdminError(500, 'ResyncFailed', line.error);
      }
      if (line.total !== undefined) total = line.total;
      if (line.scanned !== undefined) bar.update(line.scanned, Math.max(total, line.scanned));
      if (line.done) result = { queued: line.queued ?? 0, scanned: line.scanned ?? 0 };
    }
  }
  bar.end();
  if (result === undefined) throw new AdminError(500, 'ResyncFailed', 'the server closed the progress stream before the end');
  if (opts.json) console.log(JSON.stringify(result));
  else console.log(`resync of ${bucket}: ${result.scanned} objects scanned, ${result.queued} replication tasks queued`);
}

export function registerReplication(program: Command): void {
  const replication = program
    .command('replication')
    .description('replicate buckets to upstream S3 endpoints (talks to the running server)')
    .addHelpText('after', CREDENTIALS_HELP);

  common(replication.command('add <bucket>'))
    .description('replicate <bucket> to a bucket of an upstream S3 endpoint')
    .option('--endpoint <url>', 'upstream S3 endpoint, e.g. https://s3.eu-west-1.amazonaws.com (required)')
    .option('--target-bucket <name>', 'upstream bucket (required)')
    .option('--access-key <id>', 'upstream access key id (required)')
    .option('--secret-key-file <path>', 'file holding the upstream secret key (or env FERRY_TARGET_SECRET_KEY)')
    .option('--region <region>', 'upstream region (default us-east-1)')
    .option('--path-style', 'address the upstream bucket in the path, not as a virtual host')
    .option('--prefix <prefix>', 'replicate only keys starting with this')
    .option('--mode <mode>', 'mirror (puts and deletes) or archive (puts only; deletes stay local)', 'mirror')
    .option('--window <hh:mm-hh:mm>', 'send only inside this daily local-time window, e.g. 22:00-06:00')
    .option('--bandwidth <rate>', 'cap the upload rate, e.g. 2MiB/s')
    .option('--concurrency <n>', 'objects in flight at once (default 4)')
    .option('--multipart-threshold <bytes>', 'objects this large go as resumable multipart uploads (default 16 MiB)')
    .option('--part-size <bytes>', 'multipart part size (default 8 MiB, at least 5 MiB)')
    .addHelpText('after', CREDENTIALS_HELP)
    .action(action(add));

  common(replication.command('list [bucket]'))
    .description('list replication targets (secrets are never shown)')
    .addHelpText('after', CREDENTIALS_HELP)
    .action(action(list));

  common(replication.command('status [bucket]'))
    .description('queue depth, bytes pending, lag, last success, last error and link state per target')
    .option('--target <id>', 'only this target')
    .addHelpText('after', CREDENTIALS_HELP)
    .action(action(status));

  common(replication.command('remove <bucket>'))
    .description("stop replicating <bucket> to a target and drop that target's queue")
    .option('--target <id>', 'the target to remove, when the bucket has several')
    .option('--all', 'remove every target of the bucket')
    .addHelpText('after', CREDENTIALS_HELP)
    .action(action(remove));

  common(replication.command('resync <bucket>'))
    .description('queue the objects that already exist in <bucket> (e.g. after adding a target), with progress')
    .option('--target <id>', 'only for this target')
    .addHelpText('after', CREDENTIALS_HELP)
    .action(action((bucket: string, opts: CommonOptions & { target?: string }) => resync(bucket, opts)));
}
