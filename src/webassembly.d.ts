// The few WebAssembly globals ferry uses (md5-wasm.ts, hash-thread.ts). TypeScript declares them only in its DOM
// libraries, which would also declare window, document and the rest for code that never has them.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: object);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
  }
}
