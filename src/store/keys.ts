// Names inside the store: random file and upload ids, LevelDB key encodings, UTF-8 byte-order helpers.
import { randomFillSync } from 'node:crypto';
import { S3Error } from '../s3/errors.ts';

/** Data files are spread over this many subdirectories of data/, named by two hex digits. */
export const SHARD_COUNT = 256;

/** S3 keys are at most 1024 bytes of UTF-8. https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html */
const MAX_KEY_BYTES = 1024;

export function shardName(index: number): string {
  return (index % SHARD_COUNT).toString(16).padStart(2, '0');
}

// One randomFillSync per 256 ids: randomBytes() per id cost ~2.4 us, ~2% of a small PUT's CPU.
const randomPool = Buffer.allocUnsafe(4096);
let randomAt = randomPool.length;

function randomSlice(bytes: number): [Buffer, number] {
  if (randomAt + bytes > randomPool.length) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  const at = randomAt;
  randomAt += bytes;
  return [randomPool, at];
}

/** A data file id: its shard's two hex digits, then 128 random bits; never derived from a key. */
export function newFileId(shard: number): string {
  const [pool, at] = randomSlice(16);
  return shardName(shard) + pool.toString('hex', at, at + 16);
}

/** Two hex digits of shard and 32 of random bits (newFileId). */
export const FILE_ID_LENGTH = 34;
const FILE_ID = new RegExp(`^[0-9a-f]{${FILE_ID_LENGTH}}$`);

export function isFileId(name: string): boolean {
  return FILE_ID.test(name);
}

/** Upload ids sort by creation time (12 hex digits of milliseconds) and are URL-safe. */
export function newUploadId(now: number): string {
  const [pool, at] = randomSlice(12);
  return now.toString(16).padStart(12, '0') + pool.toString('base64url', at, at + 12);
}

const UPLOAD_ID = /^[0-9a-f]{12}[A-Za-z0-9_-]{16}$/;

/** A client-supplied id that we could not have issued names no upload (and must never reach a sublevel name). */
export function isUploadId(id: string): boolean {
  return UPLOAD_ID.test(id);
}

/** Bucket names become sublevel names, which allow printable ASCII above '"' only; S3 names are narrower still. */
const BUCKET_NAME = /^[A-Za-z0-9._-]{1,255}$/;

export function isStorableBucketName(name: string): boolean {
  return BUCKET_NAME.test(name);
}

// With the u flag, surrogate pairs match as one code point, so this finds only unpaired halves.
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Keys go into LevelDB as UTF-8: a lone surrogate would collapse into U+FFFD and collide with another key. */
export function checkKey(key: string): void {
  if (LONE_SURROGATE.test(key)) {
    throw new S3Error('InvalidArgument', { message: 'Object key is not valid UTF-8.', resource: key });
  }
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError', { resource: key });
}

/** Compares two strings in UTF-8 byte order, the order of LevelDB keys and of S3 listings. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The smallest byte string above `s` and every string that extends it (a seek target past a rolled-up prefix). */
export function pastPrefix(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  // UTF-8 never contains 0xFF, so the last byte can always be incremented without carrying.
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) + 1;
  return bytes;
}

/** The smallest byte string strictly above `s`. */
export function justAfter(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.of(0)]);
}

// Upload keys sort by object key, then upload id. The key is escaped so that a NUL inside it
// cannot be mistaken for the separator: NUL -> NUL 0x02, separator NUL 0x01 (both keep byte order).
const UPLOAD_SEPARATOR = '\u0000\u0001';

export function escapeKey(key: string): string {
  return key.includes('\u0000') ? key.replaceAll('\u0000', '\u0000\u0002') : key;
}

export function uploadKey(key: string, uploadId: string): string {
  return escapeKey(key) + UPLOAD_SEPARATOR + uploadId;
}

/** Seek target just above every upload of `key` (and below every key that sorts after it). */
export function pastUploadsOf(key: string): Buffer {
  return Buffer.from(escapeKey(key) + '\u0000\u0002', 'utf8');
}

/** Part numbers are 1..10000; zero-padding makes LevelDB order numeric. */
export function partKey(partNumber: number): string {
  return partNumber.toString().padStart(5, '0');
}
