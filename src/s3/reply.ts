// The one place that writes responses to the socket: replies from handlers and S3 error documents.
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { releaseBuffer } from '../release-buffer.ts';
import type { S3Reply } from './context.ts';
import { S3Error } from './errors.ts';
import { renderXml } from './xml.ts';

export function writeReply(res: ServerResponse, reply: S3Reply, requestId: string, isHead: boolean): Promise<void> {
  const headers: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(reply.headers ?? {})) if (value !== undefined) headers[name] = value;
  headers['x-amz-request-id'] = requestId;
  headers['x-amz-id-2'] = requestId;
  headers['Server'] = 'ferry';
  const status = reply.status ?? 200;
  if (reply.body) {
    res.writeHead(status, headers);
    if (isHead) {
      reply.body.destroy();
      res.end();
      return Promise.resolve();
    }
    return sendBody(reply.body, res);
  }
  if (reply.xml !== undefined) {
    const bytes = Buffer.from(reply.xml);
    headers['Content-Type'] = 'application/xml';
    headers['Content-Length'] = bytes.length;
    res.writeHead(status, headers);
    res.end(isHead ? undefined : bytes);
  } else {
    if (headers['Content-Length'] === undefined && status !== 204 && status !== 304) headers['Content-Length'] = 0;
    res.writeHead(status, headers);
    res.end();
  }
  return Promise.resolve();
}

/**
 * Streams a body to the response and resolves once the response is closed. pipe() with two listeners rather than
 * stream.pipeline, whose end-of-stream trackers and abort signals were the largest allocation of a small GET.
 * A body whose chunks are its own (`disposableChunks`, an object's file stream) has each freed once the socket
 * has taken it: four concurrent 64 MiB GETs otherwise left tens of MB of read buffers to the collector.
 */
function sendBody(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    // A read error mid-body cannot become an XML error any more: cutting the connection tells the client.
    const onError = (): void => {
      res.destroy();
    };
    body.once('error', onError);
    res.once('close', () => {
      body.off('error', onError);
      // The client went away (or the body failed): let go of the body and its open file.
      if (!body.destroyed) body.destroy();
      resolve();
    });
    if ((body as { disposableChunks?: boolean }).disposableChunks !== true) {
      body.pipe(res);
      return;
    }
    // pipe(), with a write callback that frees the chunk.
    const resume = (): void => {
      body.resume();
    };
    res.on('drain', resume);
    body.on('data', (chunk: Buffer) => {
      if (!res.write(chunk, () => releaseBuffer(chunk))) body.pause();
    });
    body.once('end', () => {
      res.off('drain', resume);
      res.end();
    });
  });
}

export function errorReply(err: S3Error, resource: string, requestId: string): S3Reply {
  const headers: Record<string, string> = { ...(err.headers ?? {}) };
  // 304 carries no body (RFC 9110 15.4.5); everything else gets S3's <Error> document.
  if (err.status === 304) return { status: 304, headers };
  const xml = renderXml(
    'Error',
    {
      Code: err.code,
      Message: err.message,
      ...(err.detail ?? {}),
      // The request's own path, as S3 prints it; an error may name another full path (a copy source).
      Resource: err.resource?.startsWith('/') ? err.resource : resource,
      RequestId: requestId,
      HostId: requestId,
    },
    false,
  );
  return { status: err.status, headers, xml };
}
