// The quick local sync's no-op decision (core/packedEntries.ts matchesPacked) against the
// planner it stands in for: for every single change a destination can have, matchesPacked
// must say "not the same" whenever planSync would plan anything, with or without --delete.
// A false "same" would leave a destination silently wrong; a false "not the same" only costs
// time (the full sync runs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/core/entry.js';
import { changedPairs, matchesPacked, unpackEntries } from '../../src/core/packedEntries.js';
import { packEntries } from '../../src/core/scanColumns.js';
import { planInFull, planSync, type PlanOptions, type SyncPlan } from '../../src/core/plan.js';

const T = 1_700_000_000_000;
const src: Entry[] = [
  { path: 'a', kind: 'dir', size: 0, mtimeMs: T, mtimeNs: 123_000, mode: 0o755, ino: 7, uid: 1000, gid: 1000 },
  { path: 'a/f', kind: 'file', size: 10, mtimeMs: T + 1, mtimeNs: -250_500, mode: 0o644, ino: 8, uid: 1000, gid: 1000 },
  { path: 'a/l', kind: 'symlink', size: 0, mtimeMs: T + 2, mode: 0o777, target: '../b', ino: 9, uid: 1000, gid: 1000 },
  { path: 'b', kind: 'file', size: 0, mtimeMs: T + 3, mode: 0o600, ino: 10, uid: 1000, gid: 1000 },
  { path: 'c', kind: 'dir', size: 0, mtimeMs: T + 4, mode: 0o700 },
];

const copy = (es: Entry[]): Entry[] => es.map((e) => ({ ...e }));
const planIsEmpty = (p: SyncPlan): boolean =>
  (p.replaced?.length ?? 0) + p.mkdirs.length + p.transfers.length + p.symlinks.length + p.setattrs.length + p.deletes.length + p.skipped.length === 0 &&
  p.deletesRefused === undefined;

/** Every single change of a destination copy of `src`, named. */
function mutations(): Array<[string, Entry[]]> {
  const out: Array<[string, Entry[]]> = [];
  const change = (name: string, fn: (d: Entry[]) => Entry[] | void): void => {
    const d = copy(src);
    out.push([name, fn(d) ?? d]);
  };
  change('identical', () => undefined);
  change('other owners and inodes (not compared)', (d) => d.forEach((e) => Object.assign(e, { uid: 0, gid: 0, ino: 1 })));
  change('file size', (d) => void (d[1]!.size = 11));
  change('file mtime by a ms', (d) => void (d[1]!.mtimeMs += 1));
  change('file mtime by a microsecond', (d) => void (d[1]!.mtimeNs! += 1000));
  change('file mtime below the microsecond (not settable)', (d) => void (d[1]!.mtimeNs! += 1));
  change('file mtime ns unknown (compared at the ms)', (d) => void delete d[1]!.mtimeNs);
  change('file mode', (d) => void (d[1]!.mode = 0o664));
  change('dir mode', (d) => void (d[0]!.mode = 0o775));
  change('dir mtime', (d) => void (d[4]!.mtimeMs -= 1000));
  change('symlink target', (d) => void (d[2]!.target = '../c'));
  change('symlink mtime (not compared)', (d) => void (d[2]!.mtimeMs += 5));
  change('file became a dir', (d) => void Object.assign(d[3]!, { kind: 'dir', mode: 0o700 }));
  change('missing file', (d) => d.filter((e) => e.path !== 'a/f'));
  change('missing dir', (d) => d.filter((e) => e.path !== 'c'));
  change('extra file', (d) => [...d, { path: 'd', kind: 'file', size: 1, mtimeMs: T, mode: 0o644 }]);
  change('extra file inside', (d) => [...d.slice(0, 2), { path: 'a/e', kind: 'file', size: 1, mtimeMs: T, mode: 0o644 }, ...d.slice(2)]);
  change('renamed', (d) => void (d[3]!.path = 'bb'));
  change('several: dir mode, a file inside it, a symlink', (d) => {
    d[0]!.mode = 0o700;
    d[1]!.size = 3;
    d[2]!.target = 'x';
  });
  return out;
}

test('matchesPacked is true only where planSync plans nothing, with and without deletes', () => {
  let same = 0;
  for (const [name, dst] of mutations()) {
    const quick = matchesPacked(src, packEntries(dst));
    assert.equal(matchesPacked(src, dst), quick, 'the same answer for the entries as objects');
    for (const del of [false, true]) {
      const empty = planIsEmpty(planInFull(src, dst, { delete: del }));
      // "same" must never hide a planned change
      if (quick) assert.ok(empty, `${name} (delete ${del}): quick says same, the planner plans changes`);
    }
    if (quick) same++;
    // the cases the quick check exists for are found
    if (/^identical|not compared|not settable|unknown/.test(name)) assert.ok(quick, `${name}: quick says changed`);
  }
  assert.equal(same, 5);
});

test('planSync takes the shortcut for equal listings only with options under which the full planner plans nothing either', () => {
  // every option that makes the planner filter, force or rewrite: with it, the same listings
  // may plan something, so planSync must ask the full planner (whose answer it must give)
  const options: PlanOptions[] = [
    {},
    { delete: true },
    { force: true },
    { fileMode: 0o600 },
    { dirMode: 0o700 },
    { umask: 0o077 },
    { setTimes: false, nowMs: T + 99 },
    { checksum: true },
    { getNewer: true },
    { getSizeChange: true },
    { maxSize: 5 },
    { notOlderThanMs: T + 2 },
    { exclude: (p) => p === 'b' },
    { include: (p) => p !== 'b' },
    { getMissing: false },
    { fixModes: false },
    { maxDeleteFiles: { percent: 500 }, delete: true },
  ];
  for (const [name, dst] of mutations()) {
    for (const o of options) {
      assert.deepEqual(planSync(src, dst, o), planInFull(src, dst, o), `${name} with ${JSON.stringify(o)}`);
    }
  }
});

test('unpackEntries gives back what packEntries packed, field for field', () => {
  const back = unpackEntries(packEntries(src));
  assert.deepEqual(back, src);
  assert.deepEqual(unpackEntries(packEntries([])), []);
});

test('changedPairs: planning only the pairs it names plans what the whole listings plan', () => {
  // syncTrees plans a local rerun's changed pairs alone: a pair left out that the planner
  // would act on is a change never made (silently); a structural change must plan in full
  let partial = 0;
  for (const [name, dst] of mutations()) {
    const at = changedPairs(src, dst);
    const structural = dst.length !== src.length || dst.some((d, i) => d.path !== src[i]!.path || d.kind !== src[i]!.kind);
    assert.equal(at === undefined, structural, `${name}: undefined exactly when paths or kinds differ`);
    if (!at) continue;
    partial++;
    for (const del of [false, true]) {
      const whole = planInFull(src, dst, { delete: del });
      const part = planSync(at.map((i) => src[i]!), at.map((i) => dst[i]!), { delete: del });
      assert.deepEqual(part, whole, `${name} (delete ${del}): the changed pairs alone plan otherwise`);
    }
  }
  assert.equal(partial, 13);
});
