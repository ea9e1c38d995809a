// Pure parts of replication: time windows, bandwidth strings, the admin "add" validation, the queue's key order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seqKey } from '../../src/replication/queue.ts';
import { formatWindow, parseBandwidth, parseWindow, publicTarget, targetFromInput, windowDelayMs } from '../../src/replication/targets.ts';

const at = (h: number, m: number, s = 0) => new Date(2026, 0, 15, h, m, s);

test('a window that wraps midnight is open late and early, closed in the day', () => {
  const w = parseWindow('22:00-06:00');
  assert.deepEqual(w, { start: 22 * 60, end: 6 * 60 });
  assert.equal(formatWindow(w), '22:00-06:00');
  for (const [h, m] of [[22, 0], [23, 59], [0, 0], [5, 59]] as const) assert.equal(windowDelayMs(w, at(h, m)), 0, `${h}:${m}`);
  assert.equal(windowDelayMs(w, at(6, 0)), 16 * 3600_000);
  assert.equal(windowDelayMs(w, at(21, 59, 30)), 30_000);
});

test('a same-day window opens at its start and closes at its end', () => {
  const w = parseWindow('9:30-17:00');
  assert.equal(windowDelayMs(w, at(9, 30)), 0);
  assert.equal(windowDelayMs(w, at(16, 59)), 0);
  assert.equal(windowDelayMs(w, at(17, 0)), (24 * 60 - 17 * 60 + 9 * 60 + 30) * 60_000);
  assert.equal(windowDelayMs(undefined, at(3, 0)), 0);
});

test('malformed or empty windows are refused', () => {
  for (const bad of ['22-06', '24:00-01:00', '10:60-11:00', '08:00-08:00', '']) {
    assert.throws(() => parseWindow(bad), (err: { code?: string }) => err.code === 'InvalidArgument', bad);
  }
});

test('bandwidth accepts SI and binary units, with or without /s', () => {
  const table: Array<[string, number]> = [['2MiB/s', 2 * 1024 * 1024], ['500KB/s', 500_000], ['1.5MB', 1_500_000], ['4096', 4096], ['1GiB/s', 1024 ** 3], ['64kib', 65536]];
  for (const [text, bytes] of table) assert.equal(parseBandwidth(text), bytes, text);
  for (const bad of ['fast', '2 MiB/h', '10', '-5MB']) assert.throws(() => parseBandwidth(bad), (err: { code?: string }) => err.code === 'InvalidArgument', bad);
});

test('an add request gets defaults, validation, and never shows its secret in public form', () => {
  const t = targetFromInput({ endpoint: 'https://s3.example.com/', targetBucket: 'b', accessKey: 'AK', secretKey: 'SK' }, 'src');
  assert.equal(t.endpoint, 'https://s3.example.com');
  assert.equal(t.mode, 'mirror');
  assert.equal(t.region, 'us-east-1');
  assert.equal(t.concurrency, 4);
  assert.match(t.id, /^[0-9a-f]{12}$/);
  assert.equal('secretKey' in publicTarget(t), false);
  const full = targetFromInput({ endpoint: 'http://x:9000', targetBucket: 'b', accessKey: 'AK', secretKey: 'SK', mode: 'archive', window: '01:00-02:00', bandwidth: '1MiB/s', prefix: 'p/', pathStyle: true }, 'src');
  assert.deepEqual([full.mode, full.window, full.bandwidth, full.prefix, full.pathStyle], ['archive', { start: 60, end: 120 }, 1024 * 1024, 'p/', true]);
  const bad: unknown[] = [null, [], {}, { endpoint: 'nope', targetBucket: 'b', accessKey: 'a', secretKey: 's' },
    { endpoint: 'http://x', targetBucket: 'b', accessKey: 'a' }, { endpoint: 'http://x', targetBucket: 'b', accessKey: 'a', secretKey: 's', mode: 'sync' },
    { endpoint: 'http://x', targetBucket: 'b', accessKey: 'a', secretKey: 's', concurrency: 0 },
    { endpoint: 'http://x', targetBucket: 'b', accessKey: 'a', secretKey: 's', partSize: 1024 }];
  for (const input of bad) assert.throws(() => targetFromInput(input, 'src'), (err: { code?: string }) => err.code === 'InvalidArgument', JSON.stringify(input));
});

test('queue keys sort in seq order', () => {
  const keys = [1, 9, 10, 99, 100, 123456789].map(seqKey);
  assert.deepEqual([...keys].sort(), keys);
});
