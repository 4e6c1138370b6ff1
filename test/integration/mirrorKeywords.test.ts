// `omirr mirror` keyword semantics, one test per keyword, through the real CLI on temp dirs.
// Results are checked by sha256 + mode + mtime of what landed in local_dir.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { existsSync, lstatSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { T0, omirr, pkgText, sha, snapshot, tempDir, writeTree, type Spec } from '../helpers/mirrorFixtures.js';

const DAY = 86_400_000;

interface Run {
  dir: string;
  dst: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A package mirroring <dir>/up/pub into <dir>/dst (local_dir relative to the cwd), with
 * extra keyword lines; `dst` pre-populates the destination.
 */
async function mirror(
  t: TestContext,
  src: Record<string, Spec>,
  keywords: string[],
  opts: { dst?: Record<string, Spec>; args?: string[]; dir?: string } = {},
): Promise<Run> {
  const dir = opts.dir ?? tempDir(t);
  writeTree(join(dir, 'up/pub'), src);
  if (opts.dst) writeTree(join(dir, 'dst'), opts.dst);
  writeFileSync(
    join(dir, 'pk'),
    pkgText('p', [`site=${dir}/up`, 'remote_dir=/pub', 'local_dir=dst', ...keywords]),
  );
  const res = await omirr(['mirror', ...(opts.args ?? []), 'pk'], { cwd: dir });
  return { dir, dst: join(dir, 'dst'), ...res };
}

interface Variant {
  src: Record<string, Spec>;
  keywords: string[];
  dst?: Record<string, Spec>;
}

/**
 * A keyword's variants (on and off, several limits) as the packages p0, p1, ... of one
 * package file, mirrored by one `omirr mirror` run: package pN mirrors <dir>/upN/pub into
 * <dir>/dstN, as `mirror` does for one. The packages share nothing, and an omirr run's start
 * is most of its CPU (~0.3 s), so a run per variant started that many processes for nothing.
 * `code` is the run's (the worst of its packages'); each package's lines of stdout, from its
 * first line to the next package's, are its `out`.
 */
async function mirrorVariants(t: TestContext, variants: Variant[], opts: { dir?: string } = {}) {
  const dir = opts.dir ?? tempDir(t);
  const text = variants.map((v, i) => {
    writeTree(join(dir, `up${i}/pub`), v.src);
    if (v.dst) writeTree(join(dir, `dst${i}`), v.dst);
    return pkgText(`p${i}`, [`site=${dir}/up${i}`, 'remote_dir=/pub', `local_dir=dst${i}`, ...v.keywords]);
  });
  writeFileSync(join(dir, 'pk'), text.join(''));
  const res = await omirr(['mirror', 'pk'], { cwd: dir });
  return { dir, ...res, runs: variants.map((_, i) => ({ dst: join(dir, `dst${i}`), out: packageOut(res.stdout, `p${i}`) })) };
}

/**
 * The lines of `stdout` from package `name`'s first line ("package=NAME <site> -> <dir>") to
 * the next package's (its summary, "package=NAME: got ...", is among them).
 */
function packageOut(stdout: string, name: string): string {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`package=${name} `));
  assert.ok(start >= 0, `no output for package ${name}:\n${stdout}`);
  const end = lines.findIndex((l, i) => i > start && /^package=[^\s:]+ /.test(l));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

const file = (content: string, mode = 0o444, mtimeMs = T0) => ({ kind: 'file', sha256: sha(content), mode, mtimeMs });

// Every case has its own directories (and server): three run at a time.
describe('omirr mirror keywords', { concurrency: 3 }, () => {
  test('package / site / remote_dir / local_dir: mirror defaults (0444 files, 0755 dirs, times kept, links)', async (t) => {
    const r = await mirror(t, { 'a.txt': 'alpha', 'sub/b.txt': { content: 'beta', mode: 0o755 }, 'sub/deeper/c': 'c', ln: { link: 'a.txt' } }, []);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(snapshot(r.dst), {
      'a.txt': file('alpha'),
      ln: { kind: 'symlink', target: 'a.txt' },
      sub: { kind: 'dir', mode: 0o755 },
      'sub/b.txt': file('beta'),
      'sub/deeper': { kind: 'dir', mode: 0o755 },
      'sub/deeper/c': file('c'),
    });
    assert.match(r.stdout, /package=p: got 3 file\(s\)/);
    // A second run is a no-op.
    const again = await omirr(['mirror', 'pk'], { cwd: r.dir });
    assert.equal(again.code, 0);
    assert.match(again.stdout, /got 0 file\(s\) \(0 bytes\), 0 dir\(s\), 0 symlink\(s\)/);
  });

  test('get_patt: only matching paths are fetched; parents of matches are made', async (t) => {
    const r = await mirror(t, { 'a.txt': 'a', 'b.bin': 'b', 'd/c.txt': 'c', 'e/f.bin': 'f' }, ['get_patt=\\.txt$']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(snapshot(r.dst)), ['a.txt', 'd', 'd/c.txt']);
  });

  test('exclude_patt: excluded paths are neither fetched nor deleted', async (t) => {
    const r = await mirror(t, { 'a.txt': 'a', 'core': 'x', 'd/core': 'y' }, ['exclude_patt=(^|/)core$', 'do_deletes=true', 'max_delete_files=100%'], {
      dst: { 'old/core': 'keep me' },
    });
    assert.equal(r.code, 0, r.stderr);
    const s = snapshot(r.dst);
    assert.deepEqual(Object.keys(s), ['a.txt', 'd', 'old', 'old/core']);
    assert.equal(s['old/core']!.sha256, sha('keep me'));
  });

  test('local_ignore: local paths matching it are never compared or deleted (and not fetched)', async (t) => {
    const r = await mirror(t, { 'a.txt': 'a', 'LOCAL.conf': 'remote version' }, ['local_ignore=^LOCAL', 'do_deletes=true', 'max_delete_files=100%'], {
      dst: { 'LOCAL.conf': { content: 'mine', mode: 0o600 }, 'LOCALdir/x': 'mine too' },
    });
    assert.equal(r.code, 0, r.stderr);
    const s = snapshot(r.dst);
    assert.equal(s['LOCAL.conf']!.sha256, sha('mine'));
    assert.equal(s['LOCAL.conf']!.mode, 0o600);
    assert.equal(s['LOCALdir/x']!.sha256, sha('mine too'));
    assert.equal(s['a.txt']!.sha256, sha('a'));
  });

  // Not on a whole minute: a local time on one reads as set from an FTP listing, and the
  // source time is then compared at that precision (the test after this one).
  const T1 = T0 + 12 * 3_600_000 + 7_123;

  test('get_newer: a newer source is fetched, an older one is not, exactly 3600 s newer is ignored', async (t) => {
    const v = await mirrorVariants(t, [
      {
        src: { newer: { content: 'new', mtimeMs: T1 + 10_000 }, older: { content: 'old', mtimeMs: T1 - 10_000 }, dst1h: { content: 'dst', mtimeMs: T1 + 3_600_000 } },
        keywords: ['get_size_change=false'],
        dst: { newer: { content: 'NEW', mtimeMs: T1 }, older: { content: 'OLD', mtimeMs: T1 }, dst1h: { content: 'DST', mtimeMs: T1 } },
      },
      // And get_newer=false: even a newer source is not fetched.
      { src: { f: { content: 'new', mtimeMs: T1 + 10_000 } }, keywords: ['get_newer=false', 'get_size_change=false'], dst: { f: { content: 'OLD', mtimeMs: T1 } } },
    ]);
    assert.equal(v.code, 0, v.stderr);
    const [r, r2] = v.runs;
    const s = snapshot(r!.dst);
    assert.equal(s.newer!.sha256, sha('new'));
    assert.equal(s.newer!.mtimeMs, T1 + 10_000);
    assert.equal(s.older!.sha256, sha('OLD'));
    assert.equal(s.dst1h!.sha256, sha('DST'));
    assert.equal(snapshot(r2!.dst).f!.sha256, sha('OLD'));
  });

  test('get_size_change: a size change is fetched even when the source is older; off, it is not', async (t) => {
    const [on, off] = (
      await mirrorVariants(t, [
        { src: { f: { content: 'longer', mtimeMs: T0 - 10_000 } }, keywords: [], dst: { f: 'sh' } },
        { src: { f: { content: 'longer', mtimeMs: T0 - 10_000 } }, keywords: ['get_size_change=false'], dst: { f: 'sh' } },
      ])
    ).runs;
    assert.equal(snapshot(on!.dst).f!.sha256, sha('longer'));
    assert.equal(snapshot(off!.dst).f!.sha256, sha('sh'));
  });

  test('get_missing=false: nothing is fetched or made, deletes still happen', async (t) => {
    const r = await mirror(t, { 'a.txt': 'a', 'd/b': 'b' }, ['get_missing=false', 'do_deletes=true', 'max_delete_files=100%'], {
      dst: { extra: 'x' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(snapshot(r.dst), {});
  });

  test('max_days: older remote files are not fetched, older local files not deleted', async (t) => {
    const now = Date.now();
    const r = await mirror(t, { fresh: { content: 'f', mtimeMs: now - DAY }, stale: { content: 's', mtimeMs: now - 30 * DAY } }, ['max_days=7', 'do_deletes=true', 'max_delete_files=100%'], {
      dst: { oldlocal: { content: 'o', mtimeMs: now - 30 * DAY }, newlocal: { content: 'n', mtimeMs: now - DAY } },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(snapshot(r.dst)), ['fresh', 'oldlocal']);
  });

  test('max_size: larger files are skipped', async (t) => {
    const r = await mirror(t, { small: 'x'.repeat(10), big: 'x'.repeat(1000) }, ['max_size=100']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(snapshot(r.dst)), ['small']);
    assert.match(r.stdout, /skipped big: larger than max_size 100/);
  });

  test('force: files are fetched whatever the comparison says', async (t) => {
    // Same size, destination newer: mirror's rules would leave it.
    const r = await mirror(t, { f: { content: 'src', mtimeMs: T0 } }, ['force=true'], { dst: { f: { content: 'dst', mtimeMs: T0 + 99_000 } } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(snapshot(r.dst).f, file('src'));
  });

  test('recursive=false: only the top level is mirrored', async (t) => {
    const r = await mirror(t, { top: 't', 'd/inner': 'i' }, ['recursive=false']);
    assert.equal(r.code, 0, r.stderr);
    const s = snapshot(r.dst);
    assert.equal(s.top!.sha256, sha('t'));
    assert.equal(s['d/inner'], undefined);
  });

  test('do_deletes: off by default; on, entries gone from the site are deleted (children first)', async (t) => {
    const v = await mirrorVariants(t, [
      { src: { a: 'a' }, keywords: [], dst: { gone: 'g' } },
      { src: { a: 'a' }, keywords: ['do_deletes=true', 'max_delete_files=100%', 'max_delete_dirs=100%'], dst: { gone: 'g', 'olddir/x/y': 'y' } },
    ]);
    const [keepOff, on] = v.runs;
    assert.deepEqual(Object.keys(snapshot(keepOff!.dst)), ['a', 'gone']);
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual(Object.keys(snapshot(on!.dst)), ['a']);
  });

  test('delete_patt: only matching local paths are deleted', async (t) => {
    const r = await mirror(t, { a: 'a' }, ['do_deletes=true', 'max_delete_files=100%', 'delete_patt=\\.old$'], { dst: { 'x.old': 'x', y: 'y' } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(snapshot(r.dst)), ['a', 'y']);
  });

  test('delete_get_patt: get_patt is used as delete_patt', async (t) => {
    const r = await mirror(t, { 'a.txt': 'a' }, ['get_patt=\\.txt$', 'delete_get_patt=true', 'do_deletes=true', 'max_delete_files=100%'], {
      dst: { 'gone.txt': 'g', 'mine.bin': 'm' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(snapshot(r.dst)), ['a.txt', 'mine.bin']);
  });

  test('delete_excl: matching local paths are never deleted', async (t) => {
    const r = await mirror(t, { a: 'a' }, ['do_deletes=true', 'max_delete_files=100%', 'delete_excl=^keep'], { dst: { keepme: 'k', dropme: 'd' } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(snapshot(r.dst)), ['a', 'keepme']);
  });

  test('max_delete_files: all or nothing, as a count or a percentage (default 10%)', async (t) => {
    const dst = { a: 'a', x1: '1', x2: '2', x3: '3' };
    const v = await mirrorVariants(t, [
      { src: { a: 'a' }, keywords: ['do_deletes=true', 'max_delete_files=2'], dst },
      { src: { a: 'a' }, keywords: ['do_deletes=true', 'max_delete_files=3'], dst },
      // The default 10% of 4 local files rounds down to 0: nothing may go.
      { src: { a: 'a' }, keywords: ['do_deletes=true'], dst },
      // 0% is a silly percentage: deletion disabled.
      { src: { a: 'a' }, keywords: ['do_deletes=true', 'max_delete_files=0%'], dst },
    ]);
    const [over, ok, dflt, silly] = v.runs;
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual(Object.keys(snapshot(over!.dst)), ['a', 'x1', 'x2', 'x3']);
    assert.match(over!.out, /Too many files to delete: 3 > max_delete_files 2/);
    assert.deepEqual(Object.keys(snapshot(ok!.dst)), ['a']);
    assert.deepEqual(Object.keys(snapshot(dflt!.dst)), ['a', 'x1', 'x2', 'x3']);
    assert.match(silly!.out, /silly percentage/);
    assert.equal(Object.keys(snapshot(silly!.dst)).length, 4);
  });

  test('max_delete_dirs: too many directories withholds every delete', async (t) => {
    const dst = { a: 'a', 'd1/f': 'f', d2: { dir: true as const }, d3: { dir: true as const } };
    const v = await mirrorVariants(t, [
      { src: { a: 'a' }, keywords: ['do_deletes=true', 'max_delete_files=100%', 'max_delete_dirs=2'], dst },
      { src: { a: 'a' }, keywords: ['do_deletes=true', 'max_delete_files=100%', 'max_delete_dirs=3'], dst },
    ]);
    const [over, ok] = v.runs;
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual(Object.keys(snapshot(over!.dst)), ['a', 'd1', 'd1/f', 'd2', 'd3']);
    assert.match(over!.out, /Too many directories to delete: 3 > max_delete_dirs 2/);
    assert.deepEqual(Object.keys(snapshot(ok!.dst)), ['a']);
  });

  test('save_deletes: deleted entries are moved under save_dir (default Old), which is then left alone', async (t) => {
    const r = await mirror(t, { a: 'a' }, ['do_deletes=true', 'max_delete_files=100%', 'max_delete_dirs=100%', 'save_deletes=true'], {
      dst: { gone: 'g', 'sub/x': 'x' },
    });
    assert.equal(r.code, 0, r.stderr);
    const s = snapshot(r.dst);
    assert.equal(s['Old/gone']!.sha256, sha('g'));
    assert.equal(s['Old/sub/x']!.sha256, sha('x'));
    assert.equal(s.gone, undefined);
    // The next run neither deletes nor re-saves what is in Old.
    const again = await omirr(['mirror', 'pk'], { cwd: r.dir });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(snapshot(r.dst)['Old/gone']!.sha256, sha('g'));
    // A directory deleted again later merges into the saved one.
    writeTree(r.dst, { 'sub/z': 'z' });
    const third = await omirr(['mirror', 'pk'], { cwd: r.dir });
    assert.equal(third.code, 0, third.stdout + third.stderr);
    const s3 = snapshot(r.dst);
    assert.equal(s3['Old/sub/x']!.sha256, sha('x'));
    assert.equal(s3['Old/sub/z']!.sha256, sha('z'));
    assert.equal(s3.sub, undefined);
  });

  test('save_dir: names the directory saved entries go to', async (t) => {
    const r = await mirror(t, { a: 'a' }, ['do_deletes=true', 'max_delete_files=100%', 'save_deletes=yes', 'save_dir=attic/deleted'], { dst: { gone: 'g' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(snapshot(r.dst)['attic/deleted/gone']!.sha256, sha('g'));
    const bad = await mirror(t, { a: 'a' }, ['do_deletes=true', 'save_deletes=yes', 'save_dir=/elsewhere']);
    assert.equal(bad.code, 2);
    assert.match(bad.stdout, /save_dir \/elsewhere must be inside local_dir/);
  });

  test('mode_copy: the source modes are kept for files (umask still applies); directories get dir_mode, as mirror did', async (t) => {
    const r = await mirror(t, { x: { content: 'x', mode: 0o750 }, d: { dir: true, mode: 0o711 }, 'd/y': { content: 'y', mode: 0o4755 } }, ['mode_copy=true']);
    assert.equal(r.code, 0, r.stderr);
    const s = snapshot(r.dst);
    assert.equal(s.x!.mode, 0o750);
    assert.equal(s.d!.mode, 0o755, "mirror's listing parse never sees directory modes (oracle: modes)");
    assert.equal(s['d/y']!.mode, 0o755, 'setuid cleared by the default umask 07000');
  });

  test('file_mode: mode given to fetched files (leading 0 = octal)', async (t) => {
    const r = await mirror(t, { x: { content: 'x', mode: 0o777 } }, ['file_mode=0640']);
    assert.equal(snapshot(r.dst).x!.mode, 0o640);
  });

  test('dir_mode: mode given to created directories', async (t) => {
    const r = await mirror(t, { 'd/x': 'x' }, ['dir_mode=0700']);
    assert.equal(snapshot(r.dst).d!.mode, 0o700);
  });

  test('umask: bits cleared from every mode set', async (t) => {
    const r = await mirror(t, { x: 'x', 'd/y': 'y' }, ['file_mode=0666', 'dir_mode=0777', 'umask=027']);
    const s = snapshot(r.dst);
    assert.equal(s.x!.mode, 0o640);
    assert.equal(s.d!.mode, 0o750);
  });

  test('user / group: chown of created entries, only when both are set', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async (t) => {
    const v = await mirrorVariants(t, [
      { src: { x: 'x', 'd/y': 'y' }, keywords: ['user=4321', 'group=4322'] },
      { src: { x: 'x' }, keywords: ['user=4321'] },
    ]);
    const [both, onlyUser] = v.runs;
    assert.equal(v.code, 0, v.stderr);
    for (const p of ['x', 'd', 'd/y']) {
      const st = lstatSync(join(both!.dst, p));
      assert.deepEqual([st.uid, st.gid], [4321, 4322], p);
    }
    assert.equal(statSync(join(onlyUser!.dst, 'x')).uid, process.getuid!());
  });

  test('force_times: on (default) the mtime is the remote one; off, it is the time of writing', async (t) => {
    const before = Date.now() - 2000;
    const v = await mirrorVariants(t, [
      { src: { x: 'x' }, keywords: [] },
      { src: { x: 'x' }, keywords: ['force_times=false'] },
    ]);
    const [on, off] = v.runs;
    assert.equal(snapshot(on!.dst).x!.mtimeMs, T0);
    assert.ok(snapshot(off!.dst).x!.mtimeMs! >= before);
    // get_newer then sees the local copy as newer: a second run fetches nothing.
    const again = await omirr(['mirror', 'pk'], { cwd: v.dir });
    assert.match(packageOut(again.stdout, 'p1'), /got 0 file\(s\)/);
  });

  test('make_bad_symlinks: dangling links are not made unless it is set', async (t) => {
    const [off, on] = (
      await mirrorVariants(t, [
        { src: { good: { link: 'x' }, x: 'x', bad: { link: 'nowhere' } }, keywords: [] },
        { src: { bad: { link: 'nowhere' } }, keywords: ['make_bad_symlinks=true'] },
      ])
    ).runs;
    assert.deepEqual(Object.keys(snapshot(off!.dst)), ['good', 'x']);
    assert.match(off!.out, /skipped bad: symlink target nowhere does not exist/);
    assert.deepEqual(snapshot(on!.dst), { bad: { kind: 'symlink', target: 'nowhere' } });
  });

  test("update_log: relative to local_dir, in mirror's format (completion line, then the log lines), appended", async (t) => {
    const r = await mirror(t, { x: 'x' }, ['update_log=update.log', 'comment=the X archive']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(join(r.dir, 'update.log')), false, 'not in the current directory');
    const text = readFileSync(join(r.dst, 'update.log'), 'utf8');
    assert.match(text, /^mirroring p \(.*up:\/?pub\) completed successfully @ [ \d]\d [A-Z][a-z]{2} \d{3} \d\d:\d\d\n/);
    assert.match(text, /\nGot x 1 0\n/);
    await omirr(['mirror', 'pk'], { cwd: r.dir });
    assert.equal(readFileSync(join(r.dst, 'update.log'), 'utf8').match(/^mirroring p /gm)!.length, 2, 'appended');
  });

  test('skip: the package is skipped with its reason, exit 0, nothing made', async (t) => {
    const r = await mirror(t, { x: 'x' }, ['skip=upstream is moving']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Skipping package p: upstream is moving/);
    assert.equal(existsSync(r.dst), false);
  });

  test('timeout: a site that never answers fails the package with exit 2 after timeout seconds', async (t) => {
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s)); // accepts, never speaks
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    t.after(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    const port = (server.address() as { port: number }).port;
    const dir = tempDir(t);
    writeFileSync(join(dir, 'pk'), pkgText('p', [`site=omirr://127.0.0.1:${port}`, 'remote_dir=tree', 'local_dir=dst', 'timeout=1']));
    const started = Date.now();
    writeFileSync(join(dir, 'secret'), 'a shared secret of more than 16 bytes\n');
    const r = await omirr(['mirror', '--secret-file', 'secret', 'pk'], { cwd: dir });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /cannot open omirr:\/\/127\.0\.0\.1:\d+\/tree: .*time/i);
    assert.ok(Date.now() - started < 15_000, 'gave up long before the 120 s default');
  });

  test('local_dir_check: a missing local_dir fails the package (exit 2) instead of being created', async (t) => {
    const r = await mirror(t, { x: 'x' }, ['local_dir_check=true']);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /local_dir .*dst does not exist \(local_dir_check is set\)/);
    assert.equal(existsSync(r.dst), false);
    const ok = await mirror(t, { x: 'x' }, ['local_dir_check=true'], { dst: {} });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(snapshot(ok.dst).x, file('x'));
  });

  test('get_newer at the listing precision: local times on a whole minute (or a midnight, for old files) compare the source cut to it', async (t) => {
    const minute = T0 + 12 * 3_600_000 + 34 * 60_000; // 12:34:00, as `ls -l` lists 12:34:56
    const r = await mirror(
      t,
      {
        m: { content: 'new', mtimeMs: minute + 56_000 },
        day: { content: 'new', mtimeMs: T0 + 13 * 3_600_000 }, // listed as "Jan  1  2020"
        later: { content: 'new', mtimeMs: minute + 60_000 },
      },
      ['get_size_change=false'],
      { dst: { m: { content: 'OLD', mtimeMs: minute }, day: { content: 'OLD', mtimeMs: T0 }, later: { content: 'OLD', mtimeMs: minute } } },
    );
    assert.equal(r.code, 0, r.stderr);
    const s = snapshot(r.dst);
    assert.equal(s.m!.sha256, sha('OLD'), 'same minute: not newer');
    assert.equal(s.day!.sha256, sha('OLD'), 'same day, for a file old enough to be listed with its year: not newer');
    assert.equal(s.later!.sha256, sha('new'), 'a later minute is newer');
  });

  test('compress_conv_patt (with compress_prog=gzip): remote .Z / .taz files are kept as .gz / .tgz, recompressed; a re-run is a no-op', async (t) => {
    const { gzipSync, gunzipSync } = await import('node:zlib');
    const { utimesSync } = await import('node:fs');
    const dir = tempDir(t);
    writeTree(join(dir, 'up/pub'), { 'a.Z': 'x', 'b.taz': 'y', 'c.txt': 'plain' });
    // gzip -d reads .Z (LZW) and gzip data alike: gzip bytes stand in for compress's here
    for (const [n, text] of [['a.Z', 'hello a'], ['b.taz', 'tar b']] as const) {
      writeFileSync(join(dir, 'up/pub', n), gzipSync(Buffer.from(text)));
      utimesSync(join(dir, 'up/pub', n), new Date(T0), new Date(T0));
    }
    const r = await mirror(t, {}, ['compress_prog=gzip'], { dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(Object.keys(snapshot(r.dst)), ['a.gz', 'b.tgz', 'c.txt']);
    assert.equal(gunzipSync(readFileSync(join(r.dst, 'a.gz'))).toString(), 'hello a');
    assert.equal(gunzipSync(readFileSync(join(r.dst, 'b.tgz'))).toString(), 'tar b');
    assert.equal(statSync(join(r.dst, 'a.gz')).mtimeMs, T0, 'the remote mtime');
    const again = await omirr(['mirror', 'pk'], { cwd: r.dir });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /got 0 file\(s\)/);
  });

  test('compress_patt: a compress program that fails is a failure of that file (exit 1); no temporary or half-made file is left', async (t) => {
    const r = await mirror(t, { 'Packages': 'p'.repeat(100), 'other': 'o' }, ['compress_prog=false', 'compress_suffix=zz', 'compress_patt=^Packages$']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /failed Packages\.zz: compressing: false failed \(exit 1\)/);
    assert.deepEqual(Object.keys(snapshot(r.dst)), ['other']);
  });

  test('follow_local_symlinks: files below a followed link are deleted in its target with do_deletes; the link stays; an unfollowed link is replaced', async (t) => {
    const dir = tempDir(t);
    writeTree(join(dir, 'elsewhere'), { keep: 'k', gone: 'g' });
    const r = await mirror(t, { 'lnk/keep': 'k', 'other/x': 'x' }, ['follow_local_symlinks=^lnk$', 'do_deletes=1', 'max_delete_files=100%'], {
      dir,
      dst: { lnk: { link: '../elsewhere' }, other: { link: '../elsewhere' } },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(lstatSync(join(r.dst, 'lnk')).isSymbolicLink());
    assert.ok(lstatSync(join(r.dst, 'other')).isDirectory(), 'not followed: replaced by a real directory, as mirror does');
    assert.deepEqual(Object.keys(snapshot(join(dir, 'elsewhere'))), ['keep']);
    assert.equal(existsSync(join(r.dst, 'other/x')), true);
  });

  test('follow_local_symlinks: a link back to an enclosing directory is not followed (no endless scan), with a warning', async (t) => {
    const r = await mirror(t, { 'a/f': 'f' }, ['follow_local_symlinks=loop'], { dst: { 'a/f': 'f', 'a/loop': { link: '..' } } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /a\/loop: follow_local_symlinks loops back into the tree/);
    assert.ok(lstatSync(join(r.dst, 'a/loop')).isSymbolicLink());
  });

  test('compress_patt with name_mappings: a file in a dotted directory, renamed and kept gzipped; the mapped compressed copy is the copy (re-run no-op)', async (t) => {
    const { gunzipSync } = await import('node:zlib');
    const r = await mirror(t, { 'dist.v1/Packages': 'pkgs '.repeat(20), 'dist.v1/README': 'r' }, ['compress_prog=gzip', 'compress_patt=Packages', 'name_mappings=s:^dist\\.v1:current:']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(Object.keys(snapshot(r.dst)), ['current', 'current/Packages.gz', 'current/README']);
    assert.equal(gunzipSync(readFileSync(join(r.dst, 'current/Packages.gz'))).toString(), 'pkgs '.repeat(20));
    const again = await omirr(['mirror', 'pk'], { cwd: r.dir });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /got 0 file\(s\)/);
  });
});
