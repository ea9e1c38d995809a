// Child process for crash.test.ts: writes, overwrites, deletes and multipart-completes keys until killed,
// printing "start <key> <n> <op>" before each operation and "ack <key> <n> <op>" once it resolved.
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/level-store.ts';
import { bodyOf, META, takeAllParts } from './fixtures.ts';

const WRITERS = 8;
const KEYS_PER_WRITER = 4;

/** The bytes of operation `n` on `key`: a repeated tag, so any mix of two versions is detectable. */
export function bytesFor(key: string, n: number): Buffer {
  const tag = `${key}@${n};`;
  return Buffer.from(tag.repeat(Math.ceil(((n * 7919) % 90_000 + 1) / tag.length))).subarray(0, (n * 7919) % 90_000 + 1);
}

export function opFor(n: number): 'put' | 'del' | 'mpu' {
  return n % 7 === 3 ? 'del' : n % 5 === 2 ? 'mpu' : 'put';
}

async function main(dataDir: string): Promise<void> {
  const store = await openStore({ dataDir });
  await store.createBucket('crash', 'us-east-1').catch(() => {});
  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    for (let n = 1; ; n++) {
      const key = `w${w}-${n % KEYS_PER_WRITER}`;
      const op = opFor(n);
      process.stdout.write(`start ${key} ${n} ${op}\n`);
      const bytes = bytesFor(key, n);
      if (op === 'del') {
        await store.deleteObject('crash', key);
      } else if (op === 'put') {
        await store.putObject('crash', key, bodyOf(bytes, 16_384), META);
      } else {
        const upload = await store.createMultipartUpload('crash', key, META);
        const third = Math.ceil(bytes.length / 3);
        for (let p = 0; p < 3; p++) {
          await store.uploadPart('crash', key, upload.uploadId, p + 1, bodyOf(bytes.subarray(p * third, (p + 1) * third)));
        }
        await store.completeMultipartUpload('crash', key, upload.uploadId, takeAllParts);
      }
      process.stdout.write(`ack ${key} ${n} ${op}\n`);
    }
  }));
}

if (import.meta.main) await main(process.argv[2] ?? assert.fail('usage: crash-writer.ts <dataDir>'));
