// Starts the S3 endpoint on a configured address and stops it cleanly (in-flight requests first, then the store).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/index.ts';
import { IdleGc } from './idle-gc.ts';
import { createApp } from './s3/app.ts';
import { onClientError, requestListener } from './s3/node-http.ts';
import { Replication } from './replication/manager.ts';
import type { WorkerOptions } from './replication/worker.ts';
import { openStore } from './store/level-store.ts';
import type { Store } from './store/types.ts';

export interface RunningServer {
  readonly port: number;
  readonly host: string;
  readonly store: Store;
  /** Stops accepting, waits up to `graceMs` for in-flight requests, then closes the store. */
  close(graceMs?: number): Promise<void>;
}

export interface ServerOptions {
  /** Replication worker tuning (tests shorten the probe interval and timeouts). */
  replication?: WorkerOptions;
}

export async function startServer(config: Config, log: (line: string) => void = (l) => console.error(l), options: ServerOptions = {}): Promise<RunningServer> {
  const replication = new Replication(log, options.replication);
  const store = await openStore({ dataDir: config.dataDir, staleUploadAgeMs: config.staleUploadAgeMs, minFreeBytes: config.minFreeBytes, log, attach: replication.attach });
  replication.start(store);
  const app = createApp({ config, store, log, replication });
  // Handlers write replies straight to the socket and return RESPONSE_ALREADY_SENT (src/s3/node-http.ts).
  const server = createServer(requestListener(app.fetch, log));
  // Large uploads over slow links outlive Node's default 300 s request timeout; stalled sockets are cut by the idle timeout.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  // Clients keep idle connections far longer than Node's 5 s (AWS SDKs and Go: 60-90 s) and reuse one just as the
  // server closes it: ECONNRESET, which a client without retries reports. Idle sockets cost a few KB each.
  server.keepAliveTimeout = 65_000;
  server.setTimeout(120_000);
  // Without a listener Node answers Expect: 100-continue before the app sees the request; the app sends it once a
  // handler starts reading the body, so a request refused from its headers is not sent its body (src/s3/app.ts).
  server.on('checkContinue', (req, res) => server.emit('request', req, res));
  // Any other Expect (empty, garbage): S3 ignores it, where Node would answer 417 itself.
  server.on('checkExpectation', (req, res) => server.emit('request', req, res));
  // Unparseable requests get S3's XML error instead of Node's bare 431/400 (src/s3/node-http.ts).
  server.on('clientError', onClientError);
  const idle = new IdleGc();
  const idleEnd = (): void => idle.end();
  server.on('request', (_req, res) => {
    idle.begin();
    res.on('close', idleEnd);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    idle.stop();
    await replication.stop();
    await store.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    port,
    host: config.host,
    store,
    close(graceMs = 10_000) {
      closing ??= (async () => {
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        await done;
        clearTimeout(timer);
        idle.stop();
        await replication.stop();
        await store.close();
      })();
      return closing;
    },
  };
}
