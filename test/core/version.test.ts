import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compare, isVersion, lastWriter, MAX_COUNTER, maxCounter, merge, pickWinner, tick, versionKey, type Version } from '../../src/core/version.js';

test('tick: max(counter + 1, now) for the node', () => {
  assert.deepEqual(tick({}, 'a', 1000), { a: 1000 });
  assert.deepEqual(tick({ a: 1000 }, 'a', 5000), { a: 5000 }, 'clock ahead: the clock');
  assert.deepEqual(tick({ a: 1000 }, 'a', 1000), { a: 1001 }, 'same ms: counter + 1');
  assert.deepEqual(tick({ a: 1000 }, 'a', 10), { a: 1001 }, 'clock went back: counter + 1');
  assert.equal(tick({}, 'a', 1234.9).a, 1234, 'now is floored to whole ms');
});

test('tick: a lagging clock still produces a version newer than everything it saw (skew safety)', () => {
  const fromB: Version = { b: 50_000 }; // b's clock is 40 s ahead of a's
  const edited = tick(fromB, 'a', 10_000);
  assert.deepEqual(edited, { b: 50_000, a: 50_001 });
  assert.equal(compare(edited, fromB), 'after');
  assert.ok(maxCounter(edited) > maxCounter(fromB));
  // a concurrent edit on c made later in real time than b's wins the tie-less comparison
  const other = tick({}, 'c', 49_000);
  assert.equal(pickWinner(edited, other), 'a');
});

test('tick does not mutate its input', () => {
  const v = Object.freeze({ a: 1 });
  const t = tick(v, 'b', 5);
  assert.deepEqual(v, { a: 1 });
  assert.deepEqual(t, { a: 1, b: 5 });
});

test('compare: equal, before, after, concurrent; a missing node counts as 0', () => {
  assert.equal(compare({}, {}), 'equal');
  assert.equal(compare({ a: 1 }, { a: 1 }), 'equal');
  assert.equal(compare({ a: 0 }, {}), 'equal');
  assert.equal(compare({}, { a: 0 }), 'equal');
  assert.equal(compare({ a: 1 }, { a: 2 }), 'before');
  assert.equal(compare({ a: 2 }, { a: 1 }), 'after');
  assert.equal(compare({}, { a: 1 }), 'before');
  assert.equal(compare({ a: 1 }, {}), 'after');
  assert.equal(compare({ a: 1 }, { a: 1, b: 1 }), 'before');
  assert.equal(compare({ a: 1, b: 1 }, { a: 1 }), 'after');
  assert.equal(compare({ a: 2 }, { b: 1 }), 'concurrent');
  assert.equal(compare({ a: 2, b: 1 }, { a: 1, b: 2 }), 'concurrent');
  assert.equal(compare({ a: 2, b: 1 }, { a: 2, b: 1, c: 3 }), 'before');
});

test('merge: pointwise max, commutative, idempotent, dominates both', () => {
  const a = { x: 5, y: 1 };
  const b = { y: 3, z: 2 };
  const m = merge(a, b);
  assert.deepEqual(m, { x: 5, y: 3, z: 2 });
  assert.deepEqual(merge(b, a), m);
  assert.deepEqual(merge(m, m), m);
  assert.notEqual(compare(m, a), 'before');
  assert.notEqual(compare(m, b), 'before');
  assert.deepEqual(a, { x: 5, y: 1 }, 'inputs untouched');
});

test('maxCounter and lastWriter', () => {
  assert.equal(maxCounter({}), 0);
  assert.equal(lastWriter({}), '');
  assert.equal(maxCounter({ a: 3, b: 9, c: 4 }), 9);
  assert.equal(lastWriter({ a: 3, b: 9, c: 4 }), 'b');
  assert.equal(lastWriter({ a: 9, b: 9 }), 'b', 'equal counters: greater node name');
});

test('pickWinner: a causal descendant wins whatever its counters', () => {
  assert.equal(pickWinner({ a: 1, b: 1 }, { a: 1 }), 'a');
  assert.equal(pickWinner({ a: 1 }, { a: 1, b: 1 }), 'b');
  assert.equal(pickWinner({ a: 5 }, { a: 5 }), 'a', 'equal: a');
});

test('pickWinner: concurrent -> newest (greater max counter) wins', () => {
  assert.equal(pickWinner({ a: 100 }, { b: 200 }), 'b');
  assert.equal(pickWinner({ a: 300, b: 1 }, { b: 200 }), 'a');
});

test('pickWinner: concurrent and equally new -> greater node name wins', () => {
  assert.equal(pickWinner({ alpha: 100 }, { beta: 100 }), 'b');
  assert.equal(pickWinner({ beta: 100 }, { alpha: 100 }), 'a');
  assert.equal(pickWinner({ x: 50, alpha: 100 }, { beta: 100 }), 'b');
});

test('pickWinner: same newest counter by the same node -> canonical form decides, deterministically', () => {
  const a = { n: 100, p: 1 };
  const b = { n: 100, q: 1 };
  assert.equal(compare(a, b), 'concurrent');
  const w1 = pickWinner(a, b);
  const w2 = pickWinner(b, a);
  assert.notEqual(w1, w2, 'antisymmetric');
  assert.equal(w1, versionKey(a) > versionKey(b) ? 'a' : 'b');
});

function rnd(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('pickWinner is a total order: antisymmetric and transitive over random versions', () => {
  const r = rnd(42);
  const nodes = ['a', 'b', 'c', 'd'];
  const vs: Version[] = [];
  for (let i = 0; i < 150; i++) {
    const v: Record<string, number> = {};
    for (const n of nodes) if (r() < 0.6) v[n] = 1 + Math.floor(r() * 6);
    vs.push(v);
  }
  const beats = (x: Version, y: Version) => versionKey(x) !== versionKey(y) && pickWinner(x, y) === 'a';
  for (const x of vs)
    for (const y of vs) {
      if (versionKey(x) === versionKey(y)) continue;
      assert.notEqual(beats(x, y), beats(y, x), `antisymmetry ${versionKey(x)} vs ${versionKey(y)}`);
    }
  for (let i = 0; i < 3000; i++) {
    const x = vs[Math.floor(r() * vs.length)]!;
    const y = vs[Math.floor(r() * vs.length)]!;
    const z = vs[Math.floor(r() * vs.length)]!;
    if (beats(x, y) && beats(y, z)) assert.ok(beats(x, z), `transitivity ${versionKey(x)} > ${versionKey(y)} > ${versionKey(z)}`);
  }
});

test('versionKey ignores zero counters and key order', () => {
  assert.equal(versionKey({ b: 2, a: 1 }), 'a=1,b=2');
  assert.equal(versionKey({ a: 1, z: 0 }), 'a=1');
});

test('isVersion', () => {
  assert.ok(isVersion({}));
  assert.ok(isVersion({ a: 1 }));
  assert.ok(!isVersion(null));
  assert.ok(!isVersion([]));
  assert.ok(!isVersion({ a: -1 }));
  assert.ok(!isVersion({ a: 1.5 }));
  assert.ok(!isVersion({ a: '1' }));
  assert.ok(!isVersion({ '': 1 }));
});

test('pickWinner agrees with causality on random versions (a descendant always wins)', () => {
  const r = rnd(7);
  for (let i = 0; i < 5000; i++) {
    const a: Record<string, number> = {};
    for (const n of ['a', 'b', 'c']) if (r() < 0.7) a[n] = Math.floor(r() * 5);
    const b: Record<string, number> = { ...a };
    const n = ['a', 'b', 'c', 'd'][Math.floor(r() * 4)]!;
    b[n] = (b[n] ?? 0) + 1 + Math.floor(r() * 3);
    assert.equal(compare(b, a), 'after');
    assert.equal(pickWinner(b, a), 'a', `${versionKey(b)} descends ${versionKey(a)}`);
    assert.equal(pickWinner(a, b), 'b');
  }
});

test('tick never produces a counter receivers refuse: it saturates at MAX_COUNTER (issue 9, item 4)', () => {
  const hostile: Version = { mallory: Number.MAX_SAFE_INTEGER };
  assert.ok(isVersion(hostile), 'the ceiling itself is a valid counter');
  const edited = tick(hostile, 'a', Date.now());
  assert.ok(isVersion(edited), `ticked version must stay valid: ${JSON.stringify(edited)}`);
  assert.equal(edited.a, MAX_COUNTER);
  // a's change is still newer than what it saw (its own component grew)
  assert.equal(compare(edited, hostile), 'after');
  const again = tick({ x: MAX_COUNTER - 1 }, 'x', 0);
  assert.deepEqual(again, { x: MAX_COUNTER });
  assert.ok(isVersion(again));
  assert.ok(!isVersion({ a: MAX_COUNTER + 1 }), 'past the ceiling: refused');
});

test('versionKey: one node as the general form gives it (a zero counter drops out), several sorted, none empty', () => {
  const general = (v: Version): string =>
    Object.keys(v)
      .filter((k) => v[k]! > 0)
      .sort()
      .map((k) => `${k}=${v[k]}`)
      .join(',');
  const cases: Version[] = [{}, { a: 1 }, { a: 0 }, { 'node-x': 1_765_000_000_999 }, { b: 2, a: 1 }, { a: 0, b: 3 }, { c: 1, a: 2, b: 0 }];
  for (const v of cases) assert.equal(versionKey(v), general(v), JSON.stringify(v));
  assert.equal(versionKey({ a: 5 }), 'a=5');
  assert.equal(versionKey({ a: 0 }), '');
  assert.equal(versionKey({ b: 2, a: 1 }), 'a=1,b=2');
});
