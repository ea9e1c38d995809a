// Uploads refused before their body is read: the client gets its error early, the server drops the rest of the
// body with the connection, and a client vanishing mid-wait never takes the server down.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { signedRequest } from '../helpers/raw.ts';

let srv: TestServer;
before(async () => {
  srv = await startFerry();
  assert.equal((await signedRequest(srv.port, { method: 'PUT', path: '/refused' })).status, 200);
});
after(async () => srv.stop());

/** Sends signed headers for a large UNSIGNED-PAYLOAD PUT plus `sent` bytes, then waits; resolves with what came back. */
async function partialPut(path: string, declared: number, sent: number, hangUp = false): Promise<{ status: number; closedByServer: boolean }> {
  const { Sha256 } = await import('../helpers/raw.ts');
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: 'FERRYTESTACCESSKEY', secretAccessKey: 'ferry-test-secret-key-0123456789' }, sha256: Sha256 as never, uriEscapePath: false, applyChecksum: false });
  const [pathname, search = ''] = path.split('?') as [string, string?];
  const query: Record<string, string> = Object.fromEntries(new URLSearchParams(search));
  const signed = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port: srv.port, path: pathname, query, headers: { host: `127.0.0.1:${srv.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(declared) } });
  const head = `PUT ${path} HTTP/1.1\r\n` + Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`).join('\r\n') + '\r\n\r\n';
  return new Promise((resolve, reject) => {
    const socket = connect(srv.port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 10 s: ${JSON.stringify(text.slice(0, 200))}`));
    }, 10_000);
    socket.on('connect', () => {
      socket.write(head);
      socket.write(Buffer.alloc(sent, 7));
      if (hangUp) {
        socket.destroy();
        clearTimeout(timer);
        resolve({ status: 0, closedByServer: false });
      }
    });
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), closedByServer: !hangUp });
    });
  });
}

test('refused uploads get their error without sending the body, and the server closes the connection', async () => {
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => partialPut(`/missing-bucket/k${i}`, 50 * 1024 * 1024, 256 * 1024)));
  for (const r of results) assert.deepEqual(r, { status: 404, closedByServer: true });
  const part = await partialPut('/refused/k?partNumber=1&uploadId=nope', 20 * 1024 * 1024, 64 * 1024);
  assert.deepEqual(part, { status: 404, closedByServer: true });
});

test('clients that hang up while their upload waits do not take the server down', async () => {
  await Promise.all(Array.from({ length: 30 }, (_, i) => partialPut(i % 2 ? `/refused/gone${i}` : `/refused/gone${i}?partNumber=1&uploadId=nope`, 1024 * 1024, 1000, true)));
  await new Promise((r) => setTimeout(r, 200));
  const ok = await signedRequest(srv.port, { method: 'PUT', path: '/refused/after', body: 'still alive' });
  assert.equal(ok.status, 200, ok.text);
  const list = await signedRequest(srv.port, { method: 'GET', path: '/refused?list-type=2' });
  assert.doesNotMatch(list.text, /<Key>gone/);
});
