// MurmurHash3's 32-bit finalizer: spreads every input bit over the whole word, so a hash
// built by cheap steps (FNV-1a, murmur's rounds) fills a power-of-two table or a block
// index evenly. Shared by the path table's hash and the delta's strong block hash.

/** The finalized hash of `h`, unsigned. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
