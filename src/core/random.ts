// mulberry32: a tiny seeded PRNG. Pure state-passing form for machines (the state lives in
// the actor's context, so a replay is exact), and a closure form for tests and benchmarks.

/** One draw: [r in [0, 1), the next state]. */
export function nextRandom(state: number): [number, number] {
  const s = (state + 0x6d2b79f5) >>> 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, s];
}

/** A generator of draws in [0, 1) from `seed`: the same sequence for the same seed. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    const [r, next] = nextRandom(state);
    state = next;
    return r;
  };
}
