// Durability: SIGKILL ferry while PUTs, overwrites and multipart completions are in flight, restart, and check
// that every acknowledged write reads back byte for byte and nothing partial is listed or served.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { makeClient, spawnFerry, tempDir } from '../helpers/server.ts';

const B = 'crash';
const MiB = 1024 * 1024;
const sha = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');
/** PUT bodies up to this size may share a data file with others written at the same moment (src/store/files.ts). */
const SHARED_MAX = 16 * 1024;

/** Per key: versions whose write was acknowledged (in order) and versions still in flight at the kill. */
interface KeyState {
  acked: string[];
  attempted: Set<string>;
}

let dataDir: string | undefined;
after(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function walkSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? await walkSize(p) : (await stat(p)).size;
  }
  return total;
}

test('acknowledged writes survive SIGKILL mid-traffic; nothing partial is listed or served', { timeout: 240_000 }, async () => {
  dataDir = await tempDir('ferry-crash-');
  const first = await spawnFerry(dataDir);
  const s3: S3Client = makeClient(first.endpoint, { requestHandler: { connectionTimeout: 2_000, requestTimeout: 20_000 } as never });
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  const state = new Map<string, KeyState>();
  const track = (key: string) => {
    let s = state.get(key);
    if (!s) state.set(key, (s = { acked: [], attempted: new Set() }));
    return s;
  };
  let stop = false;
  // Bytes of small bodies written into a shared file whose commit may never have happened: the only bytes a shared
  // file may keep that no listed object accounts for (its other members keep the file).
  let unackedSmallBytes = 0;

  async function put(key: string, body: Buffer): Promise<void> {
    const s = track(key);
    const h = sha(body);
    s.attempted.add(h);
    const small = body.length <= SHARED_MAX;
    if (small) unackedSmallBytes += body.length;
    await s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: body }));
    if (small) unackedSmallBytes -= body.length;
    s.acked.push(h);
  }

  const writers = [
    // New keys of varied sizes.
    (async () => {
      for (let i = 0; !stop; i++) await put(`new/${i}`, randomBytes(1 + ((i * 7919) % (2 * MiB)))).catch(() => {});
    })(),
    // Small ones from three writers at once, so that some share a data file (src/store/files.ts writeShared).
    ...[0, 1, 2].map((w) => (async () => {
      for (let i = 0; !stop; i++) await put(`small/${w}/${i}`, randomBytes(100 + ((i * 31 + w) % 4000))).catch(() => {});
    })()),
    // Overwrites of a few hot keys; each writer owns its keys, so the order of its acknowledgements is the commit order.
    ...[0, 1].map((w) => (async () => {
      for (let i = 0; !stop; i++) await put(`hot/${w * 2 + (i % 2)}`, randomBytes(64 * 1024 + ((i * 131) % MiB))).catch(() => {});
    })()),
    // Multipart completions.
    (async () => {
      for (let i = 0; !stop; i++) {
        const key = `mp/${i % 3}`;
        const parts = [randomBytes(5 * MiB), randomBytes(1 + (i % 1000))];
        const s = track(key);
        const h = sha(Buffer.concat(parts));
        try {
          const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: key }));
          const etags: string[] = [];
          for (const [n, p] of parts.entries()) etags.push((await s3.send(new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: n + 1, Body: p }))).ETag!);
          s.attempted.add(h);
          await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: key, UploadId, MultipartUpload: { Parts: etags.map((ETag, n) => ({ ETag, PartNumber: n + 1 })) } }));
          s.acked.push(h);
        } catch {
          // The kill interrupted it.
        }
      }
    })(),
  ];

  // Let traffic build up, then kill without warning.
  await new Promise((r) => setTimeout(r, 2_500));
  first.child.kill('SIGKILL');
  stop = true;
  await first.exited;
  await Promise.race([Promise.allSettled(writers), new Promise((r) => setTimeout(r, 30_000))]);
  s3.destroy();
  const ackedCount = [...state.values()].reduce((n, s) => n + s.acked.length, 0);
  assert.ok(ackedCount > 10, `only ${ackedCount} writes were acknowledged before the kill`);

  const second = await spawnFerry(dataDir);
  const c2 = makeClient(second.endpoint);
  try {
    // Every key with an acknowledged write holds the last acknowledged version or a later attempted one, complete.
    for (const [key, s] of state) {
      let got: Buffer | undefined;
      try {
        const res = await c2.send(new GetObjectCommand({ Bucket: B, Key: key }));
        got = Buffer.from(await res.Body!.transformToByteArray());
      } catch (err) {
        if ((err as { name?: string }).name !== 'NoSuchKey') throw err;
      }
      if (s.acked.length === 0) {
        if (got) assert.ok(s.attempted.has(sha(got)), `${key}: an unacknowledged write left a corrupt object`);
        continue;
      }
      assert.ok(got, `${key}: acknowledged write lost`);
      const h = sha(got);
      const last = s.acked[s.acked.length - 1]!;
      const allowed = h === last || (s.attempted.has(h) && !s.acked.slice(0, -1).includes(h));
      assert.ok(allowed, `${key}: holds neither the last acknowledged version nor a newer attempted one`);
    }
    // Everything listed is served whole, with the listed size.
    let token: string | undefined;
    let listed = 0;
    let listedBytes = 0;
    do {
      const page = await c2.send(new ListObjectsV2Command({ Bucket: B, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const res = await c2.send(new GetObjectCommand({ Bucket: B, Key: o.Key }));
        const body = Buffer.from(await res.Body!.transformToByteArray());
        assert.equal(body.length, o.Size, `${o.Key}: listed size differs from served bytes`);
        assert.ok(state.get(o.Key!)?.attempted.has(sha(body)), `${o.Key}: served bytes were never written`);
        listed++;
        listedBytes += body.length;
      }
      token = page.NextContinuationToken;
    } while (token);
    assert.ok(listed > 0);
    // Interrupted uploads can be aborted; then the disk holds the listed objects' bytes (no orphans, old bytes freed),
    // plus at most the small bodies in flight at the kill that share a file with committed ones.
    const uploads = await c2.send(new ListMultipartUploadsCommand({ Bucket: B }));
    for (const u of uploads.Uploads ?? []) await c2.send(new AbortMultipartUploadCommand({ Bucket: B, Key: u.Key, UploadId: u.UploadId }));
    let onDisk = -1;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      onDisk = await walkSize(join(dataDir, 'data'));
      if (onDisk >= listedBytes && onDisk <= listedBytes + unackedSmallBytes) break;
    }
    assert.ok(onDisk >= listedBytes, `bytes on disk (${onDisk}) are fewer than the listed objects' (${listedBytes})`);
    assert.ok(onDisk <= listedBytes + unackedSmallBytes,
      `bytes on disk (${onDisk}) exceed the listed objects' (${listedBytes}) by more than the small bodies in flight at the kill (${unackedSmallBytes})`);
    assert.deepEqual(await readdir(join(dataDir, 'tmp')).catch(() => []), [], 'temp files left behind');
  } finally {
    c2.destroy();
    second.child.kill('SIGTERM');
    await Promise.race([second.exited, new Promise((r) => setTimeout(r, 10_000))]);
    second.child.kill('SIGKILL');
  }
});
