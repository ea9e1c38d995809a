// The WebAssembly four-lane MD5 block function: OpenSSL's digests in every lane, for lengths around the block edges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { MD5_LAYOUT as L, md5WasmModule } from '../../src/s3/md5-wasm.ts';

const INIT = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
const exports = new WebAssembly.Instance(md5WasmModule()).exports as unknown as {
  md5x4: (p0: number, p1: number, p2: number, p3: number, blocks: number, state: number) => void;
  mem: WebAssembly.Memory;
};
const memory = new Uint8Array(exports.mem.buffer);
const words = new DataView(exports.mem.buffer);

/** RFC 1321 3.1-3.2: a 0x80 byte, zeros to 56 mod 64, the length in bits as 64-bit little-endian. */
function padded(message: Buffer): Buffer {
  const total = message.length % 64 < 56 ? 64 : 128;
  const pad = Buffer.alloc(total - (message.length % 64));
  pad[0] = 0x80;
  pad.writeUInt32LE((message.length % 2 ** 29) * 8, pad.length - 8);
  pad.writeUInt32LE(Math.floor(message.length / 2 ** 29), pad.length - 4);
  return Buffer.concat([message, pad]);
}

const hex = (state: number[]): string => Buffer.from(new Uint32Array(state).buffer).toString('hex');
const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');
const slot = (l: number): number => L.stageAt + l * L.stageBytes;

function fourLanes(messages: Buffer[]): string[] {
  const data = messages.map(padded);
  for (let l = 0; l < 4; l++) INIT.forEach((w, k) => words.setUint32(L.vectorState + 16 * k + 4 * l, w, true));
  for (let at = 0; at < data[0]!.length; at += L.stageBytes) {
    data.forEach((d, l) => memory.set(d.subarray(at, at + L.stageBytes), slot(l)));
    exports.md5x4(slot(0), slot(1), slot(2), slot(3), Math.min(L.stageBytes, data[0]!.length - at) / 64, L.vectorState);
  }
  return [0, 1, 2, 3].map((l) => hex([0, 1, 2, 3].map((k) => words.getUint32(L.vectorState + 16 * k + 4 * l, true))));
}

const LENGTHS = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, L.stageBytes - 1, L.stageBytes + 70, 3 * L.stageBytes];

test('md5x4 gives OpenSSL MD5 in each of its four lanes, independently', () => {
  for (const length of LENGTHS) {
    const messages = [0, 1, 2, 3].map(() => randomBytes(length));
    assert.deepEqual(fourLanes(messages), messages.map(md5), `length ${length}`);
  }
  assert.equal(fourLanes([Buffer.from('abc'), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)])[0], '900150983cd24fb0d6963f7d28e17f72'); // RFC 1321 A.5
  const same = Buffer.alloc(4096, 7);
  assert.deepEqual(fourLanes([same, same, same, Buffer.from(same).fill(8)]), [md5(same), md5(same), md5(same), md5(Buffer.alloc(4096, 8))]);
});
