// A fault-injecting TCP proxy on loopback: pass-through, refuse (drop new connections), blackhole, reset mid-transfer, throttle.
import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

export type FaultMode =
  /** Bytes flow both ways. */
  | 'pass'
  /** New connections are accepted and closed at once with a reset; open ones are cut. */
  | 'drop'
  /** Connections are accepted, requests swallowed, nothing answered. */
  | 'blackhole';

export interface FaultProxy {
  readonly port: number;
  readonly endpoint: string;
  mode: FaultMode;
  /** Reset every connection once it has carried this many more upstream-bound bytes (undefined: never). */
  resetAfterBytes: number | undefined;
  /** Bytes per second upstream-bound per connection (undefined: unlimited). */
  throttle: number | undefined;
  /** Upstream-bound bytes forwarded so far. */
  readonly bytesUp: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Cuts every open connection (as a link drop would). */
  cutAll(): void;
  setMode(mode: FaultMode): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetPort: number, mode: FaultMode = 'pass'): Promise<FaultProxy> {
  const open = new Set<Socket>();
  let bytesUp = 0;
  let connections = 0;
  const state = { mode, resetAfterBytes: undefined as number | undefined, throttle: undefined as number | undefined };

  const server: Server = createServer((client) => {
    connections++;
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    if (state.mode === 'drop') {
      client.resetAndDestroy();
      return;
    }
    if (state.mode === 'blackhole') {
      client.resume();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    open.add(upstream);
    upstream.on('close', () => {
      open.delete(upstream);
      client.destroy();
    });
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    let carried = 0;
    const budget = state.resetAfterBytes;
    client.on('data', (chunk: Buffer) => {
      carried += chunk.length;
      bytesUp += chunk.length;
      if (budget !== undefined && carried >= budget) {
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      const ok = upstream.write(chunk);
      const rate = state.throttle;
      if (rate !== undefined) {
        client.pause();
        setTimeout(() => client.resume(), (chunk.length / rate) * 1000);
      } else if (!ok) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const proxy: FaultProxy = {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(value: FaultMode) {
      state.mode = value;
    },
    get resetAfterBytes() {
      return state.resetAfterBytes;
    },
    set resetAfterBytes(value: number | undefined) {
      state.resetAfterBytes = value;
    },
    get throttle() {
      return state.throttle;
    },
    set throttle(value: number | undefined) {
      state.throttle = value;
    },
    get bytesUp() {
      return bytesUp;
    },
    get connections() {
      return connections;
    },
    cutAll() {
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    setMode(next: FaultMode) {
      state.mode = next;
      if (next !== 'pass') proxy.cutAll();
    },
    async close() {
      proxy.cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
