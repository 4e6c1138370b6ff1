// Versions of files in a mirrored tree: a vector of hybrid counters, one per node that
// ever changed the file. A counter is a millisecond timestamp that never goes backwards
// and always moves past what its writer had seen, so "newest wins" holds even when the
// writers' clocks disagree (docs/daemon-internals.md, "Versions").

/** node name -> hybrid counter (ms since the epoch, pushed forward where clocks lag). */
export type Version = Readonly<Record<string, number>>;

export type Order = 'equal' | 'before' | 'after' | 'concurrent';

export const EMPTY_VERSION: Version = Object.freeze({});

/**
 * The largest valid counter (2^53 - 1, the last integer a JSON number carries exactly).
 * Every counter isVersion accepts is at most this, and tick never goes past it (it
 * saturates), so no accepted record can be ticked into one that receivers refuse.
 */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** The largest counter of a version: when (in hybrid time) its newest change was made. */
export function maxCounter(v: Version): number {
  let m = 0;
  for (const k in v) if (v[k]! > m) m = v[k]!;
  return m;
}

/**
 * The node that made the newest change of `v`: the holder of the largest counter; among
 * equal counters the greatest node name (the same tie-break as pickWinner). '' for an
 * empty version.
 */
export function lastWriter(v: Version): string {
  let best = '';
  let m = -1;
  for (const k in v) {
    const c = v[k]!;
    if (c > m || (c === m && k > best)) {
      m = c;
      best = k;
    }
  }
  return best;
}

/**
 * The version of a change `node` makes to a file whose current version is `v`:
 * node's counter becomes max(counter + 1, nowMs), where counter is the largest counter
 * in `v` (the hybrid clock's "seen" part). Taking the largest, not just node's own, is
 * what makes this safe against clock skew: a node whose clock lags still produces a
 * version newer than everything it saw, so an edit made after receiving a change always
 * beats it, and in a concurrent tie it cannot lose merely because its clock is slow.
 */
export function tick(v: Version, node: string, nowMs: number): Version {
  // Saturates at MAX_COUNTER: a counter near it can only come from a corrupt or hostile
  // peer (it is the year 287,396 in ms), and an unbounded tick would make 2^53, which every
  // receiver refuses as a bad version: replication between those nodes would stop.
  const next = Math.min(MAX_COUNTER, Math.max(maxCounter(v) + 1, Math.floor(nowMs)));
  return { ...v, [node]: next };
}

/** Causal order of two versions (vector comparison; a missing node counts as 0). */
export function compare(a: Version, b: Version): Order {
  let aBigger = false;
  let bBigger = false;
  for (const k in a) {
    const x = a[k]!;
    const y = b[k] ?? 0;
    if (x > y) aBigger = true;
    else if (x < y) bBigger = true;
  }
  for (const k in b) {
    if (k in a) continue;
    if (b[k]! > 0) bBigger = true;
  }
  if (aBigger && bBigger) return 'concurrent';
  if (aBigger) return 'after';
  if (bBigger) return 'before';
  return 'equal';
}

/** Pointwise maximum: a version that has seen everything `a` and `b` have seen. */
export function merge(a: Version, b: Version): Version {
  const out: Record<string, number> = { ...a };
  for (const k in b) if (!(k in out) || b[k]! > out[k]!) out[k] = b[k]!;
  return out;
}

/**
 * Which of two versions wins: a total order every node computes the same way, on the key
 *  1. maxCounter: the newest change wins (hybrid time, so skew-safe);
 *  2. lastWriter: equally new -> the greater node name wins (plain string order);
 *  3. the sum of the counters;
 *  4. versionKey (canonical text), only for versions no real history produces.
 * This key extends the causal order: a descendant (pointwise >=, somewhere >) has a
 * maxCounter at least as large; if equal, the nodes holding it include the ancestor's,
 * so its lastWriter is at least as great; if that is equal too, its sum is larger. So a
 * causal descendant always wins, and unlike "descendant first, then newest" the order is
 * transitive, which convergence needs: whatever order versions arrive in, every node
 * ends with the same winner. 'a' for equal versions.
 */
export function pickWinner(a: Version, b: Version): 'a' | 'b' {
  return orderKeyCompare(a, b) >= 0 ? 'a' : 'b';
}

/** >0: a wins, <0: b wins, 0: equal versions (see pickWinner). */
export function orderKeyCompare(a: Version, b: Version): number {
  const ma = maxCounter(a);
  const mb = maxCounter(b);
  if (ma !== mb) return ma > mb ? 1 : -1;
  const wa = lastWriter(a);
  const wb = lastWriter(b);
  if (wa !== wb) return wa > wb ? 1 : -1;
  const sa = sum(a);
  const sb = sum(b);
  if (sa !== sb) return sa > sb ? 1 : -1;
  const ka = versionKey(a);
  const kb = versionKey(b);
  return ka === kb ? 0 : ka > kb ? 1 : -1;
}

function sum(v: Version): number {
  let s = 0;
  for (const k in v) s += v[k]!;
  return s;
}

/** Canonical text of a version (nodes sorted): equal versions give equal keys. */
export function versionKey(v: Version): string {
  // one node's version (nearly every record: a file written on one node) without the four
  // arrays of the general form; the journal keys each received record by it three times
  let one: string | undefined;
  let n = 0;
  for (const k in v) {
    if (++n > 1) break;
    one = k;
  }
  if (n === 1) return v[one!]! > 0 ? `${one}=${v[one!]}` : '';
  return Object.keys(v)
    .filter((k) => v[k]! > 0)
    .sort()
    .map((k) => `${k}=${v[k]}`)
    .join(',');
}

/** True when `v` is a well-formed version: node names non-empty, counters safe non-negative integers. */
export function isVersion(v: unknown): v is Version {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  for (const [k, c] of Object.entries(v)) {
    if (k === '' || typeof c !== 'number' || !Number.isSafeInteger(c) || c < 0 || c > MAX_COUNTER) return false;
  }
  return true;
}
