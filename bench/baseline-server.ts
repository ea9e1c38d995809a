// The ceiling for Node on this box: plain node:http that streams PUT bodies to a file (fsync + rename) and GETs them back.
// No auth, no metadata, no checksums; run as a child of bench/run.ts: `node bench/baseline-server.ts <data-dir>`.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

const dataDir = process.argv[2];
if (!dataDir) {
  console.error('usage: baseline-server.ts <data-dir>');
  process.exit(2);
}
const TMP = join(dataDir, 'tmp');
const DATA = join(dataDir, 'data');
await mkdir(TMP, { recursive: true });
await mkdir(DATA, { recursive: true });

/** Objects live flat, named by a hash of bucket/key: no directory tree to walk or create. */
function pathOf(urlPath: string): string {
  return join(DATA, createHash('sha256').update(urlPath).digest('hex'));
}

function reply(res: ServerResponse, status: number, body = ''): void {
  res.writeHead(status, { 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function put(req: IncomingMessage, res: ServerResponse, urlPath: string): Promise<void> {
  const tmp = join(TMP, randomBytes(12).toString('hex'));
  try {
    // flush: true fsyncs the file before close, so the rename publishes durable bytes.
    await pipeline(req, createWriteStream(tmp, { flush: true }));
    await rename(tmp, pathOf(urlPath));
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  reply(res, 200);
}

async function get(res: ServerResponse, urlPath: string): Promise<void> {
  let fh;
  try {
    fh = await open(pathOf(urlPath), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reply(res, 404, 'NoSuchKey');
    throw err;
  }
  const { size } = await fh.stat();
  res.writeHead(200, { 'Content-Length': size, 'Content-Type': 'application/octet-stream' });
  await pipeline(fh.createReadStream(), res);
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const segments = url.pathname.split('/').filter(Boolean);
  let work: Promise<void>;
  if (segments.length === 1 && req.method === 'PUT') {
    req.resume();
    work = Promise.resolve(reply(res, 200)); // CreateBucket: buckets are not tracked
  } else if (segments.length >= 2 && req.method === 'PUT') {
    work = put(req, res, url.pathname);
  } else if (segments.length >= 2 && req.method === 'GET') {
    work = get(res, url.pathname);
  } else {
    req.resume();
    work = Promise.resolve(reply(res, 501, 'NotImplemented'));
  }
  work.catch((err: unknown) => {
    console.error(`baseline: ${req.method} ${req.url}: ${(err as Error).message}`);
    if (res.headersSent) res.destroy();
    else reply(res, 500, 'InternalError');
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(`baseline listening on 127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
