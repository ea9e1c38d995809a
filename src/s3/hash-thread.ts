// The hash worker's own code (see hash-worker.ts): hashes bodies as their bytes come, hands the bytes back in order.
// hashThreadMain runs in the worker from its source text (Function.prototype.toString), so it closes over nothing:
// everything it uses is required or defined inside, and only built-in modules load inside a single executable.

/** What the worker is started with. */
export interface HashThreadData {
  /** md5-wasm.ts's module and layout. */
  md5: WebAssembly.Module;
  layout: { vectorState: number; stageAt: number; stageBytes: number };
}

export function hashThreadMain(): void {
  const { parentPort, workerData } = require('node:worker_threads') as typeof import('node:worker_threads');
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const { crc32 } = require('node:zlib') as typeof import('node:zlib');
  const port = parentPort!;
  const { md5, layout } = workerData as HashThreadData;
  const wasm = new WebAssembly.Instance(md5).exports as unknown as {
    md5x4: (p0: number, p1: number, p2: number, p3: number, blocks: number, state: number) => void;
    mem: WebAssembly.Memory;
  };
  const memory = new Uint8Array(wasm.mem.buffer);
  const words = new DataView(wasm.mem.buffer);
  const INIT = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const STAGE_BLOCKS = layout.stageBytes / 64;
  /** How long a lane with bytes waits for the others' before it is hashed with lanes left empty. */
  const WAIT_MS = 1;

  interface Hasher {
    update(bytes: Uint8Array): void;
    digest(): Uint8Array;
  }
  /** A message of bytes: it goes back once every byte of it is hashed (or staged for the lane function). */
  interface Message {
    bufs: ArrayBuffer[];
    left: number;
  }
  interface Piece {
    view: Uint8Array;
    at: number;
    message: Message;
  }
  /** An MD5 computed in a lane of md5x4, beside other bodies' (RFC 1321). */
  interface Lane {
    state: number[];
    length: number;
    tail: Uint8Array;
    tailLength: number;
    queue: Piece[];
    queued: number;
  }
  interface Job {
    id: number;
    names: string[];
    hashers: Array<Hasher | undefined>;
    lane: Lane | undefined;
    ending: boolean;
  }

  const jobs = new Map<number, Job>();
  let scheduled = false;
  let timer: NodeJS.Timeout | undefined;

  /** Bytes of a lane not yet hashed. */
  const pending = (lane: Lane): number => lane.queued + lane.tailLength;

  function hasher(name: string): Hasher {
    if (name === 'crc32') {
      let crc = 0;
      return {
        update(bytes) { crc = crc32(bytes, crc); },
        digest() { const out = Buffer.allocUnsafe(4); out.writeUInt32BE(crc >>> 0, 0); return out; },
      };
    }
    const hash = createHash(name);
    return { update: (bytes) => hash.update(bytes), digest: () => hash.digest() };
  }

  function giveBack(job: Job, message: Message): void {
    // The bytes go back (moved, not copied): they are the body, on their way to the file.
    port.postMessage({ op: 'ack', id: job.id, bufs: message.bufs }, message.bufs);
  }

  function consumed(job: Job, piece: Piece, n: number): void {
    piece.message.left -= n;
    if (piece.message.left === 0) giveBack(job, piece.message);
  }

  /** Copies `bytes` (whole blocks) of the lane's tail and queue to lane slot `slot` of the staging area. */
  function stage(job: Job, slot: number, bytes: number): void {
    const lane = job.lane!;
    let at = layout.stageAt + slot * layout.stageBytes;
    let need = bytes;
    if (lane.tailLength > 0) {
      memory.set(lane.tail.subarray(0, lane.tailLength), at);
      at += lane.tailLength;
      need -= lane.tailLength;
      lane.tailLength = 0;
    }
    while (need > 0) {
      const head = lane.queue[0]!;
      const take = Math.min(need, head.view.length - head.at);
      memory.set(head.view.subarray(head.at, head.at + take), at);
      at += take;
      need -= take;
      head.at += take;
      lane.queued -= take;
      if (head.at === head.view.length) lane.queue.shift();
      consumed(job, head, take);
    }
    // Less than a block left: it waits in the tail, and its message goes back now.
    if (lane.queued < 64) keepTail(job);
  }

  function keepTail(job: Job): void {
    const lane = job.lane!;
    for (const piece of lane.queue.splice(0)) {
      const rest = piece.view.subarray(piece.at);
      lane.tail.set(rest, lane.tailLength);
      lane.tailLength += rest.length;
      consumed(job, piece, rest.length);
    }
    lane.queued = 0;
  }

  function runLanes(group: Job[], blocks: number): void {
    for (let slot = 0; slot < 4; slot++) {
      const state = group[slot]?.lane!.state ?? INIT;
      for (let k = 0; k < 4; k++) words.setUint32(layout.vectorState + 16 * k + 4 * slot, state[k]!, true);
    }
    // Empty slots hash slot 0's bytes into a state nobody reads.
    const at = (slot: number): number => layout.stageAt + (slot < group.length ? slot : 0) * layout.stageBytes;
    wasm.md5x4(at(0), at(1), at(2), at(3), blocks, layout.vectorState);
    for (let slot = 0; slot < group.length; slot++) {
      const state = group[slot]!.lane!.state;
      for (let k = 0; k < 4; k++) state[k] = words.getUint32(layout.vectorState + 16 * k + 4 * slot, true);
    }
  }

  function laneDigest(job: Job): Uint8Array {
    keepTail(job);
    const lane = job.lane!;
    const block = layout.stageAt;
    const padded = lane.tailLength < 56 ? 64 : 128;
    memory.fill(0, block, block + padded);
    memory.set(lane.tail.subarray(0, lane.tailLength), block);
    memory[block + lane.tailLength] = 0x80;
    // The message length in bits, as a 64-bit little-endian number.
    words.setUint32(block + padded - 8, (lane.length % 2 ** 29) * 8, true);
    words.setUint32(block + padded - 4, Math.floor(lane.length / 2 ** 29), true);
    runLanes([job], padded / 64);
    const out = Buffer.allocUnsafe(16);
    for (let k = 0; k < 4; k++) out.writeUInt32LE(lane.state[k]! >>> 0, 4 * k);
    return out;
  }

  function finish(job: Job): void {
    jobs.delete(job.id);
    const digests = job.names.map((_, i) => new Uint8Array(job.hashers[i]?.digest() ?? laneDigest(job)));
    port.postMessage({ op: 'done', id: job.id, digests });
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => pump(false));
  }

  /**
   * Hashes every lane that has a block, four at a time. Unless `force`, it first waits (WAIT_MS at most) until
   * every lane body has bytes: a call costs the same with one lane filled as with four.
   */
  function pump(force: boolean): void {
    scheduled = false;
    clearTimeout(timer);
    timer = undefined;
    for (;;) {
      const ready: Job[] = [];
      let lanes = 0;
      let urgent = force;
      for (const job of jobs.values()) {
        if (job.lane === undefined) continue;
        lanes++;
        if (pending(job.lane) < 64) continue;
        ready.push(job);
        urgent ||= job.ending;
      }
      if (ready.length === 0) break;
      if (ready.length < Math.min(4, lanes) && !urgent) {
        timer = setTimeout(() => pump(true), WAIT_MS);
        break;
      }
      const group = ready.slice(0, 4);
      let blocks = STAGE_BLOCKS;
      for (const job of group) blocks = Math.min(blocks, Math.floor(pending(job.lane!) / 64));
      group.forEach((job, slot) => stage(job, slot, blocks * 64));
      runLanes(group, blocks);
    }
    for (const job of [...jobs.values()]) {
      if (job.ending && (job.lane === undefined || pending(job.lane) < 64)) finish(job);
    }
  }

  port.on('message', (m: { op: string; id: number; hashes?: string[]; bufs?: ArrayBuffer[] }) => {
    if (m.op === 'start') {
      const names = m.hashes!;
      // MD5 in a lane only beside other bodies: alone, OpenSSL's is faster than one lane of four.
      const lane: Lane | undefined = names.includes('md5') && jobs.size > 0
        ? { state: INIT.slice(), length: 0, tail: new Uint8Array(64), tailLength: 0, queue: [], queued: 0 }
        : undefined;
      const hashers = names.map((name) => (name === 'md5' && lane !== undefined ? undefined : hasher(name)));
      jobs.set(m.id, { id: m.id, names, hashers, lane, ending: false });
    } else if (m.op === 'data') {
      const job = jobs.get(m.id);
      const bufs = m.bufs!;
      if (job === undefined) return;
      const message: Message = { bufs, left: 0 };
      for (const buf of bufs) {
        const view = new Uint8Array(buf);
        for (const h of job.hashers) h?.update(view);
        if (job.lane !== undefined) {
          job.lane.queue.push({ view, at: 0, message });
          job.lane.queued += view.length;
          job.lane.length += view.length;
          message.left += view.length;
        }
      }
      if (job.lane === undefined) giveBack(job, message);
      else schedule();
    } else if (m.op === 'end') {
      const job = jobs.get(m.id);
      if (job === undefined) return;
      job.ending = true;
      if (job.lane === undefined) finish(job);
      else schedule();
    } else if (m.op === 'abort') {
      jobs.delete(m.id);
    }
  });
}
