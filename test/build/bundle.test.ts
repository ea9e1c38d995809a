// The bundle `npm start` ships: builds clean, runs with the start script's flags, serves S3, and stays small when idle.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { parseStartScript, readStartCommand, type StartCommand } from '../../bench/start-script.ts';
import { ACCESS_KEY, REGION, SECRET_KEY, makeClient, tempDir } from '../helpers/server.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

const run = promisify(execFile);
let start: StartCommand;
let dir: string;
// Inside dist/ (git-ignored): the bundle finds classic-level's addon through node_modules, as dist/ferry.cjs does.
const bundlePath = join(ROOT, `dist/ferry-test-${randomBytes(4).toString('hex')}.cjs`);
const children: ChildProcess[] = [];

before(async () => {
  start = await readStartCommand(ROOT);
  dir = await tempDir('ferry-bundle-');
  await run(process.execPath, [join(ROOT, 'build.mjs'), '--outfile', bundlePath], { cwd: ROOT, timeout: 60_000 });
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rm(bundlePath, { force: true });
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

interface Served {
  child: ChildProcess;
  port: number;
  output(): string;
  exited: Promise<void>;
}

/** Starts the bundle as `npm start` does (its Node flags), plus `extra` flags, on port 0. */
async function serveBundle(dataDir: string, extra: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [...start.nodeFlags, ...extra, bundlePath, 'serve', '--data-dir', dataDir, '--address', '127.0.0.1:0'], {
    env: { PATH: process.env.PATH ?? '', FERRY_ROOT_ACCESS_KEY: ACCESS_KEY, FERRY_ROOT_SECRET_KEY: SECRET_KEY, FERRY_REGION: REGION },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 20_000;
  let port: number | undefined;
  while (port === undefined) {
    const m = /listening on [^\s]*:(\d+)/.exec(out);
    if (m) port = Number(m[1]);
    else if (child.exitCode !== null) assert.fail(`the bundle exited before listening:\n${out}`);
    else if (Date.now() > deadline) assert.fail(`the bundle did not listen within 20 s:\n${out}`);
    else await sleep(25);
  }
  return { child, port, output: () => out, exited };
}

describe('npm start', () => {
  it('builds the bundle, then execs it with the memory flags', () => {
    assert.deepEqual(start.steps, ['build.mjs']);
    assert.equal(start.entry, 'dist/ferry.cjs');
    assert.ok(start.nodeFlags.includes('--max-semi-space-size=1'), start.nodeFlags.join(' '));
  });

  it('is read as node commands only, refusing what it cannot run the same way', () => {
    assert.deepEqual(parseStartScript('node build.mjs && exec node --a=1 --b dist/x.cjs serve'), { steps: ['build.mjs'], nodeFlags: ['--a=1', '--b'], entry: 'dist/x.cjs' });
    assert.throws(() => parseStartScript('FOO=1 node dist/x.cjs serve'), /node <flags> <script>/);
    assert.throws(() => parseStartScript('node dist/x.cjs serve | tee log'), /node <flags> <script>/);
    assert.throws(() => parseStartScript('node build.mjs'), /<entry> serve/);
  });
});

describe('the bundle', () => {
  it('is one ASCII file without import.meta', async () => {
    const text = await readFile(bundlePath, 'utf8');
    // Non-ASCII would make V8 keep the whole source as a two-byte string (see build.mjs).
    assert.equal(/[^\x00-\x7f]/.test(text), false);
    assert.equal(/\bimport\.meta\b/.test(text), false);
    assert.match(text, /require\("classic-level\/binding\.js"\)/);
  });

  it('leaves the AWS SDK in a file of its own, loaded only when replication first needs it', async () => {
    const text = await readFile(bundlePath, 'utf8');
    assert.match(text, /require\("\.\/aws-sdk-client-s3\.cjs"\)/);
    assert.equal(text.includes('S3ServiceException'), false, 'the SDK was bundled into the main script');
    const sdk = createRequire(bundlePath)('./aws-sdk-client-s3.cjs') as { S3Client?: unknown; PutObjectCommand?: unknown };
    assert.equal(typeof sdk.S3Client, 'function');
    assert.equal(typeof sdk.PutObjectCommand, 'function');
  });

  it('prints the package version', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await run(process.execPath, [bundlePath, '--version'], { timeout: 20_000 });
    assert.match(stdout, new RegExp(`^ferry ${pkg.version.replaceAll('.', '\\.')} \\(node v24\\.`));
  });

  // Memory targets are measured by `npm run bench`, not asserted here: this checks the structural cause (undici).
  it("serves PUT, GET and HEAD without loading Node's fetch classes", async () => {
    // Node's Request/Response are its bundled undici: ~5.7 MB that never goes away once touched (src/s3/node-http.ts).
    const probe = join(dir, 'report-undici.cjs');
    await writeFile(probe, `process.prependListener('SIGTERM', () => process.stderr.write('undici loaded: ' + process.moduleLoadList.some((m) => m.includes('undici')) + '\\n'));\n`);
    const s = await serveBundle(join(dir, 'data'), ['--require', probe]);

    const client = makeClient(`http://127.0.0.1:${s.port}`);
    try {
      await client.send(new CreateBucketCommand({ Bucket: 'bundle' }));
      const body = randomBytes(3 * 1024 * 1024);
      await client.send(new PutObjectCommand({ Bucket: 'bundle', Key: 'k', Body: body }));
      const got = await client.send(new GetObjectCommand({ Bucket: 'bundle', Key: 'k' }));
      assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
      const head = await client.send(new HeadObjectCommand({ Bucket: 'bundle', Key: 'k' }));
      assert.equal(head.ContentLength, body.length);
      await assert.rejects(client.send(new HeadObjectCommand({ Bucket: 'bundle', Key: 'missing' })), { name: 'NotFound' });
      await assert.rejects(client.send(new GetObjectCommand({ Bucket: 'bundle', Key: 'missing' })), { name: 'NoSuchKey' });
    } finally {
      client.destroy();
    }
    s.child.kill('SIGTERM');
    await Promise.race([s.exited, sleep(10_000).then(() => assert.fail(`no exit within 10 s of SIGTERM:\n${s.output()}`))]);
    assert.match(s.output(), /undici loaded: false/);
    assert.equal(s.child.exitCode, 0, s.output());
  });
});
