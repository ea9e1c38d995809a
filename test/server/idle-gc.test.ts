// IdleGc: one memory-reducing collection per quiet spell, never while a request is in flight.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdleGc } from '../../src/idle-gc.ts';

function recorder(): { gc: NodeJS.GCFunction; calls: unknown[] } {
  const calls: unknown[] = [];
  const gc = ((options?: unknown) => {
    calls.push(options);
  }) as NodeJS.GCFunction;
  return { gc, calls };
}

describe('IdleGc', () => {
  it('collects once after start-up when nothing happens, with the last-resort flavour', async () => {
    const { gc, calls } = recorder();
    const idle = new IdleGc(30, gc);
    await sleep(150);
    idle.stop();
    assert.deepEqual(calls, [{ type: 'major', flavor: 'last-resort' }]);
  });

  it('waits for the last request in flight to end, then collects once per quiet spell', async () => {
    const { gc, calls } = recorder();
    const idle = new IdleGc(40, gc);
    idle.begin();
    idle.begin();
    await sleep(120);
    assert.equal(calls.length, 0, 'no collection while requests are in flight');
    idle.end();
    await sleep(120);
    assert.equal(calls.length, 0, 'one request is still in flight');
    idle.end();
    await sleep(120);
    assert.equal(calls.length, 1, 'collected once the last request ended');
    await sleep(120);
    assert.equal(calls.length, 1, 'a quiet server is not collected again');
    idle.begin();
    idle.end();
    await sleep(120);
    assert.equal(calls.length, 2, 'a new burst earns a new collection');
    idle.stop();
  });
});
