// systemd/ferry.env: names every setting src/config reads, with its real default, and runs ferry as the unit would.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DEFAULTS } from '../../src/config/index.ts';
import { LOCAL_BINARY, renderEnvFile, renderUnit, STOP_TIMEOUT_SEC } from '../../src/cli/systemd-files.ts';
import { MAIN, parseEnvFile, ROOT, unitEntries } from './helpers.ts';

const dirs: string[] = [];
const children: { kill: (s: NodeJS.Signals) => void }[] = [];
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const envText = renderEnvFile();

/** Every FERRY_* name in src/config's source: only src/config reads the environment (STYLE.md, Config). */
async function namesReadByConfig(): Promise<Set<string>> {
  const dir = join(ROOT, 'src/config');
  const names = new Set<string>();
  for (const file of await readdir(dir)) {
    for (const m of (await readFile(join(dir, file), 'utf8')).matchAll(/\bFERRY_[A-Z0-9_]+\b/g)) names.add(m[0]);
  }
  return names;
}

test('the env file names every FERRY_* variable src/config reads, and no other', async () => {
  const read = await namesReadByConfig();
  assert.ok(read.has('FERRY_DATA_DIR') && read.has('FERRY_ROOT_SECRET_KEY'), 'the source scan finds the known names');
  const documented = new Set([...envText.matchAll(/^#?(FERRY_[A-Z0-9_]+)=/gm)].map((m) => m[1]!));
  assert.deepEqual([...documented].sort(), [...read].sort());
});

test('each active setting is the embedded default, and the secrets are commented out', () => {
  const active = parseEnvFile(envText);
  assert.deepEqual(
    Object.fromEntries(active),
    { FERRY_ADDRESS: DEFAULTS.address, FERRY_REGION: DEFAULTS.region, FERRY_STALE_UPLOAD_HOURS: String(DEFAULTS.staleUploadAgeHours), FERRY_MIN_FREE_MB: String(DEFAULTS.minFreeMiB) },
  );
  assert.match(envText, /^#FERRY_ROOT_ACCESS_KEY=$/m);
  assert.match(envText, /^#FERRY_ROOT_SECRET_KEY=$/m);
  // Each setting has a comment right above it saying what it does.
  for (const m of envText.matchAll(/^(?:#)?FERRY_[A-Z_]+=.*$/gm)) {
    const before = envText.slice(0, m.index).trimEnd().split('\n').pop() ?? '';
    assert.match(before, /^#( |FERRY_)/, `no comment above ${m[0]}`);
  }
});

test("with only the unit's Environment= and the env file, ferry serves S3 without systemd and stops cleanly on SIGTERM", async () => {
  const base = await mkdtemp(join(tmpdir(), 'ferry-service-'));
  dirs.push(base);
  // What systemd would give the service: %S and the two directories it creates, nothing inherited (env -i).
  const state = join(base, 'state');
  const cache = join(base, 'cache', 'ferry');
  await mkdir(state);
  await mkdir(cache, { recursive: true });
  const env: Record<string, string> = {};
  for (const [key, value] of unitEntries(renderUnit({ binary: LOCAL_BINARY }))) {
    if (key !== 'Environment') continue;
    const at = value.indexOf('=');
    env[value.slice(0, at)] = value.slice(at + 1).replace(/%S/g, state);
  }
  // EnvironmentFile= settings override Environment= (systemd.exec(5)).
  Object.assign(env, Object.fromEntries(parseEnvFile(envText)));
  // The only change: a free loopback port instead of 0.0.0.0:9000.
  env.FERRY_ADDRESS = '127.0.0.1:0';
  env.STATE_DIRECTORY = join(state, 'ferry');
  env.CACHE_DIRECTORY = cache;

  // UMask=0077 as in the unit; `exec` so the signal reaches ferry itself.
  const child = spawn('/bin/sh', ['-c', 'umask 0077 && exec "$0" "$@"', process.execPath, MAIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within 20 s:\n${out}`)), 20_000);
    const check = () => {
      const m = /listening on [^\s]+:(\d+)/.exec(out);
      if (m && /secret key: \S+/.test(out)) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`exited before listening:\n${out}`));
    });
  });

  // The journal gets the data dir and the generated credentials; the credentials file is root-readable only.
  const dataDir = join(state, 'ferry');
  assert.match(out, new RegExp(`data dir: ${dataDir}`));
  const accessKeyId = /access key: (\S+)/.exec(out)?.[1] ?? '';
  const secretAccessKey = /secret key: (\S+)/.exec(out)?.[1] ?? '';
  assert.equal((await stat(join(dataDir, 'root-credentials.json'))).mode & 0o777, 0o600);
  assert.match(out, new RegExp(`region ${DEFAULTS.region}`));

  const s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: DEFAULTS.region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'gateway' }));
    await s3.send(new PutObjectCommand({ Bucket: 'gateway', Key: 'hello.txt', Body: 'hello from the unit' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'gateway', Key: 'hello.txt' }));
    assert.equal(await got.Body?.transformToString(), 'hello from the unit');
  } finally {
    s3.destroy();
  }

  // systemd stops with SIGTERM and waits TimeoutStopSec before SIGKILL: ferry must exit 0 well within it.
  const started = Date.now();
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_SEC * 1000);
  const code = await exited;
  clearTimeout(killer);
  assert.equal(code, 0, out);
  assert.ok(Date.now() - started < STOP_TIMEOUT_SEC * 1000);
});
