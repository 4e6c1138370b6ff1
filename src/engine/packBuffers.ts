// The buffers pack batches fill (LocalTree.pack), reused instead of allocated per batch.
// A fresh 4 MiB buffer per batch costs a page fault per 4 KiB when the worker reads into it
// and external-memory garbage on the main thread: for 1 GiB sent, ~0.4 s of CPU
// (docs/performance.md). A buffer comes back only when its last user says it is done with
// it: the protocol connection, once a socket has taken its bytes (src/net/connection.ts).
// No dependencies, so the net layer can import it without the worker pools.

/** Buffers a pack batch produced, and no one has released yet: the length of their tar bytes. */
const ours = new WeakMap<ArrayBuffer, number>();
const free: ArrayBuffer[] = [];
/** Spare buffers kept (a stream keeps about two batches ahead of its consumer). */
const MAX_FREE = 8;

export function markPackBuffer(ab: ArrayBuffer, length: number): void {
  ours.set(ab, length);
}

/** A batch buffer of our own that no one has released yet (an unpack may transfer it). */
export function isPackBuffer(ab: ArrayBufferLike): boolean {
  return ab instanceof ArrayBuffer && ours.has(ab);
}

/** A spare buffer of exactly `size` bytes, if one was released. */
export function takePackBuffer(size: number): ArrayBuffer | undefined {
  for (let i = free.length - 1; i >= 0; i--) {
    if (free[i]!.byteLength === size) return free.splice(i, 1)[0];
  }
  return undefined;
}

/**
 * The caller has the only reference left to `chunk`'s bytes (a socket copied them): its
 * buffer may be filled again. Anything but a whole batch of an unreleased pack buffer is
 * ignored: a piece of one (a consumer's read(n)) leaves the rest still to be read.
 */
export function releasePackChunk(chunk: Buffer): void {
  const ab = chunk.buffer;
  if (!(ab instanceof ArrayBuffer) || chunk.byteOffset !== 0 || ours.get(ab) !== chunk.length) return;
  ours.delete(ab);
  if (ab.byteLength > 0 && free.length < MAX_FREE) free.push(ab);
}
