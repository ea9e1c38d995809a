// Durability: kill -9 a process mid-write, reopen, and find each key at its last acknowledged state or the one in flight.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../src/store/level-store.ts';
import { S3Error } from '../../src/s3/errors.ts';
import { bytesFor } from './crash-writer.ts';
import { dataFileCount, diskFiles, eventually, readAll, TempDirs } from './fixtures.ts';

const dirs = new TempDirs();
after(() => dirs.removeAll());

const WRITER = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));

interface KeyLog {
  acked?: { n: number; op: string };
  inFlight?: { n: number; op: string };
}

/** Runs the writer until it has acknowledged `acks` operations, then SIGKILLs it; returns what it printed. */
async function runAndKill(dataDir: string, acks: number): Promise<Map<string, KeyLog>> {
  const child = spawn(process.execPath, [WRITER, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const keys = new Map<string, KeyLog>();
  let seen = 0;
  let buffered = '';
  const killed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer acknowledged only ${seen} operations in 60 s`));
    }, 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, key = '', n = '', op = ''] = line.split(' ');
        const log = keys.get(key) ?? {};
        keys.set(key, log);
        if (kind === 'start') log.inFlight = { n: Number(n), op };
        else if (kind === 'ack') {
          log.acked = { n: Number(n), op };
          delete log.inFlight;
          if (++seen === acks) child.kill('SIGKILL');
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`writer exited on its own (code ${code})`));
    });
  });
  await killed;
  return keys;
}

describe('crash safety', () => {
  it('recovers each key to its acknowledged state or the operation in flight, with no leftover files', async () => {
    const dataDir = await dirs.make();
    for (const acks of [60, 150]) {
      const keys = await runAndKill(dataDir, acks);
      const store = await openStore({ dataDir });
      try {
        for (const [key, log] of keys) {
          const allowed = [log.acked, log.inFlight].filter((x) => x !== undefined);
          if (log.acked === undefined) allowed.push({ n: 0, op: 'del' });
          const found = await readAll(store, 'crash', key).catch((err: unknown) => {
            if (err instanceof S3Error && err.code === 'NoSuchKey') return undefined;
            throw err;
          });
          const matches = allowed.some(({ n, op }) => (op === 'del' ? found === undefined : found?.equals(bytesFor(key, n)) === true));
          assert.ok(matches, `${key}: found ${found === undefined ? 'nothing' : found.subarray(0, 20).toString()}, allowed ${JSON.stringify(allowed)}`);
        }
        assert.deepEqual((await diskFiles(dataDir)).tmp, []);
      } finally {
        await store.close();
      }
    }

    // Deleting everything must free every data file: none was orphaned or leaked by the crashes.
    const store = await openStore({ dataDir });
    try {
      for (const object of (await store.listObjects('crash', { maxKeys: 1000 })).objects) await store.deleteObject('crash', object.key);
      for (const upload of (await store.listMultipartUploads('crash', { maxUploads: 1000 })).uploads) {
        await store.abortMultipartUpload('crash', upload.key, upload.uploadId);
      }
      await eventually(async () => (await dataFileCount(dataDir)) === 0);
    } finally {
      await store.close();
    }
  });
});
