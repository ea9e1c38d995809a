// Serves the hono app from node:http without the fetch API's Request/Response, which ferry never needs.
// Handlers write replies to the socket themselves; Node's Request/Response classes are its bundled undici,
// which loads on first touch and stays: ~5.7 MB of RssAnon measured here, a third of the idle budget.
import { randomBytes } from 'node:crypto';
import { STATUS_CODES, maxHeaderSize } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { S3Error } from './errors.ts';
import { errorReply } from './reply.ts';

/** hono's `c.env`: the raw request and response of node:http. */
export interface HttpBindings {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

/** What a handler returns once it has written its reply to `outgoing`. Not a Response: hono only passes it on. */
export const RESPONSE_ALREADY_SENT = Object.freeze({ ferryReplySent: true }) as unknown as Response;

/** hono's `app.fetch`. It reads only the method (routing) and the URL (the path) of the request it is given. */
type Fetch = (request: Request, env: HttpBindings) => Response | Promise<Response>;

export function requestListener(fetch: Fetch, log: (line: string) => void): (incoming: IncomingMessage, outgoing: ServerResponse) => void {
  const failed = (incoming: IncomingMessage, outgoing: ServerResponse, err: unknown): void => {
    // app.onError renders every error, so this is a bug: say so once and cut the connection.
    log(`request ${incoming.method} ${incoming.url}: unhandled: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    outgoing.destroy();
  };
  return function onRequest(incoming, outgoing) {
    const request = {
      // hono answers HEAD by dispatching GET and wrapping the result in a new Response (hono-base.ts #dispatch).
      // Handlers read the real method from `incoming` and write HEAD replies themselves: dispatch GET directly.
      method: incoming.method === 'HEAD' ? 'GET' : (incoming.method ?? 'GET'),
      // hono takes the path from an absolute URL; the host part is never read.
      url: `http://ferry${incoming.url ?? '/'}`,
    } as unknown as Request;
    let reply: Response | Promise<Response>;
    try {
      reply = fetch(request, { incoming, outgoing });
    } catch (err) {
      failed(incoming, outgoing, err);
      return;
    }
    Promise.resolve(reply).then(
      (res) => {
        if (res !== RESPONSE_ALREADY_SENT) failed(incoming, outgoing, new Error('a handler returned a Response instead of writing its reply'));
      },
      (err: unknown) => failed(incoming, outgoing, err),
    );
  };
}

/** How long a refused connection may stay open for the client to read the error. */
const CLIENT_ERROR_LINGER_MS = 2_000;

function clientS3Error(err: Error & { code?: string }): S3Error {
  switch (err.code) {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (RequestHeaderSectionTooLarge)
    case 'HPE_HEADER_OVERFLOW':
      return new S3Error('RequestHeaderSectionTooLarge', { cause: err, detail: { MaxSizeAllowed: maxHeaderSize } });
    // headersTimeout ran out before the request head was complete.
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new S3Error('RequestTimeout', { cause: err });
    default:
      return new S3Error('BadRequest', { cause: err });
  }
}

/**
 * node:http's 'clientError' listener. A request Node cannot parse (a head past its header limit, a malformed request
 * line or header, bad chunked framing) never reaches the app; without a listener Node answers a bare 431 or 400.
 * S3 answers these with its XML error document (RequestHeaderSectionTooLarge, or BadRequest "An error occurred when
 * parsing the HTTP request."), so clients and SDKs can read the code. Written straight to the socket, as the Node
 * docs prescribe (https://nodejs.org/api/http.html#event-clienterror), then the connection closes: its parser is dead.
 */
export function onClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (answered.has(socket)) return;
  answered.add(socket);
  // Node's own rule: never write over a response already under way on this socket (_http_server.js socketOnError).
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const reply = errorReply(clientS3Error(err), '/', requestId);
  const body = Buffer.from(reply.xml ?? '');
  const head = [
    `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status ?? 400] ?? ''}`,
    `Date: ${new Date().toUTCString()}`,
    'Content-Type: application/xml',
    `Content-Length: ${body.length}`,
    `x-amz-request-id: ${requestId}`,
    `x-amz-id-2: ${requestId}`,
    'Server: ferry',
    'Connection: close',
    '',
    '',
  ].join('\r\n');
  // end() rather than destroy(): closing with unread request bytes would reset the connection and could discard the
  // reply before the client reads it. The rest of the request is read and dropped until the client closes, bounded.
  socket.on('data', () => {});
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
}

/** Sockets already answered: a dead parser reports every later chunk as another error. */
const answered = new WeakSet<Duplex>();
