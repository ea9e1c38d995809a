// Virtual-host-style addressing (bucket in the Host header) when FERRY_DOMAIN is set; path style keeps working.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFerry, type TestServer } from '../helpers/server.ts';
import { signedRequest } from '../helpers/raw.ts';

let srv: TestServer;
before(async () => {
  srv = await startFerry({ FERRY_DOMAIN: 's3.edge.test' });
});
after(async () => srv.stop());

test('the bucket comes from the Host header under FERRY_DOMAIN', async () => {
  const host = `photos.s3.edge.test:${srv.port}`;
  assert.equal((await signedRequest(srv.port, { method: 'PUT', path: '/', host })).status, 200);
  const put = await signedRequest(srv.port, { method: 'PUT', path: '/2026/a%20b.jpg', host, body: 'vh body' });
  assert.equal(put.status, 200, put.text);
  const get = await signedRequest(srv.port, { method: 'GET', path: '/2026/a%20b.jpg', host });
  assert.equal(get.text, 'vh body');
  const list = await signedRequest(srv.port, { method: 'GET', path: '/?list-type=2', host });
  assert.match(list.text, /<Name>photos<\/Name>/);
  assert.match(list.text, /<Key>2026\/a b\.jpg<\/Key>/);
  // The same object by path style on the bare domain and on the IP address.
  const bare = await signedRequest(srv.port, { method: 'GET', path: '/photos/2026/a%20b.jpg', host: `s3.edge.test:${srv.port}` });
  assert.equal(bare.text, 'vh body');
  const byIp = await signedRequest(srv.port, { method: 'GET', path: '/photos/2026/a%20b.jpg' });
  assert.equal(byIp.text, 'vh body');
});
