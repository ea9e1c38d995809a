// A token bucket shared by a target's uploads, and the Transform that makes a body stream wait for its tokens.
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';

export class TokenBucket {
  readonly rate: number;
  readonly #burst: number;
  #tokens: number;
  #last = performance.now();
  /** Waiters are served in order so one large upload cannot starve the others. */
  #tail: Promise<void> = Promise.resolve();

  /** `rate` bytes per second; the burst is a quarter second of it (at least 16 KiB). */
  constructor(rate: number) {
    this.rate = rate;
    this.#burst = Math.max(16 * 1024, rate / 4);
    this.#tokens = this.#burst;
  }

  take(bytes: number): Promise<void> {
    const turn = this.#tail.then(() => this.#wait(bytes));
    this.#tail = turn.catch(() => {});
    return turn;
  }

  async #wait(bytes: number): Promise<void> {
    let need = bytes;
    while (need > 0) {
      const now = performance.now();
      this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.rate);
      this.#last = now;
      const grant = Math.min(need, Math.max(0, Math.floor(this.#tokens)));
      this.#tokens -= grant;
      need -= grant;
      if (need > 0) await new Promise((r) => setTimeout(r, Math.max(5, (Math.min(need, this.#burst) / this.rate) * 1000)));
    }
  }
}

/** Passes chunks through once the bucket grants their bytes. */
export function throttled(bucket: TokenBucket): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      bucket.take(chunk.length).then(() => done(null, chunk), done);
    },
  });
}
