// The binary listing compared with the other end's entries as it is decoded (net/listingWire.ts
// ListingDecoder with `like`, Tree.scanLike, engine/syncTrees.ts): a no-op re-run builds no
// entry for the remote listing and plans nothing. The guarantees attacked here: "equal" is
// said only where the full planner (core/plan.ts planInFull) plans nothing, in either
// direction, with and without deletes; where it is not said, the entries, and any error
// for a corrupt listing, are exactly those of a decoder without `like`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/core/entry.js';
import type { LikeListing } from '../../src/core/tree.js';
import { planInFull, planSync, type PlanOptions, type SyncPlan } from '../../src/core/plan.js';
import { encodeListing, ListingDecoder } from '../../src/net/listingWire.js';
import { isCanonicalName } from '../../src/core/names.js';
import { connectTree } from '../../src/net/client.js';
import { serveOneTree } from '../helpers/netFixtures.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { syncTrees } from '../../src/engine/syncTrees.js';
import { chmod, mkdtemp, mkdir, rm, stat, writeFile, utimes, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small deterministic PRNG (mulberry32): a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T = 1_700_000_000_000;
// ASCII, UTF-8, bytes that are not UTF-8 (escaped as U+DC80..U+DCFF), emoji sharing a high surrogate
const NAMES = ['a', 'b', 'ab', 'a.txt', 'é', 'ü', '日本', '\udc80', '\udcff\udc80', 'x\udcfe', '\ud83d\ude00', '\ud83d\ude01', 'z'.repeat(200)];

/** A random tree's listing in scan order (a directory before its children, names sorted). */
function randomTree(r: () => number): Entry[] {
  const out: Entry[] = [];
  const walk = (dir: string, depth: number): void => {
    const names = [...new Set(Array.from({ length: 1 + Math.floor(r() * 5) }, () => NAMES[Math.floor(r() * NAMES.length)]!))].sort();
    for (const n of names) {
      const path = dir ? `${dir}/${n}` : n;
      const k = r();
      const common = { path, mtimeMs: T + Math.floor(r() * 1e6) - 5e5, uid: 1000, gid: 1000, ino: Math.floor(r() * 1e9) };
      const ns = r() < 0.7 ? { mtimeNs: Math.floor(r() * 1e6) - 500_000 } : {};
      if (k < 0.25 && depth < 3) {
        out.push({ ...common, ...ns, kind: 'dir', size: 4096, mode: 0o755 });
        walk(path, depth + 1);
      } else if (k < 0.35) {
        out.push({ ...common, kind: 'symlink', size: 3, mode: 0o777, target: r() < 0.5 ? '../t' : 't\udc81é' });
      } else {
        out.push({ ...common, ...ns, kind: 'file', size: Math.floor(r() * 100_000), mode: r() < 0.8 ? 0o644 : 0o600 });
      }
    }
  };
  walk('', 0);
  return out;
}

/** The other end's listing: a copy of `base` with a few random changes (or none). */
function mutate(base: Entry[], r: () => number): Entry[] {
  let d = base.map((e) => ({ ...e }));
  const n = r() < 0.4 ? 0 : 1 + Math.floor(r() * 3);
  for (let k = 0; k < n && d.length > 0; k++) {
    const i = Math.floor(r() * d.length);
    const e = d[i]!;
    switch (Math.floor(r() * 15)) {
      case 0: e.mode ^= 0o020; break;
      case 1: e.mtimeMs += r() < 0.5 ? 1 : -1000; break;
      case 2: e.mtimeNs = (e.mtimeNs ?? 0) + (r() < 0.5 ? 1 : 1000); break; // below a µs: not settable, equal
      case 3: delete e.mtimeNs; break;
      case 4: e.size += 1; break;
      case 5: Object.assign(e, { uid: 0, gid: 7, ino: 1 }); break; // owners and inodes: not compared
      case 6: e.kind = e.kind === 'file' ? 'dir' : 'file'; delete e.target; break;
      case 7: e.target = e.kind === 'symlink' ? `${e.target}x` : e.target; break;
      case 8: d.splice(i, 1); break; // present on one side only (or skipped by its scan)
      case 9: d.splice(i, 0, { path: `${e.path}~`, kind: 'file', size: 1, mtimeMs: T, mode: 0o644 }); break;
      case 10: e.path = `${e.path}\udc80`; break;
      case 11: d = d.slice(0, i); break; // a listing cut short (the other end skipped the rest)
      case 12: e.hash = 'ab'.repeat(32); if (e.kind !== 'file') delete e.hash; break;
      case 13: e.mtimePrecisionMs = 2000; break; // a coarse clock on one side
      case 14: if (/[^/][\x20-\x7e]$/.test(e.path)) e.path = e.path.slice(0, -1); break; // a name that is the other's prefix
    }
  }
  return d;
}

/** The listing's bytes, cut into random pieces as a socket would. */
function pieces(entries: Entry[], r: () => number): Buffer[] {
  const bytes = Buffer.concat([...encodeListing(entries)]);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + Math.floor(r() * (r() < 0.5 ? 50 : 70_000));
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

function decodeLike(chunks: Buffer[], like?: readonly Entry[]): { equal?: number; entries: () => Entry[] } {
  const d = new ListingDecoder(like);
  for (const c of chunks) d.push(c);
  const equal = d.equalCount();
  return { ...(equal !== undefined ? { equal } : {}), entries: () => d.finish() };
}

const OPTS: PlanOptions[] = [{}, { delete: true }, { delete: true, srcSkipped: ['a'] }];
const isEmpty = (p: SyncPlan): boolean => p.mkdirs.length + p.transfers.length + p.symlinks.length + p.setattrs.length + p.deletes.length + p.skipped.length + (p.replaced?.length ?? 0) === 0;

test('random listings: "equal" only where the full planner plans nothing, else the very entries of a plain decode', () => {
  let equal = 0;
  let differ = 0;
  for (let seed = 1; seed <= 600; seed++) {
    const r = rng(seed);
    const local = randomTree(r);
    const remote = mutate(local, r);
    const chunks = pieces(remote, r);
    const plain = decodeLike(chunks).entries();
    // wire entries carry no precision field: what a plain decode gives is what the planner sees
    const got = decodeLike(chunks, local);
    for (const opts of OPTS) {
      // the remote end as destination (a push) and as source (a pull)
      const push = planSync(local, plain, opts);
      const pull = planSync(plain, local, opts);
      assert.deepEqual(push, planInFull(local, plain, opts), `seed ${seed}: planSync is planInFull`);
      if (got.equal !== undefined) {
        assert.equal(got.equal, plain.length, `seed ${seed}`);
        // syncTrees lets the local listing stand in for an equal remote one
        assert.deepEqual(planSync(local, local, opts), push, `seed ${seed}: push plan`);
        assert.deepEqual(planSync(local, local, opts), pull, `seed ${seed}: pull plan`);
        assert.ok(isEmpty(planInFull(local, plain, opts)) && isEmpty(planInFull(plain, local, opts)), `seed ${seed}: said equal, but the full planner has work`);
      }
    }
    if (got.equal !== undefined) equal++;
    else differ++;
    // equal or not, the entries when asked for are those of a plain decode
    assert.deepEqual(got.entries(), plain, `seed ${seed}: entries`);
  }
  // both ways were taken often enough to mean something
  assert.ok(equal > 150 && differ > 150, `equal ${equal}, differ ${differ}`);
});

/** The pairs at `changed` alone, as syncTrees plans an aligned listing (engine/syncTrees.ts makePlan). */
function planChanged(src: Entry[], dst: Entry[], changed: ReadonlyArray<readonly [number, Entry]>, opts: PlanOptions): SyncPlan {
  return planSync(
    changed.map(([i]) => src[i]!),
    changed.map(([i]) => dst[i]!),
    opts,
  );
}

test('random listings: "aligned, these changed" only where planning those pairs alone is the full plan, and they are the plain decode\'s entries', () => {
  let aligned = 0;
  let differs = 0;
  for (let seed = 1; seed <= 1500; seed++) {
    const r = rng(seed);
    const local = randomTree(r);
    const remote = mutate(local, r);
    const chunks = pieces(remote, r);
    const plain = decodeLike(chunks).entries();
    let told = 0;
    const d = new ListingDecoder(local, () => told++);
    for (const c of chunks) d.push(c);
    const got = d.likeListing();
    assert.ok(told <= 1, `seed ${seed}: told once at most`);
    if (got === undefined) {
      assert.deepEqual(d.finish(), plain, `seed ${seed}: entries`);
      assert.equal(told, 1, `seed ${seed}: a listing decoded in full was said to differ`);
      continue;
    }
    assert.equal(got.equalCount, plain.length, `seed ${seed}`);
    if (!got.changed) {
      assert.equal(told, 0, `seed ${seed}: an equal listing was said to differ`);
      continue;
    }
    assert.equal(told, 1, `seed ${seed}`);
    aligned++;
    // the listing is `local` with the changed entries in their places: every other entry the
    // same by the quick check, the changed ones exactly the plain decode's
    const merged = local.slice();
    for (const [i, e] of got.changed) {
      assert.deepEqual(e, plain[i], `seed ${seed}: entry ${i}`);
      merged[i] = e;
    }
    for (const opts of [...OPTS, { makeBadSymlinks: true }]) {
      assert.deepEqual(planChanged(local, merged, got.changed, opts), planInFull(local, plain, opts), `seed ${seed}: push plan ${JSON.stringify(opts)}`);
      assert.deepEqual(planChanged(merged, local, got.changed, opts), planInFull(plain, local, opts), `seed ${seed}: pull plan ${JSON.stringify(opts)}`);
    }
    differs += got.changed.length > 0 ? 1 : 0;
  }
  assert.ok(aligned > 120, `aligned ${aligned} (${differs})`);
});

test('"equal" whenever the quick check finds nothing: owners, inodes, hashes and sub-µs times differ', () => {
  const r = rng(99);
  const local = randomTree(r);
  // the same microsecond, another nanosecond in it (not settable, so not compared)
  const subMicro = (ns: number): number => Math.floor(ns / 1000) * 1000 + ((ns - Math.floor(ns / 1000) * 1000 + 1) % 1000);
  const remote = local.map((e) => ({ ...e, uid: 1, gid: 2, ino: 3, ...(e.mtimeNs !== undefined ? { mtimeNs: subMicro(e.mtimeNs) } : {}) }));
  const got = decodeLike(pieces(remote, r), local);
  assert.equal(got.equal, local.length);
  assert.deepEqual(got.entries(), decodeLike(pieces(remote, r)).entries());
});

test('a path that differs in one unit of its name or of the part it shares with the path before, or in its encoding, is never taken as the local one', () => {
  // The comparison reads an ASCII name byte by byte against the local path's code units
  // (ListingDecoder nameIs): every position of the name, every way a unit can differ (an
  // ASCII letter, a letter with an accent, an escaped byte, an emoji's surrogates), and UTF-8
  // whose byte count equals the local name's length must each be seen as another path.
  const names = ['f12345.dat', 'abc', 'x', 'é1', 'dé', '\udc80a', 'a\udcff', '\ud83d\ude00', 'ab\ud83d\ude00'];
  const others = (n: string): string[] => {
    const out = new Set<string>();
    for (let k = 0; k < n.length; k++) {
      for (const c of ['a', 'b', 'Z', 'é', '\udc80', '\udc81', '~']) out.add(n.slice(0, k) + c + n.slice(k + 1));
    }
    // the same length in UTF-16 units but other bytes (two-byte letters), and the same byte count as the units
    out.add('é'.repeat(n.length));
    out.add('é'.repeat(Math.ceil(n.length / 2)));
    // one unit shorter or longer: the shared part matches, the lengths do not
    if (n.length > 1) out.add(n.slice(0, -1));
    out.add(`${n}a`);
    out.delete(n);
    // only names a file can have (a unit replaced in an emoji leaves a lone surrogate)
    return [...out].filter(isCanonicalName);
  };
  let tried = 0;
  for (const dir of ['', 'd007', 'd007/sub']) {
    for (const name of names) {
      for (const other of others(name)) {
        // a directory, a sibling before the name, the name itself (local) or the other (remote)
        const head: Entry[] = dir ? [{ path: dir, kind: 'dir', size: 0, mtimeMs: T, mode: 0o755 }] : [];
        const at = (n: string): Entry[] => [...head, { path: dir ? `${dir}/0` : '0', kind: 'file', size: 1, mtimeMs: T, mode: 0o644 }, { path: dir ? `${dir}/${n}` : n, kind: 'file', size: 5, mtimeMs: T, mode: 0o644 }];
        const local = at(name);
        const remote = at(other);
        for (const [l, rem] of [[local, remote], [remote, local]] as const) {
          const d = new ListingDecoder(l);
          for (const b of encodeListing(rem)) d.push(Buffer.from(b));
          assert.equal(d.likeListing(), undefined, `${JSON.stringify(rem.at(-1)!.path)} taken for ${JSON.stringify(l.at(-1)!.path)}`);
          assert.deepEqual(d.finish(), rem, 'decoded in full as sent');
          tried++;
        }
        // and the same name, sent as it is, is equal
        const d = new ListingDecoder(local);
        for (const b of encodeListing(local)) d.push(Buffer.from(b));
        assert.deepEqual(d.likeListing(), { equalCount: local.length });
      }
    }
  }
  // the part a record shares with the path before it: the local path differs there, at its
  // first unit, its last, or inside a directory's name, and has the same name after it
  const file = (path: string): Entry => ({ path, kind: 'file', size: 5, mtimeMs: T, mode: 0o644 });
  const shared: Array<[string[], string[]]> = [
    [['ab1', 'xb2'], ['ab1', 'ab2']],
    [['ab1', 'ax2'], ['ab1', 'ab2']],
    [['d0/f1', 'd0/f2', 'e0/f3'], ['d0/f1', 'd0/f2', 'd0/f3']],
    [['q/d\u00e91', 'q/e\u00e92'], ['q/d\u00e91', 'q/d\u00e92']],
  ];
  for (const [l, rem] of shared) {
    const d = new ListingDecoder(l.map(file));
    for (const b of encodeListing(rem.map(file))) d.push(Buffer.from(b));
    assert.equal(d.likeListing(), undefined, `${rem.join(' ')} taken for ${l.join(' ')}`);
    tried++;
  }
  assert.ok(tried > 1000, `${tried}`);
});

test('a corrupt listing fails (or decodes) exactly as without the comparison', () => {
  let failures = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const r = rng(seed * 7919);
    const local = randomTree(r);
    const bytes = Buffer.concat([...encodeListing(local)]);
    // flip, cut or truncate: a hostile or broken peer
    const bad = Buffer.from(bytes);
    for (let k = 0; k < 1 + Math.floor(r() * 3); k++) bad[4 + Math.floor(r() * (bad.length - 4))] = Math.floor(r() * 256);
    const input = r() < 0.2 ? bad.subarray(0, Math.floor(r() * bad.length)) : bad;
    const run = (like?: Entry[]): { ok: Entry[] } | { err: string } | { equal: number } => {
      try {
        const d = decodeLike([input], like);
        return d.equal !== undefined ? { equal: d.equal } : { ok: d.entries() };
      } catch (err) {
        return { err: String(err) };
      }
    };
    const plain = run();
    const like = run(local);
    if ('err' in plain) failures++;
    // aligned but for some changed entries: those are what a plain decode gives, and planning them alone is the full plan
    let aligned: ReturnType<ListingDecoder['likeListing']>;
    try {
      const d = new ListingDecoder(local);
      d.push(input);
      aligned = d.likeListing();
    } catch {
      aligned = undefined; // the same failure as without `like` (checked above through run)
    }
    if (aligned?.changed) {
      assert.ok('ok' in plain, `seed ${seed}: aligned, but the plain decode failed: ${JSON.stringify(plain)}`);
      const merged = local.slice();
      for (const [i, e] of aligned.changed) {
        assert.deepEqual(e, plain.ok[i], `seed ${seed}: entry ${i}`);
        merged[i] = e;
      }
      assert.deepEqual(planChanged(local, merged, aligned.changed, { delete: true }), planInFull(local, plain.ok, { delete: true }), `seed ${seed}`);
    }
    if ('equal' in like) {
      // a byte changed where no compared field reads it (an inode, an owner): the plain decode agrees on everything the plan reads
      assert.ok('ok' in plain, `seed ${seed}: equal, but the plain decode failed: ${JSON.stringify(plain)}`);
      assert.ok(isEmpty(planInFull(local, plain.ok, { delete: true })), `seed ${seed}`);
    } else {
      assert.deepEqual(like, plain, `seed ${seed}`);
    }
  }
  assert.ok(failures > 50, `${failures} corrupt listings refused`);
});

test('syncTrees over omirr://: a no-op builds no remote entry, a change is still found and copied', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-like-'));
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  await mkdir(join(src, 'd', 'e'), { recursive: true });
  await mkdir(dst);
  for (let i = 0; i < 50; i++) await writeFile(join(src, 'd', `f${i}`), `file ${i}`);
  await writeFile(join(src, 'd', 'e', 'x'), 'x');
  await symlink('../d/f1', join(src, 'd', 'e', 'l'));
  const { server, url, client } = await serveOneTree(dst);
  const once = async (): Promise<{ r: Awaited<ReturnType<typeof syncTrees>>; likes: Array<Entry[] | LikeListing> }> => {
    const remote = await connectTree(url, { nodeKey: client, pin: server.fingerprint, writable: true });
    // watch what the remote end's comparison answered
    const likes: Array<Entry[] | LikeListing> = [];
    const orig = remote.scanLike!.bind(remote);
    remote.scanLike = async (like, opts, onDiffers) => {
      const x = await orig(like, opts, onDiffers);
      likes.push(x);
      return x;
    };
    try {
      // the local listing made before the remote one arrives, as the CLI's walk when taken
      const local = new LocalTree(src, { writable: false });
      const entries = await local.scan();
      return { r: await syncTrees(local, remote, { delete: true, srcScan: { entries: Promise.resolve(entries), skipped: [] } }), likes };
    } finally {
      await remote.close();
    }
  };
  try {
    const first = await once();
    assert.equal(first.r.failed.length, 0);
    assert.equal(await readFile(join(dst, 'd', 'f7'), 'utf8'), 'file 7');
    const noop = await once();
    assert.deepEqual(noop.likes.map((x) => (Array.isArray(x) ? 'entries' : x.equalCount)), [noop.r.scanned.src], 'the no-op compared, built nothing');
    assert.equal(noop.r.scanned.dst, noop.r.scanned.src);
    assert.equal(noop.r.filesSent + noop.r.deleted + noop.r.attrsSet + noop.r.dirsCreated, 0);
    // two files changed (one the same size, one not), one's mode only: only those built, and copied (or fixed)
    await writeFile(join(src, 'd', 'f3'), 'FILE 3');
    await utimes(join(src, 'd', 'f3'), new Date(T), new Date(T));
    await writeFile(join(src, 'd', 'f5'), 'file 5, longer now');
    await chmod(join(src, 'd', 'f6'), 0o600);
    const few = await once();
    const seen = few.likes[0]!;
    assert.ok(!Array.isArray(seen) && seen.changed, 'the remote listing was compared, not decoded');
    assert.deepEqual(seen.changed.map(([, e]) => e.path).sort(), ['d/f3', 'd/f5', 'd/f6'], 'only the changed entries built');
    assert.equal(few.r.filesSent, 2);
    assert.equal(few.r.failed.length, 0);
    assert.equal(await readFile(join(dst, 'd', 'f3'), 'utf8'), 'FILE 3');
    assert.equal(await readFile(join(dst, 'd', 'f5'), 'utf8'), 'file 5, longer now');
    assert.equal((await stat(join(dst, 'd', 'f6'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dst, 'd', 'f3'))).mtimeMs, T);
    const again = await once();
    assert.deepEqual(again.likes.map((x) => (Array.isArray(x) ? 'entries' : x.changed ? 'changed' : x.equalCount)), [again.r.scanned.src], 'then a no-op');
    // one file changed (same size, other mtime), one removed: found, copied, deleted
    await writeFile(join(src, 'd', 'f3'), 'FiLE 3');
    await utimes(join(src, 'd', 'f3'), new Date(T + 1000), new Date(T + 1000));
    await rm(join(src, 'd', 'f4'));
    const change = await once();
    assert.ok(Array.isArray(change.likes[0]), 'a tree with other paths decodes the entries');
    assert.equal(await readFile(join(dst, 'd', 'f3'), 'utf8'), 'FiLE 3');
    await assert.rejects(readFile(join(dst, 'd', 'f4')), { code: 'ENOENT' });
  } finally {
    await server.close();
    await rm(base, { recursive: true, force: true });
  }
});
