// Information only: what users of @aws-sdk/client-s3 see from ferry (default checksum mode: aws-chunked body + CRC32 trailer).
import type { Readable } from 'node:stream';
import type { Credentials } from './sigv4.ts';
import { drive, type DriveStats } from './load.ts';
import { LARGE_CONCURRENCY, LARGE_SIZE, SMALL_CONCURRENCY, SMALL_SIZE } from './workloads.ts';

export interface SdkFigures {
  smallPut: DriveStats;
  smallGet: DriveStats;
  largePut: DriveStats;
  largeGet: DriveStats;
}

export interface SdkPhaseOptions {
  endpoint: string;
  creds: Credentials;
  bucket: string;
  smallBody: Buffer;
  largeBody: Buffer;
  smallMs: number;
  largeRounds: number;
}

export async function runSdkPhase(o: SdkPhaseOptions): Promise<SdkFigures> {
  // Loaded here: the SDK costs the runner ~20 MB and start-up time the other phases do not need.
  const { S3Client, PutObjectCommand, GetObjectCommand, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint: o.endpoint,
    region: o.creds.region,
    forcePathStyle: true,
    credentials: { accessKeyId: o.creds.accessKeyId, secretAccessKey: o.creds.secretAccessKey },
    maxAttempts: 1,
  });
  const put = async (key: string, body: Buffer) => {
    await client.send(new PutObjectCommand({ Bucket: o.bucket, Key: key, Body: body }));
    return body.length;
  };
  const get = async (key: string, size: number) => {
    const r = await client.send(new GetObjectCommand({ Bucket: o.bucket, Key: key }));
    let n = 0;
    for await (const chunk of r.Body as Readable) n += (chunk as Buffer).length;
    if (n !== size) throw new Error(`sdk: GET ${key} gave ${n} bytes, expected ${size}`);
    return n;
  };
  try {
    await client.send(new CreateBucketCommand({ Bucket: o.bucket }));
    const warmMs = Math.max(200, o.smallMs / 4);
    await drive({ concurrency: SMALL_CONCURRENCY, durationMs: warmMs, op: (i) => put(`w/${i}`, o.smallBody) });
    const smallPut = await drive({ concurrency: SMALL_CONCURRENCY, durationMs: o.smallMs, op: (i) => put(`s/${i}`, o.smallBody) });
    const written = smallPut.ops;
    const smallGet = await drive({ concurrency: SMALL_CONCURRENCY, durationMs: o.smallMs, op: (i) => get(`s/${i % written}`, SMALL_SIZE) });
    const largePut = await drive({ concurrency: LARGE_CONCURRENCY, maxOps: LARGE_CONCURRENCY * o.largeRounds, op: (_i, w) => put(`large/${w}`, o.largeBody) });
    const largeGet = await drive({ concurrency: LARGE_CONCURRENCY, maxOps: LARGE_CONCURRENCY * o.largeRounds, op: (_i, w) => get(`large/${w}`, LARGE_SIZE) });
    return { smallPut, smallGet, largePut, largeGet };
  } finally {
    client.destroy();
  }
}
