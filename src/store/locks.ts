// In-process async locks: a mutex per name (bucket+key, upload) and a shared/exclusive lock per bucket.

export type Release = () => void;

/** One holder per name at a time, FIFO. Entries vanish when idle, so memory follows the contention, not the key space. */
export class KeyedMutex {
  #tails = new Map<string, Promise<void>>();

  async lock(name: string): Promise<Release> {
    const previous = this.#tails.get(name);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => { release = resolve; });
    const tail = previous === undefined ? mine : previous.then(() => mine);
    this.#tails.set(name, tail);
    if (previous !== undefined) await previous;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      if (this.#tails.get(name) === tail) this.#tails.delete(name);
    };
  }

  async with<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const release = await this.lock(name);
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

interface SharedState {
  readers: number;
  writer: boolean;
  queue: Array<{ exclusive: boolean; grant: () => void }>;
}

/** Many shared holders or one exclusive holder per name; waiters are served in arrival order. */
export class SharedLock {
  #states = new Map<string, SharedState>();

  shared(name: string): Promise<Release> {
    return this.#acquire(name, false);
  }

  exclusive(name: string): Promise<Release> {
    return this.#acquire(name, true);
  }

  async #acquire(name: string, exclusive: boolean): Promise<Release> {
    let state = this.#states.get(name);
    if (state === undefined) {
      state = { readers: 0, writer: false, queue: [] };
      this.#states.set(name, state);
    }
    const held = state;
    if (held.queue.length > 0 || !compatible(held, exclusive)) {
      await new Promise<void>((grant) => held.queue.push({ exclusive, grant }));
    } else {
      take(held, exclusive);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (exclusive) held.writer = false;
      else held.readers--;
      this.#drain(name, held);
    };
  }

  #drain(name: string, state: SharedState): void {
    for (let next = state.queue[0]; next !== undefined && compatible(state, next.exclusive); next = state.queue[0]) {
      state.queue.shift();
      take(state, next.exclusive);
      next.grant();
    }
    if (state.readers === 0 && !state.writer && state.queue.length === 0) this.#states.delete(name);
  }
}

function compatible(state: SharedState, exclusive: boolean): boolean {
  return exclusive ? state.readers === 0 && !state.writer : !state.writer;
}

function take(state: SharedState, exclusive: boolean): void {
  if (exclusive) state.writer = true;
  else state.readers++;
}
