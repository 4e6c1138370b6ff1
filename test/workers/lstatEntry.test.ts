// lstatEntry (src/workers/lstatEntry.ts) makes a scan's entries from fs's binding instead of
// lstatSync's Stats: it must give exactly the entry entryFromStats makes from
// `lstatSync(p, { bigint: true })`, key order included (scanColumns packs only that order),
// for every kind and at every edge of the mtime's rounding to the ms, where a double of ms
// would be wrong. And it must be the binding that answered, or these checks test nothing.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, openSync, closeSync, ftruncateSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { entryFromStats } from '../../src/core/entry.js';
import { lstatEntry, lstatEntryIfAny, lstatEntryWay, lstatKind } from '../../src/workers/lstatEntry.js';
import { scan } from '../../src/workers/scanTask.js';
import { lstatMany } from '../../src/workers/fsTasks.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const root = tempDir('lstat-entry');
after(() => removeDir(root));

/** Set `p`'s mtime to exactly `stamp` (GNU touch: seconds and nanoseconds, never following a symlink). */
function touch(p: string, stamp: string): void {
  execFileSync('touch', ['-h', '-m', '-d', `@${stamp}`, p]);
}

function expected(abs: string, path: string): string {
  const st = lstatSync(abs, { bigint: true });
  if (!st.isFile() && !st.isDirectory() && !st.isSymbolicLink()) return 'null';
  return JSON.stringify(entryFromStats(path, st));
}

test('every kind and every rounding edge of the mtime: the entry lstatSync gives, key order included', () => {
  mkdirSync(join(root, 'dir'));
  writeFileSync(join(root, 'file'), 'some bytes');
  writeFileSync(join(root, 'empty'), '');
  symlinkSync('file', join(root, 'link'));
  symlinkSync('nowhere/at/all', join(root, 'dangling'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  // a sparse file larger than 2^32 bytes (a size a 32-bit field would cut)
  const fd = openSync(join(root, 'sparse'), 'w');
  ftruncateSync(fd, 5 * 2 ** 32 + 7);
  closeSync(fd);
  const stamps = [
    '1704067200.000000000',
    '1704067200.000499999', // rounds down
    '1704067200.000500000', // rounds up: the half ms
    '1704067200.999499999',
    '1704067200.999500000', // rounds into the next second
    '1704067200.999999999',
    '1796551143.123456789',
    '-1.999500000', // before 1970: the second is negative, the nanoseconds are not
    '-86400.000400000',
    '0.000000001',
  ];
  let checked = 0;
  for (const name of ['dir', 'file', 'empty', 'link', 'dangling', 'fifo', 'sparse']) {
    const abs = join(root, name);
    for (const stamp of name === 'fifo' ? [stamps[0]!] : stamps) {
      touch(abs, stamp);
      assert.equal(JSON.stringify(lstatEntry(abs, `x/${name}`)), expected(abs, `x/${name}`), `${name} at ${stamp}`);
      checked++;
    }
  }
  assert.equal(lstatEntry(join(root, 'fifo'), 'fifo'), null);
  assert.equal(lstatEntry(join(root, 'sparse'), 'sparse')!.size, 5 * 2 ** 32 + 7);
  assert.ok(checked > 60);
  // where node has the binding (Node 20 does), it was the binding that answered
  const hasBinding = typeof (process as unknown as { binding?: unknown }).binding === 'function';
  assert.equal(lstatEntryWay(), hasBinding ? 'binding' : 'lstatSync');
});

test('a missing path throws lstatSync\'s error, with its code', () => {
  assert.throws(() => lstatEntry(join(root, 'not-there'), 'not-there'), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  assert.throws(() => lstatEntry(join(root, 'file', 'below-a-file'), 'x'), (err: NodeJS.ErrnoException) => err.code === 'ENOTDIR');
});

test('a scan gives the entries entryFromStats gives, the fifo skipped loudly', () => {
  const r = scan({ root });
  const paths = r.entries.map((e) => e.path);
  assert.deepEqual(paths, ['dangling', 'dir', 'empty', 'file', 'link', 'sparse']);
  for (const e of r.entries) {
    const st = lstatSync(join(root, e.path), { bigint: true });
    const target = e.kind === 'symlink' ? (execFileSync('readlink', [join(root, e.path)], { encoding: 'utf8' }).trim()) : undefined;
    assert.equal(JSON.stringify(e), JSON.stringify(entryFromStats(e.path, st, target)), e.path);
  }
  assert.deepEqual(r.skipped.map((s) => s.path), ['fifo']);
});

test('node warning about pending deprecations (process.binding among them): lstatSync, no warning, no throw', () => {
  const scanTask = new URL('../../src/workers/scanTask.js', import.meta.url).href;
  const lstatMod = new URL('../../src/workers/lstatEntry.js', import.meta.url).href;
  const code = `const { scan } = await import(${JSON.stringify(scanTask)}); const { lstatEntryWay } = await import(${JSON.stringify(lstatMod)});
    const r = scan({ root: ${JSON.stringify(root)} }); console.log(r.entries.length, lstatEntryWay());`;
  const out = execFileSync(process.execPath, ['--pending-deprecation', '--throw-deprecation', '--input-type=module', '-e', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(out.trim(), '6 lstatSync');
});

test('a name that is not UTF-8 (its path given as bytes): the entry lstatSync gives', () => {
  const dir = join(root, 'bytes');
  mkdirSync(dir);
  const name = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('.txt')]); // latin-1 é
  const abs = Buffer.concat([Buffer.from(`${dir}/`), name]);
  writeFileSync(abs, 'latin-1 name');
  utimesSync(abs, 1704067200.9995, 1704067200.9995); // a path of bytes: not through touch's argv
  const e = lstatEntry(abs, 'bytes/caf\\xe9.txt');
  assert.equal(JSON.stringify(e), JSON.stringify(entryFromStats('bytes/caf\\xe9.txt', lstatSync(abs, { bigint: true }))));
  assert.equal(e!.size, 12);
  assert.equal(lstatEntryWay(), typeof (process as unknown as { binding?: unknown }).binding === 'function' ? 'binding' : 'lstatSync');
});

test('lstatMany (the daemon\'s statPaths) gives the entries lstatSync gives: every kind, symlink targets, gone and other', () => {
  const d = join(root, 'many');
  mkdirSync(join(d, 'sub'), { recursive: true });
  writeFileSync(join(d, 'f'), 'x'.repeat(123));
  symlinkSync('f', join(d, 'l'));
  execFileSync('mkfifo', [join(d, 'p')]);
  const got = lstatMany({ root: d, paths: ['f', 'sub', 'l', 'p', 'missing', 'f/below'] });
  const want = (p: string, target?: string) => JSON.stringify(entryFromStats(p, lstatSync(join(d, p), { bigint: true }), target));
  assert.deepEqual(got.slice(0, 3).map((e) => JSON.stringify(e)), [want('f'), want('sub'), want('l', 'f')], 'key order included');
  assert.deepEqual(got.slice(3), ['other', 'gone', 'gone']);
  // absolute paths (root ''), as the watcher's batches are stat'ed
  assert.equal(JSON.stringify(lstatMany({ root: '', paths: [join(d, 'f')] })[0]), JSON.stringify(entryFromStats(join(d, 'f'), lstatSync(join(d, 'f'), { bigint: true }))));
});

test('lstatKind (placing\'s check before each new file): the kind lstatSync gives, undefined when missing, its errors otherwise', () => {
  const dir = join(root, 'kinds');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'file'), 'x');
  symlinkSync('sub', join(dir, 'link-to-dir'));
  symlinkSync('nowhere', join(dir, 'dangling'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  const want = { sub: 'dir', file: 'file', 'link-to-dir': 'symlink', dangling: 'symlink', fifo: 'other' } as const;
  // twice: the first call of a thread may still be lstatSync's (the binding is checked then)
  for (let pass = 0; pass < 2; pass++) {
    for (const [name, kind] of Object.entries(want)) assert.equal(lstatKind(join(dir, name)), kind, name);
    assert.equal(lstatKind(join(dir, 'missing')), undefined);
    assert.equal(lstatKind(join(dir, 'missing', 'deeper')), undefined);
    // through a file: ENOTDIR, as lstatSync throws it (placing refuses the path)
    assert.throws(() => lstatKind(join(dir, 'file', 'below')), { code: 'ENOTDIR' });
  }
  assert.equal(lstatEntryWay(), 'binding');
});

test('lstatEntryIfAny (the freshness checks of every received path): lstatEntry\'s entry, undefined when missing, its errors otherwise', () => {
  const dir = join(root, 'if-any');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'file'), 'xyz');
  symlinkSync('sub', join(dir, 'link'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  // twice: the first call of a thread may still be lstatSync's (the binding is checked then)
  for (let pass = 0; pass < 2; pass++) {
    for (const name of ['sub', 'file', 'link']) assert.equal(JSON.stringify(lstatEntryIfAny(join(dir, name), name)), JSON.stringify(lstatEntry(join(dir, name), name)), name);
    assert.equal(lstatEntryIfAny(join(dir, 'fifo'), 'fifo'), null, 'a kind not mirrored');
    assert.equal(lstatEntryIfAny(join(dir, 'missing'), 'missing'), undefined);
    assert.equal(lstatEntryIfAny(join(dir, 'missing', 'deeper'), 'missing/deeper'), undefined);
    // through a file: ENOTDIR is thrown (lstatMany makes it 'gone', placing refuses the path)
    assert.throws(() => lstatEntryIfAny(join(dir, 'file', 'below'), 'file/below'), { code: 'ENOTDIR' });
  }
  assert.equal(lstatEntryWay(), 'binding');
  const many = lstatMany({ root: dir, paths: ['file', 'missing', 'missing/deeper', 'file/below', 'fifo'] });
  assert.deepEqual(many.slice(1), ['gone', 'gone', 'gone', 'other']);
  assert.equal(JSON.stringify(many[0]), JSON.stringify(lstatEntry(join(dir, 'file'), 'file')));
});

test('a thread that sees only missing paths (a burst\'s freshness checks of new files): no binding check per path, the check at the first path that exists', () => {
  const dir = join(root, 'missing-first');
  mkdirSync(dir);
  writeFileSync(join(dir, 'there'), 'abc');
  const lstatMod = new URL('../../src/workers/lstatEntry.js', import.meta.url).href;
  // a fresh process: this file's module has checked the binding already. Each check looks
  // the binding up (process.binding), so the lookups count the checks made.
  const code = `let lookups = 0; const orig = process.binding; process.binding = function (n) { lookups++; return orig.call(process, n); };
    const { lstatEntryIfAny, lstatEntryWay } = await import(${JSON.stringify(lstatMod)});
    let found = 0;
    for (let i = 0; i < 200; i++) if (lstatEntryIfAny(${JSON.stringify(dir)} + '/new-' + i, 'new-' + i) !== undefined) found++;
    const before = [lookups, lstatEntryWay()];
    const e = lstatEntryIfAny(${JSON.stringify(join(dir, 'there'))}, 'there');
    const again = lstatEntryIfAny(${JSON.stringify(join(dir, 'there'))}, 'there');
    console.log(JSON.stringify({ found, before, after: [lookups, lstatEntryWay()], size: e.size, same: JSON.stringify(e) === JSON.stringify(again) }));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }));
  const hasBinding = typeof (process as unknown as { binding?: unknown }).binding === 'function';
  assert.deepEqual(out, { found: 0, before: [0, 'unchecked'], after: [hasBinding ? 1 : 0, hasBinding ? 'binding' : 'lstatSync'], size: 3, same: true });
});
