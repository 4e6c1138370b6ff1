import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/core/entry.js';
import {
  applyLocalChange,
  applyLocalDelete,
  applyLocalMove,
  applyRemoteChange,
  diffScan,
  expiredTombstones,
  planRemoteMove,
  putRecords,
  sameContent,
  type IndexRecord,
  type TreeIndex,
} from '../../src/core/treeIndex.js';
import { compare, type Version } from '../../src/core/version.js';
import { CompactIndex } from '../../src/core/compactIndex.js';

const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);

function file(path: string, o: Partial<Entry> = {}): Entry {
  return { path, kind: 'file', size: 10, mtimeMs: 1000, mode: 0o644, ino: 100, hash: H1, ...o };
}
function dir(path: string, o: Partial<Entry> = {}): Entry {
  return { path, kind: 'dir', size: 0, mtimeMs: 1000, mode: 0o755, ino: 200, ...o };
}
function link(path: string, target: string, o: Partial<Entry> = {}): Entry {
  return { path, kind: 'symlink', size: 0, mtimeMs: 1000, mode: 0o777, target, ino: 300, ...o };
}
function rec(entry: Entry, version: Version, deletedAt?: number): IndexRecord {
  return deletedAt === undefined ? { entry, version } : { entry, version, deleted: { atMs: deletedAt } };
}
function idx(...rs: IndexRecord[]): TreeIndex {
  return putRecords(new Map(), rs);
}
const noHash = (e: Entry): Entry => {
  const { hash: _h, ...rest } = e;
  return rest;
};

// --- local changes ---------------------------------------------------------------------

test('applyLocalChange: a new path gets a first version', () => {
  const r = applyLocalChange(undefined, file('f'), 'a', 5000);
  assert.equal(r.changed, true);
  assert.deepEqual(r.record.version, { a: 5000 });
  assert.equal(r.record.deleted, undefined);
});

test('applyLocalChange: unchanged mirrored attributes keep the version, entry refreshed (new inode)', () => {
  const prev = rec(file('f'), { b: 7 });
  const r = applyLocalChange(prev, file('f', { ino: 999 }), 'a', 5000);
  assert.equal(r.changed, false);
  assert.deepEqual(r.record.version, { b: 7 });
  assert.equal(r.record.entry.ino, 999);
});

test('applyLocalChange: content, mode or mtime changes tick the version', () => {
  const prev = rec(file('f'), { b: 7000 });
  for (const e of [file('f', { hash: H2 }), file('f', { mode: 0o600 }), file('f', { mtimeMs: 2000 }), file('f', { size: 11 })]) {
    const r = applyLocalChange(prev, e, 'a', 5000);
    assert.equal(r.changed, true);
    assert.deepEqual(r.record.version, { b: 7000, a: 7001 });
    assert.equal(compare(r.record.version, prev.version), 'after');
  }
});

test('applyLocalChange: owner only counts with opts.owner (no echo of a uid the node cannot set)', () => {
  const prev = rec(file('f', { uid: 1000, gid: 1000 }), { b: 1 });
  assert.equal(applyLocalChange(prev, file('f', { uid: 0, gid: 0 }), 'a', 5).changed, false);
  assert.equal(applyLocalChange(prev, file('f', { uid: 0, gid: 0 }), 'a', 5, { owner: true }).changed, true);
});

test('applyLocalChange: directories ignore mtime, symlinks compare targets, kind changes count', () => {
  const d = rec(dir('d'), { b: 1 });
  assert.equal(applyLocalChange(d, dir('d', { mtimeMs: 99999 }), 'a', 5).changed, false);
  assert.equal(applyLocalChange(d, dir('d', { mode: 0o700 }), 'a', 5).changed, true);
  const l = rec(link('l', 'x'), { b: 1 });
  assert.equal(applyLocalChange(l, link('l', 'x', { mtimeMs: 5 }), 'a', 5).changed, false);
  assert.equal(applyLocalChange(l, link('l', 'y'), 'a', 5).changed, true);
  assert.equal(applyLocalChange(rec(file('p'), { b: 1 }), dir('p'), 'a', 5).changed, true);
});

test('applyLocalChange: a file needs its hash', () => {
  assert.throws(() => applyLocalChange(undefined, noHash(file('f')), 'a', 1), /without hash/);
});

test('applyLocalChange: a path that comes back descends from its tombstone', () => {
  const t = rec(file('f'), { b: 9000 }, 9000);
  const r = applyLocalChange(t, file('f'), 'a', 100);
  assert.equal(r.changed, true, 'even with the same content as before the delete');
  assert.deepEqual(r.record.version, { b: 9000, a: 9001 });
  assert.equal(r.record.deleted, undefined);
});

test('applyLocalDelete: tombstone with a ticked version; nothing for missing or already deleted', () => {
  const live = rec(file('f'), { b: 10 });
  const t = applyLocalDelete(live, 'a', 50)!;
  assert.deepEqual(t.version, { b: 10, a: 50 });
  assert.deepEqual(t.deleted, { atMs: 50 });
  assert.equal(t.entry.hash, H1, 'last entry kept');
  assert.equal(applyLocalDelete(t, 'a', 60), null);
  assert.equal(applyLocalDelete(undefined, 'a', 60), null);
});

test('sameContent needs a known, equal hash for files', () => {
  assert.equal(sameContent(noHash(file('f')), noHash(file('f'))), false);
  assert.equal(sameContent(file('f'), file('f', { ino: 5 })), true);
});

// --- scans -----------------------------------------------------------------------------

test('diffScan: empty index -> files need hashing, dirs and links are new records', () => {
  const d = diffScan(new Map(), [noHash(file('d/f')), dir('d'), link('l', 't')], 'a', 100);
  assert.deepEqual(d.needsHash.map((e) => e.path), ['d/f']);
  assert.deepEqual(d.updates.map((r) => r.entry.path).sort(), ['d', 'l']);
  assert.deepEqual(d.updates[0]!.version, { a: 100 });
  assert.equal(d.vanished.length, 0);
  assert.equal(d.unchanged, 0);
});

test('diffScan: 20,000 unchanged files -> nothing rehashed, nothing sent', () => {
  const index: TreeIndex = new Map();
  const scan: Entry[] = [];
  for (let i = 0; i < 20_000; i++) {
    const e = file(`d${i % 200}/f${i}`, { ino: 1000 + i, hash: H1 });
    index.set(e.path, rec(e, { b: 5 }));
    scan.push(noHash(e));
  }
  const t0 = performance.now();
  const d = diffScan(index, scan, 'a', 100);
  const ms = performance.now() - t0;
  assert.equal(d.unchanged, 20_000);
  assert.equal(d.needsHash.length + d.updates.length + d.vanished.length + d.refreshed.length, 0);
  assert.ok(ms < 2000, `diffScan of 20,000 took ${ms} ms`);
});

test('diffScan: size, mtime or inode change -> rehash; mode alone -> change without rehash', () => {
  const base = file('f');
  const index = idx(rec(base, { b: 5 }));
  for (const changed of [{ size: 11 }, { mtimeMs: 1001 }, { ino: 101 }]) {
    const d = diffScan(index, [noHash(file('f', changed))], 'a', 100);
    assert.deepEqual(d.needsHash.map((e) => e.path), ['f'], JSON.stringify(changed));
    assert.equal(d.updates.length, 0);
  }
  const m = diffScan(index, [noHash(file('f', { mode: 0o600 }))], 'a', 100);
  assert.equal(m.needsHash.length, 0);
  assert.equal(m.updates.length, 1);
  assert.equal(m.updates[0]!.entry.hash, H1, 'hash carried over');
  assert.equal(m.updates[0]!.entry.mode, 0o600);
  assert.deepEqual(m.updates[0]!.version, { b: 5, a: 100 });
});

test('diffScan: another microsecond of the same millisecond is a change (the inode number reused); the same microsecond is not', () => {
  // ext4 gives a new file the number of the one just freed: a same-size rewrite by rename in
  // the same ms while the daemon was down matches inode, size and ms; the us tells it apart
  const base = file('f', { mtimeNs: 123_000 });
  for (const index of [idx(rec(base, { b: 5 })), new CompactIndex(idx(rec(base, { b: 5 })))]) {
    const d = diffScan(index, [noHash(file('f', { mtimeNs: 456_000 }))], 'a', 100);
    assert.deepEqual(d.needsHash.map((e) => e.path), ['f'], index.constructor.name);
    const same = diffScan(index, [noHash(file('f', { mtimeNs: 123_999 }))], 'a', 100);
    assert.equal(same.needsHash.length, 0, `${index.constructor.name}: within the microsecond (set by utimes) is unchanged`);
    const unknown = diffScan(index, [noHash(file('f'))], 'a', 100);
    assert.equal(unknown.needsHash.length, 0, `${index.constructor.name}: no ns on one side: the ms decides`);
  }
});

test('diffScan: a replaced inode with the same content is only refreshed after hashing', () => {
  const index = idx(rec(file('f'), { b: 5 }));
  const d = diffScan(index, [noHash(file('f', { ino: 777 }))], 'a', 100);
  assert.equal(d.needsHash.length, 1);
  const r = applyLocalChange(index.get('f'), { ...d.needsHash[0]!, hash: H1 }, 'a', 100);
  assert.equal(r.changed, false);
  assert.equal(r.record.entry.ino, 777);
});

test('diffScan: a record without inode (taken from a peer) is checked by hash once', () => {
  const index = idx(rec(noInoFile('f'), { b: 5 }));
  const d = diffScan(index, [noHash(file('f'))], 'a', 100);
  assert.equal(d.needsHash.length, 1);
});
function noInoFile(p: string): Entry {
  const { ino: _i, ...e } = file(p);
  return e;
}

test('diffScan: scan entries with hashes are decided at once', () => {
  const index = idx(rec(file('same'), { b: 5 }), rec(file('diff'), { b: 5 }));
  const d = diffScan(index, [file('same', { ino: 5 }), file('diff', { hash: H2, ino: 6 }), file('new')], 'a', 100);
  assert.equal(d.needsHash.length, 0);
  assert.deepEqual(d.updates.map((r) => r.entry.path).sort(), ['diff', 'new']);
  assert.deepEqual(d.refreshed.map((r) => r.entry.path), ['same']);
});

test('diffScan: directory inode or mtime changes are refreshes, not changes', () => {
  const index = idx(rec(dir('d'), { b: 5 }));
  const d = diffScan(index, [dir('d', { ino: 9, mtimeMs: 5 })], 'a', 100);
  assert.equal(d.updates.length, 0);
  assert.equal(d.refreshed.length, 1);
  assert.deepEqual(d.refreshed[0]!.version, { b: 5 });
});

test('diffScan: vanished paths become tombstones, deepest first; old tombstones stay as they are', () => {
  const index = idx(
    rec(dir('a'), { b: 5 }),
    rec(dir('a/b'), { b: 5 }),
    rec(file('a/b/f'), { b: 5 }),
    rec(file('a/g'), { b: 5 }),
    rec(file('old'), { b: 5 }, 50),
    rec(file('keep'), { b: 5 }),
  );
  const d = diffScan(index, [noHash(file('keep'))], 'a', 100);
  assert.deepEqual(d.vanished.map((r) => r.entry.path), ['a/b/f', 'a/b', 'a/g', 'a']);
  for (const t of d.vanished) {
    assert.deepEqual(t.deleted, { atMs: 100 });
    assert.deepEqual(t.version, { b: 5, a: 100 });
  }
  assert.equal(d.unchanged, 1);
});

test('diffScan: a subtree rescan only deletes inside the subtree', () => {
  const index = idx(rec(file('x/f'), { b: 5 }), rec(file('xy/f'), { b: 5 }), rec(file('y/f'), { b: 5 }), rec(dir('x'), { b: 5 }));
  const d = diffScan(index, [dir('x')], 'a', 100, { subtree: 'x' });
  assert.deepEqual(d.vanished.map((r) => r.entry.path), ['x/f']);
});

test('diffScan: a tombstoned path that reappears is new again, descending from the delete', () => {
  const index = idx(rec(dir('d'), { b: 500 }, 500));
  const d = diffScan(index, [dir('d')], 'a', 100);
  assert.deepEqual(d.updates[0]!.version, { b: 500, a: 501 });
});

test('diffScan: kind change file -> dir', () => {
  const index = idx(rec(file('p'), { b: 5 }));
  const d = diffScan(index, [dir('p')], 'a', 100);
  assert.equal(d.updates.length, 1);
  assert.equal(d.updates[0]!.entry.kind, 'dir');
  assert.equal(d.vanished.length, 0);
});

// --- moves -----------------------------------------------------------------------------

test('applyLocalMove: a file move keeps its hash; the old path gets a tombstone', () => {
  const index = idx(rec(file('a'), { b: 5 }), rec(file('b', { hash: H2 }), { c: 9 }, 9));
  const m = applyLocalMove(index, 'a', 'b', 'n', 100)!;
  assert.deepEqual(m.pairs, [{ from: 'a', to: 'b' }]);
  const [t, c] = m.records;
  assert.equal(t!.entry.path, 'a');
  assert.ok(t!.deleted);
  assert.deepEqual(t!.version, { b: 5, n: 100 });
  assert.equal(c!.entry.path, 'b');
  assert.equal(c!.entry.hash, H1);
  assert.equal(c!.deleted, undefined);
  assert.deepEqual(c!.version, { c: 9, n: 100 }, 'descends from the tombstone at the new path');
});

test('applyLocalMove: a directory move moves its subtree (not siblings with a common prefix)', () => {
  const index = idx(rec(dir('d'), { b: 5 }), rec(file('d/f'), { b: 5 }), rec(dir('d/s'), { b: 5 }), rec(file('d/s/g'), { b: 5 }), rec(file('dd'), { b: 5 }));
  const m = applyLocalMove(index, 'd', 'e/x', 'n', 100, dir('e/x', { ino: 42 }))!;
  assert.deepEqual(m.pairs.map((p) => `${p.from}>${p.to}`), ['d>e/x', 'd/f>e/x/f', 'd/s>e/x/s', 'd/s/g>e/x/s/g']);
  const created = m.records.filter((r) => !r.deleted).map((r) => r.entry.path);
  assert.deepEqual(created, ['e/x', 'e/x/f', 'e/x/s', 'e/x/s/g'], 'parents first');
  const gone = m.records.filter((r) => r.deleted).map((r) => r.entry.path);
  assert.deepEqual(gone, ['d/s/g', 'd/f', 'd/s', 'd'], 'deepest first');
  assert.equal(m.records.find((r) => r.entry.path === 'e/x')!.entry.ino, 42);
});

test('applyLocalMove: nothing for an unknown source or a move into itself', () => {
  const index = idx(rec(dir('d'), { b: 5 }), rec(file('t'), { b: 5 }, 5));
  assert.equal(applyLocalMove(index, 'nope', 'x', 'n', 1), null);
  assert.equal(applyLocalMove(index, 't', 'x', 'n', 1), null);
  assert.equal(applyLocalMove(index, 'd', 'd/sub', 'n', 1), null);
});

// --- remote changes --------------------------------------------------------------------

test('remote: unknown path -> apply (files need content); unknown tombstone -> adopt', () => {
  const a = applyRemoteChange(undefined, rec(file('f', { ino: 5 }), { b: 1 }));
  assert.equal(a.action, 'apply');
  assert.ok(a.action === 'apply' && a.needsContent);
  assert.ok(a.action === 'apply' && a.record.entry.ino === undefined, 'remote inode dropped');
  const d = applyRemoteChange(undefined, rec(dir('d'), { b: 1 }));
  assert.ok(d.action === 'apply' && !d.needsContent);
  const t = applyRemoteChange(undefined, rec(file('f'), { b: 1 }, 1), { nowMs: 777 });
  assert.equal(t.action, 'adopt');
  assert.deepEqual(t.action === 'adopt' && t.record.deleted, { atMs: 777 }, 'expires by local time');
});

test('remote: equal version -> ignore (our own change coming back: no echo)', () => {
  const local = rec(file('f'), { a: 5 });
  assert.deepEqual(applyRemoteChange(local, rec(file('f', { ino: 1 }), { a: 5 })), { action: 'ignore', reason: 'equal' });
});

test('remote: older version -> ignore', () => {
  const local = rec(file('f'), { a: 5, b: 3 });
  assert.deepEqual(applyRemoteChange(local, rec(file('f', { hash: H2 }), { b: 3 })), { action: 'ignore', reason: 'older' });
});

test('remote: newer version (descendant) -> apply, never a conflict copy', () => {
  const local = rec(file('f'), { a: 5000 });
  const r = applyRemoteChange(local, rec(file('f', { hash: H2 }), { a: 5000, b: 10 })); // b's clock far behind
  assert.equal(r.action, 'apply');
  assert.ok(r.action === 'apply' && r.needsContent);
  const attrs = applyRemoteChange(local, rec(file('f', { mode: 0o600 }), { a: 5000, b: 10 }));
  assert.ok(attrs.action === 'apply' && !attrs.needsContent, 'same hash: only attributes');
  const same = applyRemoteChange(local, rec(file('f', { ino: 1 }), { a: 5000, b: 10 }));
  assert.equal(same.action, 'adopt');
  assert.ok(same.action === 'adopt' && same.record.entry.ino === 100, 'our inode kept');
  const del = applyRemoteChange(local, rec(file('f'), { a: 5000, b: 10 }, 10));
  assert.ok(del.action === 'apply' && del.record.deleted);
});

test('remote: concurrent with the same content -> adopt the merged version', () => {
  const r = applyRemoteChange(rec(file('f'), { a: 5 }), rec(file('f'), { b: 6 }));
  assert.equal(r.action, 'adopt');
  assert.deepEqual(r.action === 'adopt' && r.record.version, { a: 5, b: 6 });
  const t = applyRemoteChange(rec(file('f'), { a: 5 }, 5), rec(file('f'), { b: 6 }, 6));
  assert.equal(t.action, 'adopt');
});

test('remote: concurrent, ours newer -> ignore (the sender keeps our loser... its own copy, when ours reaches it)', () => {
  const r = applyRemoteChange(rec(file('f'), { a: 9000 }), rec(file('f', { hash: H2 }), { b: 8000 }));
  assert.deepEqual(r, { action: 'ignore', reason: 'concurrent-local-wins' });
});

test('remote: concurrent, theirs newer -> our content kept as a conflict copy named after our version', () => {
  const t = Date.UTC(2024, 0, 2, 3, 4, 5);
  const r = applyRemoteChange(rec(file('docs/r.txt'), { a: t }), rec(file('docs/r.txt', { hash: H2 }), { b: t + 1000 }));
  assert.equal(r.action, 'conflict');
  assert.ok(r.action === 'conflict');
  assert.equal(r.keepLocalAs, 'docs/r.omirr-conflict-20240102-030405-a.txt');
  assert.equal(r.needsContent, true);
  assert.deepEqual(r.record.version, { b: t + 1000 }, 'their version as sent, not merged');
  const off = applyRemoteChange(rec(file('f'), { a: 1 }), rec(file('f', { hash: H2 }), { b: 2 }), { keepConflicts: false });
  assert.equal(off.action, 'apply');
});

test('remote: clock tie between concurrent versions -> greater node name wins', () => {
  const r = applyRemoteChange(rec(file('f'), { alpha: 100 }), rec(file('f', { hash: H2 }), { beta: 100 }));
  assert.equal(r.action, 'conflict');
  const r2 = applyRemoteChange(rec(file('f'), { beta: 100 }), rec(file('f', { hash: H2 }), { alpha: 100 }));
  assert.equal(r2.action, 'ignore');
});

test('remote: concurrent delete wins over our edit -> our content is kept as a conflict copy', () => {
  const r = applyRemoteChange(rec(file('f.txt'), { a: 100 }), rec(file('f.txt'), { b: 200 }, 200));
  assert.equal(r.action, 'conflict');
  assert.ok(r.action === 'conflict' && r.record.deleted && !r.needsContent);
});

test('remote: concurrent edit wins over our delete -> apply (nothing of ours to keep)', () => {
  const r = applyRemoteChange(rec(file('f'), { a: 100 }, 100), rec(file('f', { hash: H2 }), { b: 200 }));
  assert.ok(r.action === 'apply' && r.needsContent);
});

test('remote: directories never make conflict copies of themselves, except when a non-directory wins', () => {
  const dd = applyRemoteChange(rec(dir('d'), { a: 100 }), rec(dir('d', { mode: 0o700 }), { b: 200 }));
  assert.ok(dd.action === 'apply' && !dd.needsContent);
  const dt = applyRemoteChange(rec(dir('d'), { a: 100 }), rec(dir('d'), { b: 200 }, 200));
  assert.equal(dt.action, 'apply', 'a directory tombstone: removed only when empty (children are their own records)');
  const df = applyRemoteChange(rec(dir('d'), { a: 100 }), rec(file('d'), { b: 200 }));
  assert.equal(df.action, 'conflict');
  const fl = applyRemoteChange(rec(file('x'), { a: 100 }), rec(link('x', 't'), { b: 200 }));
  assert.equal(fl.action, 'conflict', 'a file losing to a symlink is kept');
});

test('remote: concurrent, same bytes but other attributes -> apply attributes, no conflict copy', () => {
  const r = applyRemoteChange(rec(file('f'), { a: 100 }), rec(file('f', { mode: 0o600 }), { b: 200 }));
  assert.ok(r.action === 'apply' && !r.needsContent);
});

test('planRemoteMove: content already here at the old path is renamed, not fetched', () => {
  const index = idx(rec(file('old'), { a: 5 }));
  const p = planRemoteMove(index, rec(file('old'), { a: 5, b: 6 }, 6), rec(file('new'), { b: 6 }));
  assert.equal(p.from.action, 'apply');
  assert.equal(p.to.action, 'apply');
  assert.deepEqual(p.localSource, { path: 'old', rename: true });
  // our old path was edited concurrently and wins: copy, keep ours
  const index2 = idx(rec(file('old', { hash: H1 }), { a: 9000 }));
  const p2 = planRemoteMove(index2, rec(file('old'), { b: 6 }, 6), rec(file('new'), { b: 6 }));
  assert.equal(p2.from.action, 'ignore');
  assert.deepEqual(p2.localSource, { path: 'old', rename: false });
  const p3 = planRemoteMove(new Map(), rec(file('old'), { b: 6 }, 6), rec(file('new'), { b: 6 }));
  assert.equal(p3.localSource, undefined);
});

test('expiredTombstones: only tombstones older than keepMs', () => {
  const index = idx(rec(file('a'), { a: 1 }, 1000), rec(file('b'), { a: 1 }, 5000), rec(file('c'), { a: 1 }));
  assert.deepEqual(expiredTombstones(index, 6000, 2000), ['a']);
  assert.deepEqual(expiredTombstones(index, 100_000, 2000).sort(), ['a', 'b']);
});

// --- convergence: a small network of nodes applying the rules --------------------------

interface Msg {
  from: string;
  rec: IndexRecord;
}
interface Node {
  name: string;
  index: TreeIndex;
  peers: string[];
}

function simulate(seed: number, topology: Record<string, string[]>, script: (n: Record<string, Node>, local: (node: string, e: Entry | null, path: string, now: number) => void) => void) {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const nodes: Record<string, Node> = {};
  for (const [n, peers] of Object.entries(topology)) nodes[n] = { name: n, index: new Map(), peers };
  const links = new Map<string, Msg[]>(); // "from>to" FIFO
  const send = (from: string, to: string, r: IndexRecord) => {
    const k = `${from}>${to}`;
    if (!links.has(k)) links.set(k, []);
    links.get(k)!.push({ from, rec: r });
  };
  const broadcast = (n: Node, r: IndexRecord, except?: string) => {
    for (const p of n.peers) if (p !== except) send(n.name, p, r);
  };
  let clock = 1_000_000;
  const localChange = (node: string, e: Entry | null, path: string, now: number) => {
    const n = nodes[node]!;
    const prev = n.index.get(path);
    if (e === null) {
      const t = applyLocalDelete(prev, node, now);
      if (t) {
        n.index.set(path, t);
        broadcast(n, t);
      }
      return;
    }
    const { record, changed } = applyLocalChange(prev, e, node, now);
    n.index.set(path, record);
    if (changed) broadcast(n, record);
  };
  script(nodes, localChange);
  for (let steps = 0; steps < 10_000; steps++) {
    const busy = [...links].filter(([, q]) => q.length > 0);
    if (busy.length === 0) break;
    const [k, q] = busy[Math.floor(rnd() * busy.length)]!;
    const to = nodes[k.split('>')[1]!]!;
    const { from, rec: r } = q.shift()!;
    const path = r.entry.path;
    const d = applyRemoteChange(to.index.get(path), r, { nowMs: clock++ });
    if (d.action === 'conflict') {
      const loser = to.index.get(path)!;
      // the daemon renames the local file aside: a new local file at the conflict name
      localChange(to.name, { ...loser.entry, path: d.keepLocalAs }, d.keepLocalAs, clock++);
    }
    if (d.action === 'apply' || d.action === 'adopt' || d.action === 'conflict') {
      to.index.set(path, d.record);
      broadcast(to, d.record, from);
    }
  }
  for (const q of links.values()) assert.equal(q.length, 0, 'network quiet');
  return nodes;
}

function liveState(n: Node): string {
  return [...n.index.values()]
    .filter((r) => !r.deleted)
    .map((r) => `${r.entry.path}:${r.entry.hash ?? r.entry.kind}`)
    .sort()
    .join('\n');
}

test('convergence: chain A-B-C, concurrent edits at both ends, any delivery order', () => {
  const topo = { A: ['B'], B: ['A', 'C'], C: ['B'] };
  for (let seed = 1; seed <= 60; seed++) {
    const nodes = simulate(seed, topo, (_n, local) => {
      local('A', file('f.txt', { hash: H1 }), 'f.txt', 1000);
      local('C', file('f.txt', { hash: H2 }), 'f.txt', 2000); // newer: wins
      local('B', file('g', { hash: H1 }), 'g', 1500);
    });
    const a = liveState(nodes.A!);
    assert.equal(liveState(nodes.B!), a, `seed ${seed}: B = A`);
    assert.equal(liveState(nodes.C!), a, `seed ${seed}: C = A`);
    assert.match(a, new RegExp(`^f\\.omirr-conflict-19700101-000001-A\\.txt:${H1}$`, 'm'), 'loser kept once, same name everywhere');
    assert.match(a, new RegExp(`^f\\.txt:${H2}$`, 'm'), 'newest wins');
    assert.match(a, /^g:/m);
  }
});

test('convergence: full mesh of four, edits, deletes and skewed clocks', () => {
  const topo = { A: ['B', 'C', 'D'], B: ['A', 'C', 'D'], C: ['A', 'B', 'D'], D: ['A', 'B', 'C'] };
  const H3 = 'c'.repeat(64);
  for (let seed = 1; seed <= 40; seed++) {
    const nodes = simulate(seed, topo, (_n, local) => {
      local('A', file('x', { hash: H1 }), 'x', 5000);
      local('B', file('x', { hash: H2 }), 'x', 100); // B's clock is far behind
      local('C', file('y', { hash: H3 }), 'y', 3000);
      local('C', null, 'y', 3001);
      local('D', file('x', { hash: H1 }), 'x', 4000); // same content as A
    });
    const a = liveState(nodes.A!);
    for (const n of ['B', 'C', 'D']) assert.equal(liveState(nodes[n]!), a, `seed ${seed}: ${n} = A`);
    assert.match(a, new RegExp(`^x:${H1}$`, 'm'));
    assert.doesNotMatch(a, /^y:/m, 'delete travelled');
    assert.match(a, new RegExp(`omirr-conflict-[0-9-]+-B:${H2}$`, 'm'), 'the slow-clock loser kept');
  }
});

test('diffScan: subtrees the scan could not read are never taken for deleted', () => {
  const index = idx(rec(dir('locked'), { b: 5 }), rec(file('locked/f'), { b: 5 }), rec(file('gone'), { b: 5 }));
  const d = diffScan(index, [dir('locked')], 'a', 100, { unscanned: ['locked'] });
  assert.deepEqual(d.vanished.map((r) => r.entry.path), ['gone']);
  const all = diffScan(index, [], 'a', 100, { unscanned: ['.'] });
  assert.equal(all.vanished.length, 0, "'.' (the scanner's name for an unreadable root) covers everything");
});
