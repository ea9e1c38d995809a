// Replication targets: the persisted record, validation of an admin "add" request, windows and bandwidth parsing.
import { randomBytes } from 'node:crypto';
import { S3Error } from '../s3/errors.ts';

export type ReplicationMode = 'mirror' | 'archive';

/** A daily local-time window in minutes since midnight; end < start wraps past midnight. */
export interface TimeWindow {
  start: number;
  end: number;
}

export interface TargetRecord {
  id: string;
  bucket: string;
  endpoint: string;
  targetBucket: string;
  accessKey: string;
  /** Kept in LevelDB only: never logged, never returned by the admin API. */
  secretKey: string;
  region: string;
  pathStyle: boolean;
  prefix: string;
  mode: ReplicationMode;
  window?: TimeWindow;
  /** Bytes per second across the target's uploads; absent = unlimited. */
  bandwidth?: number;
  concurrency: number;
  /** Objects of at least this size go up as multipart uploads whose progress is persisted. */
  multipartThreshold: number;
  partSize: number;
  /** When changes started to be queued for this target (ms); objects modified before it need a resync. */
  created: number;
  /** Start of the last finished resync: every object modified before it went through the queue. */
  resyncedAt?: number;
  /** Set when the bucket was deleted: the target sends what was queued, then removes itself. */
  draining?: number;
  /** Set while the target is being removed, so a crash midway is finished at the next start. */
  removing?: boolean;
}

export type PublicTarget = Omit<TargetRecord, 'secretKey' | 'removing'>;

const MiB = 1024 * 1024;
export const DEFAULT_MULTIPART_THRESHOLD = 16 * MiB;
export const DEFAULT_PART_SIZE = 8 * MiB;
/** S3's smallest non-final part. https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html */
const MIN_PART_SIZE = 5 * MiB;
const MAX_PART_SIZE = 5 * 1024 * MiB;

export function publicTarget(record: TargetRecord): PublicTarget {
  const { secretKey: _secret, removing: _removing, ...rest } = record;
  return rest;
}

function bad(message: string): S3Error {
  return new S3Error('InvalidArgument', { message });
}

/** "22:00-06:00" -> minutes; start == end is refused (an always-closed or always-open window is a typo). */
export function parseWindow(text: string): TimeWindow {
  const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!m) throw bad(`window "${text}" must look like 22:00-06:00`);
  const [h1, m1, h2, m2] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
  if (h1 > 23 || h2 > 23 || m1 > 59 || m2 > 59) throw bad(`window "${text}" has an invalid time`);
  const window = { start: h1 * 60 + m1, end: h2 * 60 + m2 };
  if (window.start === window.end) throw bad(`window "${text}" is empty`);
  return window;
}

export function formatWindow(window: TimeWindow): string {
  const hm = (n: number) => `${String(Math.floor(n / 60)).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}`;
  return `${hm(window.start)}-${hm(window.end)}`;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: MiB, g: 1e9, gb: 1e9, gib: 1024 * MiB };

/** "2MiB/s", "500k", "1048576" -> bytes per second. */
export function parseBandwidth(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)(?:\/s)?$/i.exec(text.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw bad(`bandwidth "${text}" must look like 2MiB/s, 500KB/s or a byte count`);
  const value = Math.floor(Number(m[1]) * unit);
  if (value < 1024) throw bad(`bandwidth "${text}" is below 1 KiB/s`);
  return value;
}

/**
 * Milliseconds until the window opens at local time `now`; 0 when it is open. Computed on wall-clock fields so a
 * DST change shifts the window with local time, as an operator expects.
 */
export function windowDelayMs(window: TimeWindow | undefined, now: Date = new Date()): number {
  if (window === undefined) return 0;
  const minute = now.getHours() * 60 + now.getMinutes();
  const open = window.start < window.end
    ? minute >= window.start && minute < window.end
    : minute >= window.start || minute < window.end;
  if (open) return 0;
  const wait = (window.start - minute + 1440) % 1440;
  return wait * 60_000 - now.getSeconds() * 1000 - now.getMilliseconds();
}

function str(input: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const value = input[name];
  if (value === undefined || value === null || value === '') {
    if (required) throw bad(`${name} is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw bad(`${name} must be a string`);
  return value;
}

function int(input: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const value = input[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw bad(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Builds a new target from the admin API's JSON body; throws InvalidArgument with a readable message. */
export function targetFromInput(body: unknown, bucket: string): TargetRecord {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('expected a JSON object');
  const input = body as Record<string, unknown>;
  const endpoint = str(input, 'endpoint', true)!;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw bad(`endpoint "${endpoint}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('endpoint must be an http or https URL');
  const mode = str(input, 'mode', false) ?? 'mirror';
  if (mode !== 'mirror' && mode !== 'archive') throw bad('mode must be mirror or archive');
  const pathStyle = input.pathStyle ?? false;
  if (typeof pathStyle !== 'boolean') throw bad('pathStyle must be a boolean');
  const window = str(input, 'window', false);
  const bandwidth = input.bandwidth;
  const record: TargetRecord = {
    id: randomBytes(6).toString('hex'),
    bucket,
    endpoint: url.toString().replace(/\/$/, ''),
    targetBucket: str(input, 'targetBucket', true)!,
    accessKey: str(input, 'accessKey', true)!,
    secretKey: str(input, 'secretKey', true)!,
    region: str(input, 'region', false) ?? 'us-east-1',
    pathStyle,
    prefix: str(input, 'prefix', false) ?? '',
    mode,
    concurrency: int(input, 'concurrency', 4, 1, 64),
    multipartThreshold: int(input, 'multipartThreshold', DEFAULT_MULTIPART_THRESHOLD, MIN_PART_SIZE, MAX_PART_SIZE),
    partSize: int(input, 'partSize', DEFAULT_PART_SIZE, MIN_PART_SIZE, MAX_PART_SIZE),
    created: Date.now(),
  };
  if (window !== undefined) record.window = parseWindow(window);
  if (bandwidth !== undefined && bandwidth !== null) {
    record.bandwidth = typeof bandwidth === 'number' ? parseBandwidth(String(bandwidth)) : parseBandwidth(String(bandwidth));
  }
  return record;
}
