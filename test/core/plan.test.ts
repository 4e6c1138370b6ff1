import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/core/entry.js';
import { planSync, resolveLinkTarget, skipShadow, type PlanOptions, type SyncPlan } from '../../src/core/plan.js';

const T = 1_700_000_000_000;
const f = (path: string, size = 1, mtimeMs = T, mode = 0o644): Entry => ({ path, kind: 'file', size, mtimeMs, mode });
const d = (path: string, mtimeMs = T, mode = 0o755): Entry => ({ path, kind: 'dir', size: 0, mtimeMs, mode });
const l = (path: string, target: string, mtimeMs = T): Entry => ({ path, kind: 'symlink', size: 0, mtimeMs, mode: 0o777, target });

const paths = (es: Array<{ path: string }>): string[] => es.map((e) => e.path);

/** A compact view of a plan, for table tests. */
function view(p: SyncPlan): Record<string, string[] | string> {
  const out: Record<string, string[] | string> = {};
  if (p.replaced && p.replaced.length) out.replaced = paths(p.replaced);
  if (p.mkdirs.length) out.mkdirs = paths(p.mkdirs);
  if (p.transfers.length) out.transfers = paths(p.transfers);
  if (p.symlinks.length) out.symlinks = paths(p.symlinks);
  if (p.setattrs.length) out.setattrs = paths(p.setattrs);
  if (p.deletes.length) out.deletes = paths(p.deletes);
  if (p.deletesRefused) out.refused = p.deletesRefused;
  if (p.skipped.length) out.skipped = paths(p.skipped);
  return out;
}

const MIRROR: PlanOptions = { getNewer: true, getSizeChange: true, getMissing: true };

interface Case {
  name: string;
  src: Entry[];
  dst: Entry[];
  opts?: PlanOptions;
  want: Record<string, string[] | string>;
}

const cases: Case[] = [
  // --- rsync quick check
  { name: 'empty both', src: [], dst: [], want: {} },
  { name: 'new file', src: [f('a')], dst: [], want: { transfers: ['a'] } },
  { name: 'identical file', src: [f('a')], dst: [f('a')], want: {} },
  { name: 'size differs', src: [f('a', 2)], dst: [f('a', 1)], want: { transfers: ['a'] } },
  { name: 'mtime differs (newer)', src: [f('a', 1, T + 1)], dst: [f('a')], want: { transfers: ['a'] } },
  { name: 'mtime differs (older) also sends', src: [f('a', 1, T - 1)], dst: [f('a')], want: { transfers: ['a'] } },
  { name: 'mode differs only: setattr', src: [f('a', 1, T, 0o600)], dst: [f('a')], want: { setattrs: ['a'] } },
  { name: 'dir mode differs: setattr', src: [d('x', T, 0o700)], dst: [d('x')], want: { setattrs: ['x'] } },
  { name: 'dir mtime differs: setattr', src: [d('x', T + 5)], dst: [d('x')], want: { setattrs: ['x'] } },
  { name: 'nested new tree: parents first', src: [f('x/y/z'), d('x/y'), d('x')], dst: [], want: { mkdirs: ['x', 'x/y'], transfers: ['x/y/z'] } },
  { name: 'no delete by default', src: [], dst: [f('a')], want: {} },
  { name: 'delete extra file', src: [], dst: [f('a')], opts: { delete: true }, want: { deletes: ['a'] } },
  { name: 'delete children before parents', src: [], dst: [d('x'), f('x/a'), d('x/y'), f('x/y/b')], opts: { delete: true }, want: { deletes: ['x/y/b', 'x/y', 'x/a', 'x'] } },
  { name: 'checksum: same hash, other mtime: setattr', src: [{ ...f('a', 1, T + 9), hash: 'h' }], dst: [{ ...f('a'), hash: 'h' }], opts: { checksum: true }, want: { setattrs: ['a'] } },
  { name: 'checksum: other hash, same size+mtime: send', src: [{ ...f('a'), hash: 'h1' }], dst: [{ ...f('a'), hash: 'h2' }], opts: { checksum: true }, want: { transfers: ['a'] } },
  { name: 'new symlink', src: [l('s', 'a'), f('a')], dst: [f('a')], want: { symlinks: ['s'] } },
  { name: 'same symlink', src: [l('s', 'a')], dst: [l('s', 'a')], want: {} },
  { name: 'symlink target changed', src: [l('s', 'b')], dst: [l('s', 'a')], want: { symlinks: ['s'] } },
  // --- type changes replace
  { name: 'file -> dir', src: [d('a'), f('a/b')], dst: [f('a')], want: { replaced: ['a'], mkdirs: ['a'], transfers: ['a/b'] } },
  { name: 'dir -> file (subtree removed, children first)', src: [f('a')], dst: [d('a'), f('a/b'), d('a/c'), f('a/c/d')], want: { replaced: ['a/c/d', 'a/c', 'a/b', 'a'], transfers: ['a'] } },
  { name: 'file -> symlink', src: [l('a', 'x')], dst: [f('a')], want: { replaced: ['a'], symlinks: ['a'] } },
  { name: 'symlink -> file', src: [f('a')], dst: [l('a', 'x')], want: { replaced: ['a'], transfers: ['a'] } },
  { name: 'symlink -> dir', src: [d('a')], dst: [l('a', 'x')], want: { replaced: ['a'], mkdirs: ['a'] } },
  { name: 'dir -> symlink', src: [l('a', 'x')], dst: [d('a'), f('a/z')], opts: { delete: true }, want: { replaced: ['a/z', 'a'], symlinks: ['a'] } },
  { name: 'replace refused when the dir holds excluded entries', src: [f('a')], dst: [d('a'), f('a/keep')], opts: { exclude: (p) => p.endsWith('keep') }, want: { skipped: ['a'] } },
  // --- exclude (invisible on both sides)
  { name: 'excluded source file not sent', src: [f('a'), f('b.o')], dst: [], opts: { exclude: (p) => p.endsWith('.o') }, want: { transfers: ['a'] } },
  { name: 'excluded dest file not deleted', src: [], dst: [f('b.o')], opts: { delete: true, exclude: (p) => p.endsWith('.o') }, want: {} },
  { name: 'excluded dir hides subtree', src: [d('.git'), f('.git/config'), d('.git/objects'), f('.git/objects/x'), f('a')], dst: [], opts: { exclude: (p) => /(^|\/)\.git$/.test(p) }, want: { transfers: ['a'] } },
  { name: 'dir holding an excluded entry is not deleted', src: [], dst: [d('x'), f('x/a'), f('x/b.o')], opts: { delete: true, exclude: (p) => p.endsWith('.o') }, want: { deletes: ['x/a'] } },
  // --- include (get_patt): not matching = not kept
  { name: 'include: only matching sent, parents created', src: [d('x'), f('x/a.txt'), f('x/b.bin'), f('c.bin')], dst: [], opts: { include: (p) => p.endsWith('.txt') }, want: { mkdirs: ['x'], transfers: ['x/a.txt'] } },
  { name: 'include: non-matching dest deleted', src: [f('a.txt'), f('b.bin')], dst: [f('a.txt'), f('b.bin')], opts: { delete: true, include: (p) => p.endsWith('.txt') }, want: { deletes: ['b.bin'] } },
  { name: 'include: keeping a file keeps its parents', src: [d('x'), d('x/y'), f('x/y/a.txt')], dst: [d('x'), d('x/y'), f('x/y/a.txt')], opts: { delete: true, include: (p) => p.endsWith('.txt') }, want: {} },
  { name: 'include: dir with no wanted children is not kept', src: [d('x'), f('x/b.bin')], dst: [d('x'), f('x/b.bin')], opts: { delete: true, include: (p) => p.endsWith('.txt') }, want: { deletes: ['x/b.bin', 'x'] } },
  // --- deletable (delete_patt / delete_excl)
  { name: 'deletable limits deletes', src: [], dst: [f('a.tmp'), f('b')], opts: { delete: true, deletable: (p) => p.endsWith('.tmp') }, want: { deletes: ['a.tmp'] } },
  { name: 'dir survives if a child is not deletable', src: [], dst: [d('x'), f('x/a.tmp'), f('x/b')], opts: { delete: true, deletable: (p) => !p.endsWith('/b') }, want: { deletes: ['x/a.tmp'] } },
  // --- delete limits (all or nothing)
  { name: 'count limit exceeded: nothing deleted', src: [], dst: [f('a'), f('b'), f('c')], opts: { delete: true, maxDeleteFiles: 2 }, want: { refused: 'Too many files to delete: 3 > max_delete_files 2 (of 3); nothing deleted' } },
  { name: 'count limit met', src: [], dst: [f('a'), f('b')], opts: { delete: true, maxDeleteFiles: 2 }, want: { deletes: ['b', 'a'] } },
  { name: 'percent limit: 10% of 20 = 2 ok', src: Array.from({ length: 18 }, (_, i) => f(`k${i}`)), dst: [...Array.from({ length: 18 }, (_, i) => f(`k${i}`)), f('x1'), f('x2')], opts: { delete: true, maxDeleteFiles: { percent: 10 } }, want: { deletes: ['x2', 'x1'] } },
  { name: 'percent limit: 10% of 20 = 2, 3 refused', src: Array.from({ length: 17 }, (_, i) => f(`k${i}`)), dst: [...Array.from({ length: 17 }, (_, i) => f(`k${i}`)), f('x1'), f('x2'), f('x3')], opts: { delete: true, maxDeleteFiles: { percent: 10 } }, want: { refused: 'Too many files to delete: 3 > max_delete_files 2 (of 20); nothing deleted' } },
  { name: 'percent 100 allows all', src: [], dst: [f('a'), d('x')], opts: { delete: true, maxDeleteFiles: { percent: 100 }, maxDeleteDirs: { percent: 100 } }, want: { deletes: ['x', 'a'] } },
  { name: 'percent 0 disables deletion', src: [], dst: [f('a')], opts: { delete: true, maxDeleteFiles: { percent: 0 } }, want: { refused: 'silly percentage 0% for max_delete_files' } },
  { name: 'percent 101 disables deletion', src: [], dst: [f('a')], opts: { delete: true, maxDeleteDirs: { percent: 101 } }, want: { refused: 'silly percentage 101% for max_delete_dirs' } },
  { name: 'dir limit exceeded refuses files too', src: [], dst: [d('x'), d('y'), f('a')], opts: { delete: true, maxDeleteDirs: 1 }, want: { refused: 'Too many directories to delete: 2 > max_delete_dirs 1 (of 2); nothing deleted' } },
  { name: 'symlinks count as files for the limit', src: [], dst: [l('s', 'a'), l('t', 'a')], opts: { delete: true, maxDeleteFiles: 1 }, want: { refused: 'Too many files to delete: 2 > max_delete_files 1 (of 2); nothing deleted' } },
  { name: 'no candidates: no refusal even with silly percent', src: [f('a')], dst: [f('a')], opts: { delete: true, maxDeleteFiles: { percent: 0 } }, want: {} },
  // --- mirror comparison rules
  { name: 'mirror: newer source sent', src: [f('a', 1, T + 2000)], dst: [f('a')], opts: MIRROR, want: { transfers: ['a'] } },
  { name: 'mirror: older source not sent', src: [f('a', 1, T - 2000)], dst: [f('a')], opts: MIRROR, want: {} },
  { name: 'mirror: exactly 3600 s newer ignored', src: [f('a', 1, T + 3_600_000)], dst: [f('a')], opts: MIRROR, want: {} },
  { name: 'mirror: 3601 s newer sent', src: [f('a', 1, T + 3_601_000)], dst: [f('a')], opts: MIRROR, want: { transfers: ['a'] } },
  { name: 'mirror: sub-second newer within the same second not sent', src: [f('a', 1, T + 400)], dst: [f('a')], opts: MIRROR, want: {} },
  { name: 'mirror: size change sent', src: [f('a', 5, T - 2000)], dst: [f('a', 4)], opts: MIRROR, want: { transfers: ['a'] } },
  { name: 'mirror: get_size_change off, size differs, older: not sent', src: [f('a', 5, T - 2000)], dst: [f('a', 4)], opts: { ...MIRROR, getSizeChange: false }, want: {} },
  { name: 'mirror: get_newer off, newer: not sent', src: [f('a', 1, T + 5000)], dst: [f('a')], opts: { ...MIRROR, getNewer: false }, want: {} },
  { name: 'mirror: both off, only missing sent', src: [f('a', 9, T + 5000), f('b')], dst: [f('a')], opts: { getNewer: false, getSizeChange: false }, want: { transfers: ['b'] } },
  { name: 'mirror: existing mtime not touched', src: [f('a', 1, T - 5000)], dst: [f('a')], opts: MIRROR, want: {} },
  { name: 'force sends everything', src: [f('a'), f('b')], dst: [f('a'), f('b')], opts: { ...MIRROR, force: true }, want: { transfers: ['a', 'b'] } },
  { name: 'get_missing=false: nothing created or sent', src: [d('x'), f('x/a'), f('b', 9, T + 9000), l('s', 'b')], dst: [f('b')], opts: { ...MIRROR, getMissing: false }, want: {} },
  { name: 'get_missing=false: deletes still happen', src: [f('a')], dst: [f('z')], opts: { ...MIRROR, getMissing: false, delete: true }, want: { deletes: ['z'] } },
  // --- max_days / max_size
  { name: 'max_days: old source file ignored', src: [f('old', 1, T - 10 * 86_400_000), f('new')], dst: [], opts: { notOlderThanMs: T - 86_400_000 }, want: { transfers: ['new'] } },
  { name: 'max_days: old dest file not deleted', src: [], dst: [f('old', 1, T - 10 * 86_400_000), f('new')], opts: { delete: true, notOlderThanMs: T - 86_400_000 }, want: { deletes: ['new'] } },
  { name: 'max_days: old dest file is replaced by a newer source', src: [f('a', 2)], dst: [f('a', 1, T - 10 * 86_400_000)], opts: { ...MIRROR, notOlderThanMs: T - 86_400_000 }, want: { transfers: ['a'] } },
  { name: 'max_days: dirs are not aged out', src: [d('x', T - 10 * 86_400_000)], dst: [], opts: { notOlderThanMs: T - 86_400_000 }, want: { mkdirs: ['x'] } },
  { name: 'max_size: big file skipped, small sent', src: [f('big', 1000), f('small', 10)], dst: [], opts: { maxSize: 100 }, want: { transfers: ['small'], skipped: ['big'] } },
  { name: 'max_size: existing big copy kept', src: [f('big', 1000)], dst: [f('big', 999)], opts: { delete: true, maxSize: 100 }, want: { skipped: ['big'] } },
  // --- modes
  { name: 'fileMode: existing mode not compared', src: [f('a', 1, T, 0o600)], dst: [f('a', 1, T, 0o444)], opts: { ...MIRROR, fileMode: 0o444, dirMode: 0o755 }, want: {} },
  // --- symlinks and make_bad_symlinks
  { name: 'bad symlink skipped when makeBadSymlinks=false', src: [l('s', 'nothere')], dst: [], opts: { makeBadSymlinks: false }, want: { skipped: ['s'] } },
  { name: 'bad symlink made when makeBadSymlinks=true', src: [l('s', 'nothere')], dst: [], opts: { makeBadSymlinks: true }, want: { symlinks: ['s'] } },
  { name: 'good relative symlink made when makeBadSymlinks=false', src: [d('x'), l('x/s', '../a'), f('a')], dst: [], opts: { makeBadSymlinks: false }, want: { mkdirs: ['x'], transfers: ['a'], symlinks: ['x/s'] } },
  { name: 'absolute symlink made when makeBadSymlinks=false', src: [l('s', '/etc/hostname')], dst: [], opts: { makeBadSymlinks: false }, want: { symlinks: ['s'] } },
  { name: 'symlink to a dest-only file is good', src: [l('s', 'local')], dst: [f('local')], opts: { makeBadSymlinks: false }, want: { symlinks: ['s'] } },
];

for (const c of cases) {
  test(`planSync: ${c.name}`, () => {
    assert.deepEqual(view(planSync(c.src, c.dst, c.opts)), c.want);
  });
}

test('planSync: transfers carry fileMode (umask applied) and the source mtime', () => {
  const p = planSync([f('a', 3, T + 7, 0o4755)], [], { ...MIRROR, fileMode: 0o4644, dirMode: 0o755, umask: 0o7000 });
  assert.equal(p.transfers[0]!.mode, 0o644);
  assert.equal(p.transfers[0]!.mtimeMs, T + 7);
  assert.equal(p.transfers[0]!.size, 3);
});

test('planSync: mode copy keeps the source mode, minus the umask', () => {
  const p = planSync([f('a', 1, T, 0o4755), d('x', T, 0o2775)], [], { umask: 0o7000 });
  assert.equal(p.transfers[0]!.mode, 0o755);
  assert.equal(p.mkdirs[0]!.mode, 0o775);
});

test('planSync: dirMode applies to created directories', () => {
  const p = planSync([d('x', T, 0o700)], [], { ...MIRROR, fileMode: 0o444, dirMode: 0o750 });
  assert.equal(p.mkdirs[0]!.mode, 0o750);
});

test('planSync: setTimes=false gives written files nowMs', () => {
  const p = planSync([f('a', 1, T)], [], { ...MIRROR, setTimes: false, nowMs: T + 99 });
  assert.equal(p.transfers[0]!.mtimeMs, T + 99);
});

test('planSync: setTimes=false: rsync mode does not fix mtimes', () => {
  const p = planSync([d('x', T + 5)], [d('x')], { setTimes: false });
  assert.deepEqual(p.setattrs, []);
});

test('planSync: host-local fields (ino, uid, gid) are not carried over', () => {
  const p = planSync([{ ...f('a'), ino: 5, uid: 7, gid: 8, hash: 'h' }], []);
  assert.equal(p.transfers[0]!.ino, undefined);
  assert.equal(p.transfers[0]!.uid, undefined);
  assert.equal(p.transfers[0]!.hash, 'h');
});

test('planSync: deletes are all-or-nothing per plan and carry the entries', () => {
  const p = planSync([], [d('x'), f('x/a', 4)], { delete: true });
  assert.deepEqual(p.deletes.map((e) => [e.path, e.kind]), [['x/a', 'file'], ['x', 'dir']]);
});

test('planSync: input order does not matter', () => {
  const src = [f('b/c'), d('b'), f('a'), d('b/d'), f('b/d/e')];
  const p1 = planSync(src, []);
  const p2 = planSync([...src].reverse(), []);
  assert.deepEqual(view(p1), view(p2));
  assert.deepEqual(paths(p1.mkdirs), ['b', 'b/d']);
});

test('resolveLinkTarget', () => {
  assert.equal(resolveLinkTarget('a/b/s', '../c'), 'a/c');
  assert.equal(resolveLinkTarget('s', './x/./y'), 'x/y');
  assert.equal(resolveLinkTarget('s', '../x'), undefined);
  assert.equal(resolveLinkTarget('a/s', '/abs'), undefined);
  assert.equal(resolveLinkTarget('a/s', '..'), '');
});

test('srcSkipped: what the source left out shields its copy, what is below it, and the names it reads as', () => {
  // the source listed a Latin-1 name lossily (caf\ufffd.txt, as an SFTP listing decodes it)
  // and has a directory it could not read; the destination has their copies and an orphan
  const src = [f('keep.txt')];
  const dst = [f('keep.txt'), f('caf\udce9.txt'), f('caf\udce8.txt'), d('locked'), f('locked/inner'), d('r\udce9p'), f('r\udce9p/x'), f('orphan'), f('cafe.txt')];
  const plan = planSync(src, dst, { delete: true, srcSkipped: ['caf\ufffd.txt', 'locked', 'r\ufffdp'] });
  assert.deepEqual(paths(plan.deletes).sort(), ['cafe.txt', 'orphan']);
  // without the skips, all of them go
  assert.deepEqual(paths(planSync(src, dst, { delete: true }).deletes).length, 8);
});

test('skipShadow: a path, its subtree, and its lossy UTF-8 reading; nothing else', () => {
  const shadow = skipShadow(['a/b', 'x\ufffdy']);
  for (const p of ['a/b', 'a/b/c', 'a/b/c/d', 'x\udce9y', 'x\udce9y/z', 'x\ufffdy']) assert.equal(shadow(p), true, p);
  for (const p of ['a', 'a/bc', 'a/c', 'xy', 'x\udce9\udce9y', 'q/x\udce9y']) assert.equal(shadow(p), false, p);
});

test("skipShadow: the root left out ('.', or '') shields everything", () => {
  for (const root of ['.', '']) {
    const shadow = skipShadow(['a/b', root]);
    for (const p of ['a', 'x/y/z', 'anything']) assert.equal(shadow(p), true, `${root}: ${p}`);
  }
});
