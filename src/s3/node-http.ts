// Serves the hono app from node:http without the fetch API's Request/Response, which ferry never needs.
// Handlers write replies to the socket themselves; Node's Request/Response classes are its bundled undici,
// which loads on first touch and stays: ~5.7 MB of RssAnon measured here, a third of the idle budget.
import type { IncomingMessage, ServerResponse } from 'node:http';

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
