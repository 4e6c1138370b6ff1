// The quick no-op check of `omirr sync SRC DST` between two local directories
// (src/engine/quickLocal.ts): a re-run that finds nothing to do ends before the command's
// modules load. As an adversary: every kind of difference a destination can have must still
// be found and fixed (the full sync runs), skipped entries must still be warned about, and
// flags that print must still print.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeTree, madePairCopy, makeSampleTree, removeDir, tempDir, tempFiles } from '../helpers/engineFixtures.js';
import { tempPathFor } from '../../src/core/tempPath.js';
import { scan } from '../../src/workers/scanTask.js';
import { rmDeep } from '../helpers/fidelityFixtures.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) removeDir(d);
});

/** How many items the quick check's main thread kept ("kept N items here"). */
const keptHere = (stderr: string): number => Number(/kept (\d+) items here/.exec(stderr)?.[1] ?? NaN);

/** `omirr sync ARGS`, with OMIRR_TIMING so the run shows which way it went. */
function sync(args: string[], cwd?: string): { status: number | null; stdout: string; stderr: string; quickDone: boolean } {
  const r = spawnSync(process.execPath, [bin, 'sync', ...args], { cwd, encoding: 'utf8', env: { ...process.env, OMIRR_LOG_LEVEL: 'warn', OMIRR_TIMING: '1' } });
  // the full command opens its trees; a quick no-op ends before that
  const quickDone = r.stderr.includes('quick scans') && !r.stderr.includes('openTree');
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, quickDone };
}

/**
 * The sample tree, synced: made and synced once in this file (the first copy checked there),
 * a copy of that pair for each test (madePairCopy), which saves a CLI run per test.
 */
function synced(tag: string): { src: string; dst: string } {
  return madePairCopy('sample', tag, dirs, (src, dst) => {
    makeSampleTree(src);
    assert.equal(sync([src, dst]).status, 0);
    assert.deepEqual(describeTree(dst), describeTree(src));
  });
}

/** A tree of `n` directories of `files` files each, `d<k>/f<i>` holding `<k>/<i>`, synced. */
function makeGridSynced(tag: string, n: number, files: number): { src: string; dst: string } {
  const base = tempDir(tag);
  dirs.push(base);
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  for (let d = 0; d < n; d++) {
    mkdirSync(join(src, `d${d}`), { recursive: true });
    for (let i = 0; i < files; i++) writeFileSync(join(src, `d${d}`, `f${i}`), `${d}/${i}`);
  }
  assert.equal(sync([src, dst]).status, 0);
  return { src, dst };
}

/** A tree of 30 directories of 280 files (more than the main thread walks alone: the pair thread starts), synced. */
const makeBigSynced = (tag: string): { src: string; dst: string } => makeGridSynced(tag, 30, 280);

/**
 * The big pair, handed back by a test that ended with it synced (its last check: the
 * destination's describeTree equal to the source's), for the next test that needs one. Making
 * it (8,400 files written, then a first sync) was ~3 s of this file's CPU per test; a copy
 * with `cp -a` cost as much as making it. A test that fails before handing it back leaves
 * none: the next one makes its own.
 */
let bigFree: { src: string; dst: string } | undefined;
function bigSynced(tag: string): { src: string; dst: string } {
  const pair = bigFree ?? makeBigSynced(tag);
  bigFree = undefined;
  return pair;
}
function bigBack(pair: { src: string; dst: string }): void {
  assert.deepEqual(describeTree(pair.dst), describeTree(pair.src));
  bigFree = pair;
}

describe('omirr sync: the quick no-op check', () => {
  test('a no-op re-run ends quickly, changes nothing and prints nothing; with --delete too', () => {
    const { src, dst } = synced('quick');
    const before = describeTree(dst);
    for (const args of [[src, dst], [src, dst, '--delete'], ['--delete', src, dst]]) {
      const r = sync(args);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.quickDone, `not the quick way: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.deepEqual(describeTree(dst), before);
    }
  });

  test('every difference of the destination is found and fixed by the full sync', () => {
    const { src, dst } = synced('quickdiff');
    const secs = (ms: number): number => ms / 1000;
    const changes: Array<[string, () => void]> = [
      ['file mode', () => chmodSync(join(dst, 'exec.sh'), 0o644)],
      ['file mtime by a ms', () => utimesSync(join(dst, 'one'), new Date(), secs(lstatSync(join(dst, 'one')).mtimeMs + 1))],
      ['file content, size and mtime', () => writeFileSync(join(dst, 'many/f3'), 'other content')],
      ['dir mode', () => chmodSync(join(dst, 'a/b'), 0o700)],
      ['dir mtime', () => utimesSync(join(dst, 'many'), new Date(), new Date(0))],
      ['symlink target', () => (unlinkSync(join(dst, 'a/link-rel')), symlinkSync('../exec.sh', join(dst, 'a/link-rel')))],
      ['file missing', () => unlinkSync(join(dst, 'many/f7'))],
      ['dir missing', () => removeDir(join(dst, 'empty/nested/deeper'))],
      ['file where a dir is', () => (removeDir(join(dst, 'a/b/c')), writeFileSync(join(dst, 'a/b/c'), 'x'))],
    ];
    for (const [name, change] of changes) {
      change();
      assert.notDeepEqual(describeTree(dst), describeTree(src), `${name}: the change made no difference`);
      const r = sync([src, dst]);
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      // (a file's new content in a subdirectory is copied by the quick check itself: quickCopy.ts)
      assert.ok(!r.quickDone || /quick copy \d+ files/.test(r.stderr), `${name}: taken for a no-op`);
      assert.deepEqual(describeTree(dst), describeTree(src), `${name}: not fixed`);
    }
  });

  test('a tree too large for the main thread alone (the destination scanned in a thread of its own): no-op, then a difference', () => {
    const { src, dst } = bigSynced('quickbig');
    const r = sync([src, dst]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.quickDone, `not the quick way: ${r.stderr}`);
    chmodSync(join(dst, 'd29/f279'), 0o600);
    const again = sync([src, dst]);
    assert.equal(again.status, 0, again.stderr);
    assert.ok(!again.quickDone, 'a changed mode taken for a no-op');
    bigBack({ src, dst }); // (asserts the trees equal)
  });

  test('an extra destination entry: kept without --delete, deleted with it', () => {
    const { src, dst } = synced('quickextra');
    writeFileSync(join(dst, 'many/extra'), 'mine');
    const r = sync([src, dst]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(dst, 'many/extra')));
    const d = sync([src, dst, '--delete']);
    assert.equal(d.status, 0, d.stderr);
    assert.ok(!d.quickDone);
    assert.deepEqual(describeTree(dst), describeTree(src));
  });

  test('a rerun changed in more files than one copy batch holds (the rerun starts one io thread): every one copied, verified', () => {
    const { src, dst } = synced('quickmany');
    // 1,300 new files and 40 rewritten: three batches of at most 512 (localTree.ts), so the
    // copy needs the threads the rerun did not start early
    for (let i = 0; i < 1300; i++) {
      mkdirSync(join(src, 'bulk', `d${i % 7}`), { recursive: true });
      writeFileSync(join(src, 'bulk', `d${i % 7}`, `n${i}`), `file ${i} `.repeat(1 + (i % 50)));
    }
    for (let i = 0; i < 40; i++) writeFileSync(join(src, 'many', `f${i}`), `rewritten ${i}`);
    const r = sync([src, dst]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stderr.includes('quick scans') && r.stderr.includes('copy files'), r.stderr);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assert.ok(sync([src, dst]).quickDone, 'and the next run is a no-op');
  });

  test('a skipped entry (a fifo) is still warned about on every run', () => {
    const { src, dst } = synced('quickfifo');
    execFileSync('mkfifo', [join(src, 'pipe')]);
    for (let i = 0; i < 2; i++) {
      const r = sync([src, dst]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /skipped: not a regular file, directory or symlink/);
      assert.ok(!r.quickDone);
    }
  });

  test('flags that print go the full way: --json and -v on a no-op still print their summary', () => {
    const { src, dst } = synced('quickflags');
    const j = sync([src, dst, '--json']);
    assert.equal(j.status, 0, j.stderr);
    assert.equal(JSON.parse(j.stdout).filesSent, 0);
    const v = sync(['-v', src, dst]);
    assert.equal(v.status, 0, v.stderr);
    assert.notEqual(v.stdout, '');
    mkdirSync(join(src, 'new-dir'));
    const n = sync(['-n', src, dst]);
    assert.equal(n.status, 0, n.stderr);
    assert.ok(!existsSync(join(dst, 'new-dir')), 'a dry run wrote');
  });

  test('relative SRC and DST: the check walks the source from inside it, and the full command after it still finds both where they were', () => {
    const { src, dst } = synced('quickrel');
    const base = join(src, '..');
    assert.ok(sync(['src', 'dst'], base).quickDone, 'a relative no-op goes the quick way');
    writeFileSync(join(src, 'many/f3'), 'changed from a relative run');
    mkdirSync(join(src, 'new-dir'));
    const r = sync(['src/', './dst'], base);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.quickDone);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assert.ok(!existsSync(join(src, 'src')) && !existsSync(join(src, 'dst')), 'nothing written inside the source');
  });

  test('a path short from inside the source but too long from its root (PATH_MAX) is refused as before, not found "same" as its copy', () => {
    const base = tempDir('quicklong');
    after(() => rmDeep(base));
    // the source's root deep enough that root + the path is over 4096 bytes, the path itself
    // well under; the destination's root short, so its copy of the path is reachable whole
    const seg = 'd'.repeat(200);
    const src = join(base, ...Array.from({ length: 15 }, (_, i) => `${seg}${i}`));
    const dst = join(base, 'dst');
    const rel = Array.from({ length: 6 }, (_, i) => `${seg}x${i}`);
    assert.ok(src.length + 1 + rel.join('/').length + 'f.txt'.length + 1 > 4096 && dst.length + rel.join('/').length + 10 < 4096);
    const when = new Date(1_700_000_000_000);
    const cwd = process.cwd();
    for (const root of [src, dst]) {
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, 'ok.txt'), 'fine\n');
      process.chdir(root); // the long path is made from inside: whole, the kernel refuses it
      try {
        mkdirSync(rel.join('/'), { recursive: true });
        writeFileSync(`${rel.join('/')}/f.txt`, 'deep\n');
        utimesSync(`${rel.join('/')}/f.txt`, when, when);
        for (let i = rel.length; i > 0; i--) utimesSync(rel.slice(0, i).join('/'), when, when);
        utimesSync('ok.txt', when, when);
      } finally {
        process.chdir(cwd);
      }
    }
    const r = sync([src, dst]);
    assert.equal(r.status, 1, `the too long path fails the run: ${r.stderr}`);
    assert.ok(!r.quickDone, 'not the quick way');
    assert.match(r.stderr, /path too long/);
  });
});

describe('omirr sync: a rerun of a few rewritten small files, copied by the quick check (quickCopy.ts)', () => {
  /** Rewrite `rel` in `root` with new content and mtime (and mode, when given). */
  const rewrite = (root: string, rel: string, content: string, secs: number, mode?: number): void => {
    writeFileSync(join(root, rel), content);
    if (mode !== undefined) chmodSync(join(root, rel), mode);
    utimesSync(join(root, rel), secs, secs);
  };

  test('copied before the full command loads: contents, modes, file and directory mtimes as the full sync leaves them; no temporary left; the next run a no-op', () => {
    const { src, dst } = synced('qcopy');
    rewrite(src, 'many/f3', 'new content of f3', 1_700_000_001);
    rewrite(src, 'many/f5', 'f5, now private', 1_700_000_002, 0o600);
    rewrite(src, 'a/b/c/deep.bin', 'x'.repeat(513), 1_700_000_003); // same size, new mtime
    const r = sync([src, dst]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /quick copy 3 files \(main thread\)/);
    // the walks kept no entries but the two changed directories' ('a' and 'many')
    assert.match(r.stderr, /kept 2 items here /);
    assert.ok(!r.stderr.includes('openTree'), `the full command ran too: ${r.stderr}`);
    // every field the full sync sets: content (sha256), mode, mtime; and the directories' mtimes put back
    assert.deepEqual(describeTree(dst), describeTree(src));
    assert.deepEqual(tempFiles(dst), []);
    const next = sync([src, dst]);
    assert.ok(next.quickDone && !/quick copy/.test(next.stderr), `the next run is not a no-op: ${next.stderr}`);
  });

  test('a tree large enough for the pair thread: the copy runs on the main thread, the pair thread ended (not waited for), files from both ends of the walk', () => {
    const { src, dst } = bigSynced('qcopybig');
    for (const d of [0, 1, 15, 28, 29]) rewrite(src, `d${d}/f${d * 7}`, `rewritten ${d}`, 1_700_000_100 + d);
    const r = sync([src, dst]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /pair thread took \d+ of 30/);
    assert.match(r.stderr, /quick copy 5 files \(main thread\)/);
    assert.ok(keptHere(r.stderr) <= 5, `only changed directories kept: ${r.stderr}`);
    assert.ok(!r.stderr.includes('openTree'), `the full command ran too: ${r.stderr}`);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assert.ok(sync([src, dst]).quickDone, 'the next run is a no-op');
    // a new file in the last directory (the pair thread's end of the walk) and one rewritten in the first: the full command, both done
    writeFileSync(join(src, 'd29', 'new'), 'new');
    rewrite(src, 'd0/f1', 'rewritten again', 1_700_000_200);
    const full = sync([src, dst]);
    assert.equal(full.status, 0, full.stderr);
    assert.ok(!/quick copy \d+ files/.test(full.stderr) && full.stderr.includes('openTree'), `not the full command: ${full.stderr}`);
    assert.deepEqual(describeTree(dst), describeTree(src));
  });

  /** `r` was a quick copy (`how`) alone, no full command, that left `dst` as the full sync would, and the next run is a no-op. */
  const assertQuickCopied = (r: ReturnType<typeof sync>, src: string, dst: string, how: RegExp): void => {
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, how);
    assert.ok(!r.stderr.includes('openTree'), `the full command ran too: ${r.stderr}`);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assert.deepEqual(tempFiles(dst), []);
    assert.ok(sync([src, dst]).quickDone, 'the next run is a no-op');
  };

  test('more rewritten files than the main thread may copy: copied on a thread of their own, no full command, as the full sync leaves them; a file that fails there is retried and reported by the full command', () => {
    // a tree the main thread walks alone (no pair thread): the copy on a thread of its own
    const { src, dst } = makeGridSynced('qcopythread', 6, 120);
    for (let d = 0; d < 6; d++) for (let i = 0; i < 100; i++) rewrite(src, `d${d}/f${i}`, `rewritten ${d}/${i} `.repeat(1 + (i % 9)), 1_700_000_300 + i, i % 2 ? 0o640 : 0o644);
    assertQuickCopied(sync([src, dst]), src, dst, /quick copy 600 files \(own thread\)/);
    // one file that cannot be written: the thread's copy fails it, the full command retries and reports it
    for (let i = 0; i < 600; i++) rewrite(src, `d${i % 6}/f${Math.floor(i / 6)}`, `again ${i}`, 1_700_000_400 + i);
    const entry = scan({ root: src, recursive: true }).entries.find((e) => e.path === 'd3/f7')!;
    mkdirSync(join(dst, tempPathFor(entry)));
    writeFileSync(join(dst, tempPathFor(entry), 'keep'), 'in the way');
    // (its directory's mtime as the source's again: a changed directory would go the full way at once)
    for (const root of [src, dst]) utimesSync(join(root, 'd3'), 1_700_000_350, 1_700_000_350);
    const failed = sync([src, dst]);
    assert.equal(failed.status, 1, failed.stderr);
    assert.match(failed.stderr, /quick copy 600 files \(own thread\)/);
    assert.ok(failed.stderr.includes('openTree'), `the full command did not run after the failure: ${failed.stderr}`);
    assert.match(failed.stderr, /d3\/f7/);
    assert.equal(readFileSync(join(dst, 'd5/f99'), 'utf8'), 'again 599');
    assert.notEqual(readFileSync(join(dst, 'd3/f7'), 'utf8'), readFileSync(join(src, 'd3/f7'), 'utf8'));
  });

  test('kill -9 in the middle of a quick copy on the pair thread: every file whole under its name, old or new; the next run finishes the copy', async () => {
    const pair = bigSynced('qcopykill');
    const { src, dst } = pair;
    // 4,000 of the big tree's files rewritten (what each held before, kept to compare)
    const paths = Array.from({ length: 4000 }, (_, i) => `d${i % 30}/f${Math.floor(i / 30)}`);
    const before = new Map(paths.map((p) => [p, readFileSync(join(dst, p), 'utf8')]));
    const fresh = (p: string): string => `rewritten ${p} `.repeat(40);
    paths.forEach((p, i) => rewrite(src, p, fresh(p), 1_700_002_000 + i));
    const child = spawn(process.execPath, [bin, 'sync', src, dst], { env: { ...process.env, OMIRR_LOG_LEVEL: 'warn', OMIRR_TIMING: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    // the copy has begun once the first file in path order has its new content (3,999 to come)
    const first = [...paths].sort()[0]!;
    const deadline = Date.now() + 30_000;
    let killed = false;
    while (Date.now() < deadline && child.exitCode === null) {
      if (stderr.includes('quick copy plan') && readFileSync(join(dst, first), 'utf8') === fresh(first)) {
        child.kill('SIGKILL');
        killed = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await exited;
    assert.ok(killed, `the copy ended before it could be killed: ${stderr}`);
    let renewed = 0;
    for (const p of paths) {
      const now = readFileSync(join(dst, p), 'utf8');
      assert.ok(now === before.get(p) || now === fresh(p), `${p} is neither the old nor the new content: ${JSON.stringify(now.slice(0, 40))}`);
      if (now === fresh(p)) renewed++;
    }
    assert.ok(renewed > 0 && renewed < 4000, `killed in the middle: ${renewed} of 4,000 copied`);
    const again = sync([src, dst]);
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(tempFiles(dst), []);
    bigBack(pair);
  });

  test('a big tree with more rewritten files than the main thread may copy: the pair thread copies them', () => {
    const pair = bigSynced('qcopypair');
    const { src, dst } = pair;
    for (let i = 0; i < 900; i++) rewrite(src, `d${i % 30}/f${Math.floor(i / 30) * 9}`, `pair thread ${i}`, 1_700_000_500 + i);
    const r = sync([src, dst]);
    assert.match(r.stderr, /pair thread took \d+ of 30/);
    assertQuickCopied(r, src, dst, /quick copy 900 files \(pair thread\)/);
    bigBack(pair);
  });

  test('a file that cannot be written fails the run loudly (the full command retries it and reports it); the others are copied', () => {
    const { src, dst } = synced('qcopyfail');
    rewrite(src, 'many/f3', 'f3 cannot be written', 1_700_000_011);
    rewrite(src, 'many/f4', 'f4 can', 1_700_000_012);
    // a directory (not empty) where f3's temporary goes: its create fails, in the quick copy and in the full command
    const entry = scan({ root: src, recursive: true }).entries.find((e) => e.path === 'many/f3')!;
    const blocker = join(dst, tempPathFor(entry));
    mkdirSync(blocker);
    writeFileSync(join(blocker, 'keep'), 'in the way');
    // (its directory's mtime as the source's again: a changed directory would go the full way at once)
    for (const root of [src, dst]) utimesSync(join(root, 'many'), 1_700_000_010, 1_700_000_010);
    const r = sync([src, dst]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /quick copy 2 files/);
    assert.ok(r.stderr.includes('openTree'), `the full command did not run after the failure: ${r.stderr}`);
    assert.match(r.stderr, /many\/f3/);
    assert.equal(readFileSync(join(dst, 'many/f4'), 'utf8'), 'f4 can');
    assert.notEqual(readFileSync(join(dst, 'many/f3'), 'utf8'), 'f3 cannot be written');
  });

  test('a rewrite the quick copy could take in an early directory, then one it cannot in a later one: the full command plans those two directories alone (restricted scans)', () => {
    const { src, dst } = synced('qcopyrewalk');
    rewrite(src, 'a/b/c/deep.bin', 'z'.repeat(513), 1_700_000_031); // 'a': walked first
    rewrite(src, 'many/f7', 'y'.repeat(64 * 1024), 1_700_000_032); // 64 KiB: not the quick copy's
    const r = sync([src, dst]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!/quick copy \d+ files/.test(r.stderr) && r.stderr.includes('openTree'), `not the full command: ${r.stderr}`);
    assert.match(r.stderr, /kept 2 items here /);
    assert.match(r.stderr, /restricted scans/);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assert.ok(sync([src, dst]).quickDone, 'the next run is a no-op');
  });

  test('what the quick copy leaves to the full command: a file in the root, a new file, a mode change, a file of 64 KiB or more', () => {
    const { src, dst } = synced('qcopyfull');
    const cases: Array<[string, () => void]> = [
      ['a file in the root (the root mtime moves)', () => rewrite(src, 'exec.sh', 'echo changed\n', 1_700_000_021)],
      ['a new file', () => writeFileSync(join(src, 'many/new'), 'new')],
      ['a mode change alone', () => chmodSync(join(src, 'many/f6'), 0o600)],
      ['a 64 KiB file', () => rewrite(src, 'many/f7', 'y'.repeat(64 * 1024), 1_700_000_022)],
    ];
    for (const [name, change] of cases) {
      change();
      const r = sync([src, dst]);
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      assert.ok(!/quick copy \d+ files/.test(r.stderr) && r.stderr.includes('openTree'), `${name}: not the full command: ${r.stderr}`);
      assert.deepEqual(describeTree(dst), describeTree(src), name);
      assert.equal(Math.floor(lstatSync(dst).mtimeMs), Math.floor(lstatSync(src).mtimeMs), `${name}: the root's mtime`);
    }
  });
});
