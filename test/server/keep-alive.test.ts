// Idle keep-alive connections outlive Node's 5 s default, so clients that pool sockets for a minute do not reuse one
// the server is closing (ECONNRESET for a client without retries).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFerry, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
before(async () => {
  srv = await startFerry();
});
after(async () => srv.stop());

/** An anonymous GET (403 is fine: any complete answer keeps the connection) and the socket it went over. */
function get(agent: Agent): Promise<{ res: IncomingMessage; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, path: '/', agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ res, socket: req.socket as Socket }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

test('a connection idle for 6 s is still served, and the server announces its 65 s keep-alive', { timeout: 30_000 }, async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await get(agent);
    assert.equal(first.res.headers['keep-alive'], 'timeout=65');
    await sleep(6_000);
    assert.equal(first.socket.destroyed, false, 'the server kept the idle connection open');
    const second = await get(agent);
    assert.equal(second.socket, first.socket, 'the second request reused the idle connection');
    assert.equal(second.res.statusCode, first.res.statusCode);
  } finally {
    agent.destroy();
  }
});
