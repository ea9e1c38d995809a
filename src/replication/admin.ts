// The replication admin API: JSON over SigV4-authenticated HTTP under /_ferry/replication, a path no bucket can take
// ("_" cannot start a bucket name: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
//
//   GET    /_ferry/replication[?bucket=b]                  list targets (secrets never included)
//   POST   /_ferry/replication?bucket=b                    add a target (JSON body, see targetFromInput)
//   DELETE /_ferry/replication/<id>                        remove a target and its queue
//   GET    /_ferry/replication/status[?bucket=b][&target=id]
//   POST   /_ferry/replication/resync?bucket=b[&target=id] queue existing objects; streams NDJSON progress lines
import { PassThrough, Readable } from 'node:stream';
import type { S3Reply } from '../s3/context.ts';
import { S3Error } from '../s3/errors.ts';
import type { Replication } from './manager.ts';

export const ADMIN_ROOT = '_ferry';

export interface AdminRequest {
  method: string;
  /** The path after /_ferry/, decoded. */
  path: string;
  query: URLSearchParams;
  body(): Promise<Buffer>;
}

function json(value: unknown, status = 200): S3Reply {
  const bytes = Buffer.from(JSON.stringify(value) + '\n');
  return { status, headers: { 'Content-Type': 'application/json', 'Content-Length': bytes.length }, body: Readable.from([bytes]) };
}

function param(query: URLSearchParams, name: string, required: boolean): string | undefined {
  const value = query.get(name) ?? undefined;
  if (required && !value) throw new S3Error('InvalidArgument', { message: `the ${name} query parameter is required` });
  return value || undefined;
}

export async function adminReply(replication: Replication, req: AdminRequest): Promise<S3Reply> {
  const parts = req.path.split('/').filter((p) => p !== '');
  if (parts[0] !== 'replication' || parts.length > 2) throw new S3Error('InvalidRequest', { message: `unknown admin path /${ADMIN_ROOT}/${req.path}` });
  const sub = parts[1];
  const bucket = param(req.query, 'bucket', false);
  const target = param(req.query, 'target', false);
  if (sub === undefined && req.method === 'GET') return json({ targets: replication.list(bucket) });
  if (sub === undefined && req.method === 'POST') {
    let input: unknown;
    try {
      input = JSON.parse((await req.body()).toString('utf8'));
    } catch {
      throw new S3Error('InvalidArgument', { message: 'the body must be a JSON object' });
    }
    return json({ target: await replication.add(param(req.query, 'bucket', true)!, input) }, 201);
  }
  if (sub === 'status' && req.method === 'GET') return json({ targets: await replication.status(bucket, target) });
  if (sub === 'resync' && req.method === 'POST') return resync(replication, param(req.query, 'bucket', true)!, target);
  if (sub !== undefined && sub !== 'status' && sub !== 'resync' && req.method === 'DELETE') {
    await replication.remove(sub);
    return json({ removed: sub });
  }
  throw new S3Error('MethodNotAllowed');
}

/** Progress goes out as it happens, one JSON line per page of 1000 keys, so the CLI can draw a bar. */
async function resync(replication: Replication, bucket: string, target: string | undefined): Promise<S3Reply> {
  replication.select(bucket, target);
  const total = await replication.countObjects(bucket);
  const out = new PassThrough();
  const line = (value: unknown) => out.write(JSON.stringify(value) + '\n');
  line({ total });
  replication.resync(bucket, target, (queued, scanned) => line({ queued, scanned, total })).then(
    (done) => out.end(JSON.stringify({ done: true, ...done, total }) + '\n'),
    (err: unknown) => out.end(JSON.stringify({ error: (err as Error).message }) + '\n'),
  );
  return { status: 200, headers: { 'Content-Type': 'application/x-ndjson' }, body: out };
}
