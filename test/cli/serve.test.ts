// `ferry serve` as a user runs it: zero configuration, generated credentials printed once, clear errors, clean stop.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { tempDir } from '../helpers/server.ts';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;
const dirs: string[] = [];
const runs: Run[] = [];
after(async () => {
  for (const r of runs) r.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Run {
  out: () => string;
  port: Promise<number>;
  exit: Promise<number | null>;
  kill: (sig: NodeJS.Signals) => void;
}

function serve(cwd: string, args: string[] = [], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [MAIN, 'serve', '--address', '127.0.0.1:0', ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within 20 s:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on [^\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exit.then(() => {
      clearTimeout(timer);
      reject(new Error(`exited before listening:\n${out}`));
    });
  });
  port.catch(() => {});
  const run: Run = { out: () => out, port, exit, kill: (sig) => child.kill(sig) };
  runs.push(run);
  return run;
}

async function stopped(run: Run): Promise<number | null> {
  run.kill('SIGTERM');
  const timer = setTimeout(() => run.kill('SIGKILL'), 15_000);
  const code = await run.exit;
  clearTimeout(timer);
  return code;
}

test('with no configuration, serve generates root credentials in ./ferry-data, prints them once, and they work', async () => {
  const cwd = await tempDir('ferry-cli-');
  dirs.push(cwd);
  const first = serve(cwd);
  const port = await first.port;
  const out = first.out();
  const access = /access key: (\S+)/.exec(out)?.[1];
  const secret = /secret key: (\S+)/.exec(out)?.[1];
  assert.ok(access && secret, out);
  const file = join(cwd, 'ferry-data', 'root-credentials.json');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { accessKey: access, secretKey: secret });
  const s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: access, secretAccessKey: secret } });
  assert.deepEqual((await s3.send(new ListBucketsCommand({}))).Buckets ?? [], []);
  s3.destroy();
  assert.equal(await stopped(first), 0, first.out());

  const second = serve(cwd);
  await second.port;
  assert.ok(!second.out().includes(secret), 'the secret is printed only on the first start');
  assert.match(second.out(), new RegExp(`root access key: ${access}`));
  assert.equal(await stopped(second), 0);
});

test('credentials from the environment are used and nothing is generated', async () => {
  const cwd = await tempDir('ferry-cli-');
  dirs.push(cwd);
  const run = serve(cwd, ['--data-dir', join(cwd, 'd')], { FERRY_ROOT_ACCESS_KEY: 'ENVKEY123', FERRY_ROOT_SECRET_KEY: 'env-secret-123' });
  await run.port;
  assert.doesNotMatch(run.out(), /secret key/);
  await assert.rejects(stat(join(cwd, 'd', 'root-credentials.json')));
  assert.equal(await stopped(run), 0, run.out());
});

test('bad settings exit 2 with a one-line message; a second server on the same data dir is refused', async () => {
  const cwd = await tempDir('ferry-cli-');
  dirs.push(cwd);
  const bad = spawnSync(process.execPath, [MAIN, 'serve', '--address', 'nonsense'], { cwd, encoding: 'utf8', timeout: 20_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /invalid listen address "nonsense"/);
  const half = spawnSync(process.execPath, [MAIN, 'serve'], { cwd, encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '', FERRY_ROOT_ACCESS_KEY: 'ONLYKEY' } });
  assert.equal(half.status, 2);
  assert.match(half.stderr, /set both FERRY_ROOT_ACCESS_KEY and FERRY_ROOT_SECRET_KEY/);
  // Data dirs that can never be made: under /proc, Node's own recursive mkdir spins forever; under a file.
  await writeFile(join(cwd, 'a-file'), 'not a directory');
  for (const [dir, why] of [['/proc/ferry-data', /ENOENT/], [join(cwd, 'a-file', 'ferry-data'), /ENOTDIR/]] as const) {
    const impossible = spawnSync(process.execPath, [MAIN, 'serve', '--data-dir', dir], { cwd, encoding: 'utf8', timeout: 20_000 });
    assert.equal(impossible.status, 2, `${dir}: ${impossible.stderr}${impossible.error ?? ''}`);
    assert.match(impossible.stderr, new RegExp(`cannot create data dir ${dir}: .*${why.source}`));
  }
  const badReserve = spawnSync(process.execPath, [MAIN, 'serve'], { cwd, encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '', FERRY_MIN_FREE_MB: 'lots' } });
  assert.equal(badReserve.status, 2);
  assert.match(badReserve.stderr, /FERRY_MIN_FREE_MB must be a number of MiB/);
  const first = serve(cwd);
  await first.port;
  const clash = spawnSync(process.execPath, [MAIN, 'serve', '--address', '127.0.0.1:0'], { cwd, encoding: 'utf8', timeout: 20_000 });
  assert.equal(clash.status, 1);
  assert.match(clash.stderr, /in use by another ferry process/);
  assert.equal(await stopped(first), 0, first.out());
});

test('--help and --version say what a person needs', () => {
  const help = spawnSync(process.execPath, [MAIN, 'serve', '--help'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(help.status, 0);
  for (const word of ['--data-dir', '--address', 'FERRY_DATA_DIR', 'FERRY_ADDRESS', 'FERRY_ROOT_ACCESS_KEY', 'FERRY_REGION', 'FERRY_DOMAIN']) assert.ok(help.stdout.includes(word), word);
  const version = spawnSync(process.execPath, [MAIN, '--version'], { encoding: 'utf8', timeout: 20_000 });
  assert.match(version.stdout, /^ferry \d+\.\d+\.\d+/);
});
