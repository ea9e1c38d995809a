// Gives a Buffer's memory back at once, for the large bodies that stream through ferry.

/**
 * V8 frees a Buffer's memory only when it collects the Buffer, and lets tens of MB of such external memory pile up
 * before it does; glibc then keeps the freed pages of its heap. Detaching the ArrayBuffer (a transfer to zero bytes)
 * frees its memory now. Only for a chunk that alone views its memory and that nothing reads again: views of a shared
 * pool or slab are left to the collector.
 */
export function releaseBuffer(chunk: Uint8Array): void {
  if (viewsAllOf(chunk) && !chunk.buffer.detached) chunk.buffer.transfer(0);
}

/** Whether `chunk` views the whole of a plain ArrayBuffer: detaching it then harms no other view. */
export function viewsAllOf(chunk: Uint8Array): chunk is Uint8Array<ArrayBuffer> {
  const buf = chunk.buffer;
  return chunk.byteOffset === 0 && chunk.byteLength === buf.byteLength && buf instanceof ArrayBuffer;
}
