// The single executables: each runs alone from an empty dir with a clean environment (arm64 under qemu) and serves S3.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { readStartCommand } from '../../bench/start-script.ts';
import { ACCESS_KEY, REGION, SECRET_KEY, makeClient, tempDir } from '../helpers/server.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);
const QEMU_LD_PREFIX = '/usr/aarch64-linux-gnu';
const APT_HINT = 'apt-get install -y qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross binutils-aarch64-linux-gnu';

interface Arch {
  name: 'x64' | 'arm64';
  /** Under emulation the first request takes seconds (notes/single-binary.md): generous, bounded waits. */
  startMs: number;
  /** The command line that runs `binary` on this machine. */
  argv(binary: string): string[];
  env: Record<string, string>;
}

const ARCHES: Arch[] = [
  { name: 'x64', startMs: 20_000, argv: (b) => [b], env: {} },
  // binfmt_misc is not mounted here: call qemu explicitly, with the arm64 libc from libc6-arm64-cross.
  { name: 'arm64', startMs: 90_000, argv: (b) => ['qemu-aarch64-static', b], env: { QEMU_LD_PREFIX } },
];

const dirs: string[] = [];
const children: ChildProcess[] = [];
let pkgVersion: string;

before(async () => {
  pkgVersion = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  // Reuses the binaries when nothing that goes into them changed (build-sea.mjs inputsDigest).
  await run(process.execPath, [join(ROOT, 'build.mjs'), '--sea', '--if-stale'], { cwd: ROOT, timeout: 300_000 });
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** An empty dir holding only the binary, and the clean environment it runs with (as `env -i`). */
async function isolate(arch: Arch): Promise<{ dir: string; binary: string; env: Record<string, string> }> {
  const dir = await tempDir(`ferry-sea-${arch.name}-`);
  dirs.push(dir);
  const binary = join(dir, 'ferry');
  await copyFile(join(ROOT, `dist/ferry-linux-${arch.name}`), binary);
  await run('chmod', ['755', binary]);
  await mkdir(join(dir, 'home'));
  return { dir, binary, env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: join(dir, 'home'), ...arch.env } };
}

async function toolsPresent(): Promise<void> {
  try {
    await run('qemu-aarch64-static', ['--version'], { timeout: 10_000 });
    await access(join(QEMU_LD_PREFIX, 'lib/ld-linux-aarch64.so.1'));
  } catch {
    // Never a skip: CI (.ci/run) installs these, and a developer is told how.
    assert.fail(`arm64 emulation tools are missing: ${APT_HINT}`);
  }
}

async function bytesOf(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

for (const arch of ARCHES) {
  describe(`dist/ferry-linux-${arch.name}`, { timeout: arch.startMs * 4 }, () => {
    before(async () => {
      if (arch.name === 'arm64') await toolsPresent();
    });

    it('prints its version, commit, Node version and architecture, and its help, from an empty dir', async () => {
      const { dir, binary, env } = await isolate(arch);
      const [cmd, ...args] = arch.argv(binary);
      const version = await run(cmd!, [...args, '--version'], { cwd: dir, env, timeout: arch.startMs });
      assert.match(version.stdout, new RegExp(`^ferry ${pkgVersion.replaceAll('.', '\\.')} \\(node v24\\.21\\.0, linux-${arch.name}, commit ([0-9a-f]{12}(-dirty)?|unknown)\\)\\n$`));
      const help = await run(cmd!, [...args, '--help'], { cwd: dir, env, timeout: arch.startMs });
      assert.match(help.stdout, /serve/);
      assert.match(help.stdout, /install/);
      const serveHelp = await run(cmd!, [...args, 'serve', '--help'], { cwd: dir, env, timeout: arch.startMs });
      assert.match(serveHelp.stdout, /FERRY_ROOT_ACCESS_KEY/);
      // --version and --help load nothing: the addon is unpacked on first use only.
      assert.deepEqual(await readdir(join(dir, 'home')), []);
    });

    it('serves create, put, get, list, multipart and delete to the AWS SDK, then stops on SIGTERM with exit 0', async () => {
      const { dir, binary, env } = await isolate(arch);
      const [cmd, ...args] = arch.argv(binary);
      const child = spawn(cmd!, [...args, 'serve'], {
        cwd: dir,
        env: { ...env, FERRY_ADDRESS: '127.0.0.1:0', FERRY_DATA_DIR: join(dir, 'data'), FERRY_ROOT_ACCESS_KEY: ACCESS_KEY, FERRY_ROOT_SECRET_KEY: SECRET_KEY, FERRY_REGION: REGION },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const deadline = Date.now() + arch.startMs;
      let port: number | undefined;
      while (port === undefined) {
        const m = /listening on [^\s]*:(\d+)/.exec(out);
        if (m) port = Number(m[1]);
        else if (child.exitCode !== null) assert.fail(`exited before listening:\n${out}`);
        else if (Date.now() > deadline) assert.fail(`no listening line within ${arch.startMs} ms:\n${out}`);
        else await sleep(50);
      }

      const client = makeClient(`http://127.0.0.1:${port}`, { requestHandler: { requestTimeout: arch.startMs } });
      try {
        await client.send(new CreateBucketCommand({ Bucket: 'sea' }));
        const small = { 'a.txt': randomBytes(1000), 'dir/b.bin': randomBytes(70_000) };
        for (const [key, body] of Object.entries(small)) await client.send(new PutObjectCommand({ Bucket: 'sea', Key: key, Body: body }));
        // Two parts: 5 MiB (S3's minimum part size) and the rest.
        const big = randomBytes(6 * 1024 * 1024 + 123);
        await new Upload({ client, params: { Bucket: 'sea', Key: 'multi.bin', Body: big }, partSize: 5 * 1024 * 1024, queueSize: 2 }).done();

        for (const [key, body] of Object.entries(small)) assert.deepEqual(await bytesOf(client, 'sea', key), body);
        assert.deepEqual(await bytesOf(client, 'sea', 'multi.bin'), big);
        const head = await client.send(new GetObjectCommand({ Bucket: 'sea', Key: 'multi.bin', Range: 'bytes=0-0' }));
        assert.match(head.ETag ?? '', /-2"$/, 'a two-part multipart ETag');
        await head.Body?.transformToByteArray();

        const listed = await client.send(new ListObjectsV2Command({ Bucket: 'sea' }));
        assert.deepEqual(listed.Contents?.map((o) => o.Key), ['a.txt', 'dir/b.bin', 'multi.bin']);
        await client.send(new DeleteObjectCommand({ Bucket: 'sea', Key: 'a.txt' }));
        const after = await client.send(new ListObjectsV2Command({ Bucket: 'sea' }));
        assert.deepEqual(after.Contents?.map((o) => o.Key), ['dir/b.bin', 'multi.bin']);
      } finally {
        client.destroy();
      }
      // The addon was unpacked into ~/.cache/ferry (no FERRY_CACHE_DIR, CACHE_DIRECTORY or XDG_CACHE_HOME here).
      const cached = await readdir(join(dir, 'home/.cache/ferry'));
      assert.equal(cached.filter((f) => /^classic-level-[0-9a-f]{16}\.node$/.test(f)).length, 1, cached.join(' '));

      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(arch.startMs).then(() => 'timeout' as const)]);
      assert.equal(code, 0, out);
    });
  });
}

describe('sea-config.json', () => {
  it('gives the binary the same V8 memory flags npm start gives the bundle', async () => {
    const config = JSON.parse(await readFile(join(ROOT, 'sea-config.json'), 'utf8')) as { execArgv: string[]; useCodeCache: boolean; useSnapshot: boolean };
    assert.deepEqual(config.execArgv, (await readStartCommand(ROOT)).nodeFlags);
    // Code cache and snapshot would tie the blob to one architecture's runtime (notes/single-binary.md).
    assert.equal(config.useCodeCache, false);
    assert.equal(config.useSnapshot, false);
  });
});

describe('dist/ferry-linux-x64 addon cache', { timeout: 60_000 }, () => {
  it('names FERRY_CACHE_DIR and the failing dir when it cannot unpack its addon, and exits non-zero', async () => {
    const { dir, binary, env } = await isolate(ARCHES[0]!);
    const blocked = join(dir, 'not-a-dir');
    await writeFile(blocked, 'a file where the cache dir should be');
    const res = await run(binary, ['serve'], {
      cwd: dir,
      env: { ...env, FERRY_CACHE_DIR: blocked, FERRY_ADDRESS: '127.0.0.1:0', FERRY_DATA_DIR: join(dir, 'data'), FERRY_ROOT_ACCESS_KEY: ACCESS_KEY, FERRY_ROOT_SECRET_KEY: SECRET_KEY },
      timeout: 20_000,
    }).then(
      () => assert.fail('served without its addon'),
      (err: { code?: number; stderr?: string }) => err,
    );
    assert.notEqual(res.code, 0);
    assert.match(res.stderr ?? '', /cannot load its LevelDB addon.*FERRY_CACHE_DIR/);
    assert.match(res.stderr ?? '', new RegExp(`${blocked}: `));
  });
});

describe('dist/ferry-linux-x64 lazily loaded SDK chunks', { timeout: 60_000 }, () => {
  it('replicates through the AWS SDK carried as a SEA asset, to a bucket of the same server', async () => {
    const arch = ARCHES[0]!;
    const { dir, binary, env } = await isolate(arch);
    const serveEnv = { ...env, FERRY_ADDRESS: '127.0.0.1:0', FERRY_DATA_DIR: join(dir, 'data'), FERRY_ROOT_ACCESS_KEY: ACCESS_KEY, FERRY_ROOT_SECRET_KEY: SECRET_KEY, FERRY_REGION: REGION };
    const child = spawn(binary, ['serve'], { cwd: dir, env: serveEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 20_000;
    let port: number | undefined;
    while (port === undefined) {
      const m = /listening on [^\s]*:(\d+)/.exec(out);
      if (m) port = Number(m[1]);
      else if (child.exitCode !== null || Date.now() > deadline) assert.fail(`not listening:\n${out}`);
      else await sleep(50);
    }
    const endpoint = `http://127.0.0.1:${port}`;
    const client = makeClient(endpoint);
    try {
      await client.send(new CreateBucketCommand({ Bucket: 'edge' }));
      await client.send(new CreateBucketCommand({ Bucket: 'upstream' }));
      const secretFile = join(dir, 'upstream-secret');
      await writeFile(secretFile, SECRET_KEY, { mode: 0o600 });
      await run(binary, ['replication', 'add', 'edge', '--server', endpoint, '--endpoint', endpoint, '--target-bucket', 'upstream', '--access-key', ACCESS_KEY, '--secret-key-file', secretFile, '--path-style'], { cwd: dir, env: serveEnv, timeout: 20_000 });
      const body = randomBytes(10_000);
      await client.send(new PutObjectCommand({ Bucket: 'edge', Key: 'via-sdk', Body: body }));
      const until = Date.now() + 30_000;
      for (;;) {
        try {
          assert.deepEqual(await bytesOf(client, 'upstream', 'via-sdk'), body);
          break;
        } catch (err) {
          if (Date.now() > until) assert.fail(`not replicated within 30 s (${(err as Error).message}):\n${out}`);
          await sleep(200);
        }
      }
    } finally {
      client.destroy();
      child.kill('SIGTERM');
    }
  });
});
