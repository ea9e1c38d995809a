// Test harness: a real ferry on 127.0.0.1:0 with a fresh temp data dir, in-process or as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config/index.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server.ts';

export const ACCESS_KEY = 'FERRYTESTACCESSKEY';
export const SECRET_KEY = 'ferry-test-secret-key-0123456789';
export const REGION = 'us-east-1';
const ROOT = new URL('../../', import.meta.url).pathname;

export interface TestServer {
  endpoint: string;
  port: number;
  dataDir: string;
  server: RunningServer;
  client(options?: Partial<ConstructorParameters<typeof S3Client>[0]>): S3Client;
  /** Stops the server and removes the data dir. */
  stop(): Promise<void>;
}

export async function tempDir(prefix = 'ferry-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export function makeClient(endpoint: string, options: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): S3Client {
  return new S3Client({
    endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    maxAttempts: 1,
    ...options,
  });
}

export interface StartOptions {
  /** Reuse this data dir (e.g. to restart on the same data) instead of a fresh temp dir. */
  dataDir?: string;
  /** Leave the data dir in place on stop(). */
  keepData?: boolean;
  log?: (line: string) => void;
  replication?: ServerOptions['replication'];
}

export async function startFerry(env: Record<string, string> = {}, options: StartOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? await tempDir();
  const { config } = await loadConfig(
    { dataDir, address: '127.0.0.1:0' },
    { FERRY_ROOT_ACCESS_KEY: ACCESS_KEY, FERRY_ROOT_SECRET_KEY: SECRET_KEY, FERRY_REGION: REGION, ...env },
  );
  const server = await startServer(config, options.log ?? (() => {}), options.replication ? { replication: options.replication } : {});
  const endpoint = `http://127.0.0.1:${server.port}`;
  const clients: S3Client[] = [];
  return {
    endpoint,
    port: server.port,
    dataDir,
    server,
    client(clientOptions) {
      const c = makeClient(endpoint, clientOptions);
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await server.close(2_000);
      if (!options.keepData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ChildFerry {
  child: ChildProcess;
  port: number;
  endpoint: string;
  output(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Runs `ferry serve` as a separate process (for kill -9 and signal tests); resolves once it listens. */
export async function spawnFerry(dataDir: string, env: Record<string, string> = {}, timeoutMs = 20_000): Promise<ChildFerry> {
  const child = spawn(process.execPath, [join(ROOT, 'src/main.ts'), 'serve', '--data-dir', dataDir, '--address', '127.0.0.1:0'], {
    env: { PATH: process.env.PATH ?? '', FERRY_ROOT_ACCESS_KEY: ACCESS_KEY, FERRY_ROOT_SECRET_KEY: SECRET_KEY, FERRY_REGION: REGION, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ferry did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /listening on [^\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`ferry exited (${code}) before listening:\n${out}`));
    });
  });
  return { child, port, endpoint: `http://127.0.0.1:${port}`, output: () => out, exited };
}
