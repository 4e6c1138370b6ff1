// mirror 2.9 (the real mirror.pl, patched for perl 5.36) against omirr mirror, on the same
// package files and the same vsftpd on loopback: the local trees they leave (names, types,
// modes, sizes, link targets) and their exit codes must agree, scenario by scenario. Where
// omirr deliberately repairs a bug of the original, the scenario says so (docs/mirror.md,
// "Repairs").
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { T0, omirr, sha, writeTree } from '../helpers/mirrorFixtures.js';
import { preparedMirrorPl, runBoth, startOracle, treeOf, type Both, type Oracle } from '../helpers/mirrorPl.js';

const OLD = T0; // 2020: listed by FTP with day precision
const RECENT = Date.now() - 3 * 86_400_000; // listed with minute precision

function agree(b: Both, what: string, opts: { modes?: boolean } = {}): void {
  assert.equal(b.om.run.code, b.pl.run.code, `${what}: exit codes (mirror.pl said: ${b.pl.run.stdout}${b.pl.run.stderr})\nomirr: ${b.om.run.stdout}${b.om.run.stderr}`);
  assert.deepEqual(treeOf(b.om.local, opts), treeOf(b.pl.local, opts), `${what}: local trees\nmirror.pl: ${b.pl.run.stdout}${b.pl.run.stderr}\nomirr: ${b.om.run.stdout}${b.om.run.stderr}`);
}

// Every scenario has its own vsftpd, mirror.pl copy and directories: three run at a time.
describe('mirror 2.9 and omirr mirror agree', { concurrency: 3 }, () => {
  // One patched copy of mirror.pl for the scenarios that only run it (it writes nothing
  // beside itself): a copy per scenario (cp, chmod, patch, rm) was repeated 26 times. The
  // scenarios that write mirror.defaults beside it start with their own copy.
  const mirrorDir = preparedMirrorPl({ after: (fn) => after(fn) });
  test('oracle: a first copy (files, directories, symlinks, file_mode/dir_mode)', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, {
      'pub/a.txt': { content: 'alpha', mtimeMs: RECENT },
      'pub/sub/b.bin': { content: 'b'.repeat(3000), mtimeMs: OLD },
      'pub/sub/deeper/c': 'c',
      'pub/link': { link: 'a.txt' },
    });
    const b = await runBoth(t, o, 'package=first\n\tremote_dir=/pub\n\tlocal_dir=local\n', { args: ['-N'] });
    agree(b, 'first copy');
    assert.equal(treeOf(b.om.local)['a.txt']?.sha256, sha('alpha'));
  });

  test('oracle: deletes and their all-or-nothing limits (N% of the local files)', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/keep1': '1', 'pub/keep2': '2', 'pub/d/keep3': '3' });
    const local = {
      'local/keep1': '1', 'local/keep2': '2', 'local/d/keep3': '3',
      'local/gone1': 'x', 'local/olddir/gone2': 'y',
    };
    // 2 of 5 local files would go: 50% allows it, 30% (int(1.5) = 1) refuses all of it.
    // The limits run at the same time, each in its own directories over the same site.
    const limits = [['50%', true], ['30%', false], ['2', true], ['1', false]] as const;
    const runs = await Promise.all(limits.map(([limit]) => runBoth(t, o, `package=del\n\tremote_dir=/pub\n\tlocal_dir=local\n\tdo_deletes=true\n\tmax_delete_files=${limit}\n\tmax_delete_dirs=100%\n`, {
        args: ['-N'],
        prepare: (cwd) => writeTree(cwd, local),
      })));
    limits.forEach(([limit, gone], i) => {
      agree(runs[i]!, `max_delete_files=${limit}`);
      assert.equal('gone1' in treeOf(runs[i]!.om.local), !gone, `max_delete_files=${limit}`);
    });
  });

  test('oracle: exclude_patt on the remote side only (stale excluded local files reclaimed), local_ignore hides local paths', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/a.txt': 'a', 'pub/b.tmp': 'b', 'pub/cache/x': 'x', 'pub/LOCAL': 'remote copy' });
    const b = await runBoth(
      t,
      o,
      'package=ex\n\tremote_dir=/pub\n\tlocal_dir=local\n\tdo_deletes=true\n\tmax_delete_files=100%\n\tmax_delete_dirs=100%\n\texclude_patt=\\.tmp$|^cache\n\tlocal_ignore=(^|/)LOCAL$|^mine/\n',
      { args: ['-N'], prepare: (cwd) => writeTree(cwd, { 'local/stale.tmp': 's', 'local/LOCAL': 'mine', 'local/mine/notes': 'n', 'local/cache/old': 'o' }) },
    );
    agree(b, 'exclude_patt / local_ignore');
    const tree = treeOf(b.om.local);
    assert.ok(!('stale.tmp' in tree), 'a local file matching only exclude_patt is not kept: do_deletes reclaims it');
    assert.equal(tree['LOCAL']?.sha256, sha('mine'), 'local_ignore: neither fetched over nor deleted');
    assert.ok('mine/notes' in tree);
  });

  test('oracle: modes (mode_copy, file_mode, dir_mode)', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, {
      // (anonymous vsftpd serves only what others may read)
      'pub/x': { content: 'x', mode: 0o664 },
      'pub/run': { content: '#!/bin/sh\n', mode: 0o755 },
      'pub/d': { dir: true, mode: 0o775 },
      'pub/d/y': { content: 'y', mode: 0o604 },
      'pub/ro': { dir: true, mode: 0o555 },
      'pub/ro/z': { content: 'z', mode: 0o444 },
    });
    const keywords = ['mode_copy=true', 'file_mode=0640\n\tdir_mode=0700', ''];
    const runs = await Promise.all(keywords.map((kw) => runBoth(t, o, `package=modes\n\tremote_dir=/pub\n\tlocal_dir=local\n\t${kw}\n`, { args: ['-N'] })));
    keywords.forEach((kw, i) => agree(runs[i]!, kw || 'defaults'));
  });

  test('oracle: max_days ignores old remote and local files', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/new': { content: 'n', mtimeMs: RECENT }, 'pub/old': { content: 'o', mtimeMs: OLD } });
    const b = await runBoth(t, o, 'package=age\n\tremote_dir=/pub\n\tlocal_dir=local\n\tmax_days=30\n\tdo_deletes=1\n\tmax_delete_files=100%\n', {
      args: ['-N'],
      prepare: (cwd) => writeTree(cwd, { 'local/ancient': { content: 'a', mtimeMs: OLD } }),
    });
    agree(b, 'max_days');
    assert.deepEqual(Object.keys(treeOf(b.om.local)), ['ancient', 'new']);
  });

  test("oracle: booleans as Perl's eval reads them", async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/a': 'a' });
    const values = [['true ', true], ["'yes'", true], ['"ok"', true], ['01', true], ['True', false], ['0', false], ['""', false], ['"0"', false], ['', false]] as const;
    const runs = await Promise.all(
      values.map(([value]) =>
        runBoth(t, o, `package=bool\n\tremote_dir=/pub\n\tlocal_dir=local\n\tmax_delete_files=100%\n\tdo_deletes=${value}\n`, {
          args: ['-N'],
          prepare: (cwd) => writeTree(cwd, { 'local/extra': 'e' }),
        }),
      ),
    );
    values.forEach(([value, deletes], i) => {
      agree(runs[i]!, `do_deletes=${JSON.stringify(value)}`);
      assert.equal('extra' in treeOf(runs[i]!.om.local), !deletes, `do_deletes=${JSON.stringify(value)}`);
    });
  });

  test('oracle: save_deletes without do_deletes moves entries aside, as mirror does', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/a': 'a' });
    const b = await runBoth(t, o, 'package=save\n\tremote_dir=/pub\n\tlocal_dir=local\n\tsave_deletes=true\n\tmax_delete_files=100%\n', {
      args: ['-N'],
      prepare: (cwd) => writeTree(cwd, { 'local/extra': 'e' }),
    });
    agree(b, 'save_deletes', { modes: false });
    assert.equal(treeOf(b.om.local)['Old/extra']?.kind, 'file');
  });

  test('oracle: mirror.defaults is read from where mirror finds it (do_deletes, limits and exclude_patt set there)', async (t) => {
    const o = await startOracle(t);
    writeTree(o.remote, { 'pub/a': 'a', 'pub/core': 'core dump' });
    const defaults = 'package=defaults\n\tdo_deletes=true\n\tmax_delete_files=100%\n\texclude_patt=(^|/)core$\n';
    // mirror.pl finds it beside itself; omirr in its working directory (mm's home, where ./mirror lived).
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(o.mirrorDir, 'mirror.defaults'), defaults);
    const b = await runBoth(t, o, 'package=def\n\tremote_dir=/pub\n\tlocal_dir=local\n', {
      prepare: (cwd) => {
        writeTree(cwd, { 'local/extra': 'e' });
        writeFileSync(join(cwd, 'mirror.defaults'), defaults);
      },
    });
    agree(b, 'mirror.defaults');
    assert.deepEqual(Object.keys(treeOf(b.om.local)), ['a']);
  });

  test('oracle: keywords before the first package= apply to the first package', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/a.txt': 'a', 'pub/b.bin': 'b' });
    const b = await runBoth(t, o, 'get_patt=\\.txt$\npackage=first\n\tremote_dir=/pub\n\tlocal_dir=local\n', { args: ['-N'] });
    agree(b, 'keywords before package=');
    assert.deepEqual(Object.keys(treeOf(b.om.local)), ['a.txt']);
  });

  test('oracle: upload mode (get_file=false) puts local_dir on the FTP site; deletes and modes on the site', async (t) => {
    const { startVsftpd } = await import('../helpers/vsftpdServer.js');
    const { omirr, tempDir } = await import('../helpers/mirrorFixtures.js');
    const { runMirrorPl } = await import('../helpers/mirrorPl.js');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    // (the shared copy: this scenario only runs it)
    const sides: Record<string, { site: string; code: number; out: string; local: string }> = {};
    // each tool against its own vsftpd and site, at the same time
    const side = async (who: 'pl' | 'om'): Promise<void> => {
      const base = tempDir(t);
      const site = join(base, 'site');
      // (only the site's top directory belongs to the FTP user: a stale subdirectory could not be deleted by either)
      writeTree(site, { 'same': { content: 'same', mtimeMs: RECENT }, 'stale': 'not local any more' });
      const ftp = await startVsftpd({ root: site, writable: true });
      t.after(() => ftp.stop());
      const cwd = join(base, 'cwd');
      mkdirSync(cwd);
      writeTree(cwd, { 'local/same': { content: 'same', mtimeMs: OLD }, 'local/new.txt': 'new file', 'local/d/deep': 'deep', 'local/link': { link: 'new.txt' } });
      writeFileSync(
        join(cwd, 'pkg'),
        `package=up\n\tsite=127.0.0.1\n\tftp_port=${ftp.port}\n\tremote_user=${ftp.user}\n\tremote_password=${ftp.password}\n\tremote_dir=/\n\tlocal_dir=local\n\tget_file=false\n\tdo_deletes=true\n\tmax_delete_files=100%\n\tmax_delete_dirs=100%\n`,
      );
      const r = who === 'pl' ? await runMirrorPl(mirrorDir, ['-N', 'pkg'], cwd) : await omirr(['mirror', '-N', 'pkg'], { cwd });
      sides[who] = { site, code: r.code ?? -1, out: r.stdout + r.stderr, local: join(cwd, 'local') };
    };
    await Promise.all([side('pl'), side('om')]);
    const pl = sides.pl!;
    const om = sides.om!;
    assert.equal(om.code, pl.code, `mirror.pl: ${pl.out}\nomirr: ${om.out}`);
    assert.deepEqual(treeOf(om.site, { modes: false }), treeOf(pl.site, { modes: false }), `mirror.pl: ${pl.out}\nomirr: ${om.out}`);
    // Repair: mirror.pl chmods on the site only when "HELP SITE" lists CHMOD, which vsftpd's
    // reply does not, so its uploads kept the server's umask (0644); omirr's SITE CHMOD gives
    // file_mode (0444), as the package asks.
    assert.equal(treeOf(pl.site)['new.txt']!.mode, 0o644);
    assert.equal(treeOf(om.site)['new.txt']!.mode, 0o444);
    assert.deepEqual(Object.keys(treeOf(om.site)).sort(), ['d', 'd/deep', 'new.txt', 'same']);
    assert.deepEqual(treeOf(om.local), treeOf(pl.local), 'the local tree is only read');
  });

  test('oracle: upload mode to a site that cannot be written (a local path) is refused before anything is touched', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/a': 'remote a' });
    const { omirr } = await import('../helpers/mirrorFixtures.js');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { tempDir } = await import('../helpers/mirrorFixtures.js');
    const cwd = tempDir(t);
    mkdirSync(join(cwd, 'local'));
    writeFileSync(join(cwd, 'local', 'mine'), 'to upload');
    writeFileSync(join(cwd, 'pkg'), `package=up\n\tsite=${o.remote}\n\tremote_dir=pub\n\tlocal_dir=local\n\tget_file=false\n\tdo_deletes=true\n\tmax_delete_files=100%\n`);
    const r = await omirr(['mirror', '-N', 'pkg'], { cwd });
    assert.equal(r.code, 2);
    assert.match(r.stdout, /pkg:5: get_file=false: not implemented by omirr/);
    assert.deepEqual(Object.keys(treeOf(join(cwd, 'local'))), ['mine']);
    assert.deepEqual(Object.keys(treeOf(join(o.remote, 'pub'))), ['a']);
  });

  test('oracle: name_mappings renames remote paths (a mapped directory and what is in it); mapped local copies are kept, the rest deleted', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, {
      'pub/Old/a.TXT': { content: 'remote a', mtimeMs: RECENT },
      'pub/Old/sub/b.TXT': 'remote b',
      'pub/keep.TXT': 'k',
      'pub/plain': 'p',
    });
    const pkg = 'package=map\n\tremote_dir=/pub\n\tlocal_dir=local\n\tname_mappings=s:^Old:new:;s/\\.TXT$/.txt/\n\tdo_deletes=true\n\tmax_delete_files=100%\n\tmax_delete_dirs=100%\n';
    const b = await runBoth(t, o, pkg, {
      args: ['-N'],
      // new/a.txt is the mapped copy of Old/a.TXT (same size, newer): kept, not fetched again;
      // a.TXT and Old/ under their remote names are not kept: deleted.
      prepare: (cwd) => writeTree(cwd, { 'local/new/a.txt': { content: 'LOCAL a!', mtimeMs: RECENT + 60_000 }, 'local/keep.TXT': 'x', 'local/Old/junk': 'j' }),
    });
    agree(b, 'name_mappings');
    const om = treeOf(b.om.local);
    assert.deepEqual(Object.keys(om), ['keep.txt', 'new', 'new/a.txt', 'new/sub', 'new/sub/b.txt', 'plain']);
    assert.equal(om['new/a.txt']?.sha256, sha('LOCAL a!'), 'the mapped local copy is the copy of the remote file: not fetched again');
    assert.equal(om['new/sub/b.txt']?.sha256, sha('remote b'));
    // A second run changes nothing.
    const again = await omirr(['mirror', '-N', 'pkg'], { cwd: b.om.cwd });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /got 0 file\(s\).*deleted 0/, again.stdout);
    assert.deepEqual(treeOf(b.om.local), om);
  });

  test('oracle: name_mappings omirr cannot evaluate (Perl code beyond s/// and tr///) is refused with file:line, nothing touched', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/a.TXT': 'a' });
    const b = await runBoth(t, o, 'package=map\n\tremote_dir=/pub\n\tlocal_dir=local\n\tname_mappings=$_ = lc $_\n\tdo_deletes=true\n\tmax_delete_files=100%\n', {
      args: ['-N'],
      prepare: (cwd) => writeTree(cwd, { 'local/a.txt': 'a' }),
    });
    assert.equal(b.om.run.code, 2);
    assert.match(b.om.run.stdout, /pkg:\d+: name_mappings=\$_ = lc \$_: .*Perl code omirr does not run/);
    assert.deepEqual(Object.keys(treeOf(b.om.local)), ['a.txt'], 'nothing touched');
  });

  /** A tree with each .gz file's content replaced by what it decompresses to: gzip's header holds the input's mtime, which differs between the tools. */
  function unzipped(root: string): ReturnType<typeof treeOf> {
    const tree = treeOf(root);
    for (const [p, e] of Object.entries(tree)) {
      if (e.kind !== 'file' || !p.endsWith('.gz')) continue;
      try {
        e.sha256 = 'gunzip:' + createHash('sha256').update(gunzipSync(readFileSync(join(root, p)))).digest('hex');
      } catch {
        // not gzip inside (a remote file merely named .gz): compared as it is
      }
    }
    return tree;
  }

  test('oracle: compress_patt keeps matching files gzipped locally (NAME.gz counts as the copy: a re-run fetches and deletes nothing)', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, {
      'pub/Packages': { content: 'Package: x\n'.repeat(200), mtimeMs: RECENT },
      'pub/doc.txt': { content: 'documentation '.repeat(50), mtimeMs: OLD },
      'pub/tiny.txt': 'abc',
      'pub/already.txt.gz': 'not really gzip',
      'pub/bin/tool': 'binary',
      'pub/bin/Packages': 'Package: y\n',
      'pub/latest': { link: 'Packages' },
    });
    // compress_suffix=gz after compress_prog=gzip: mirror.pl sets the two in Perl's hash order,
    // which is random, so without it mirror.pl alone would name the copies .Z or .gz by chance.
    // compress_conv_patt= : mirror.pl's conversion runs `compress -d`, not installed here.
    const pkg =
      'package=z\n\tremote_dir=/pub\n\tlocal_dir=local\n\tcompress_prog=gzip\n\tcompress_suffix=gz\n\tcompress_patt=Packages|\\.txt$\n\tcompress_size_floor=10\n\tcompress_conv_patt=\n\tdo_deletes=true\n\tmax_delete_files=100%\n';
    const b = await runBoth(t, o, pkg, { args: ['-N'], prepare: (cwd) => writeTree(cwd, { 'local/Packages': 'stale plain copy' }) });
    assert.equal(b.om.run.code, b.pl.run.code, b.pl.run.stdout + b.om.run.stdout + b.om.run.stderr);
    assert.deepEqual(unzipped(b.om.local), unzipped(b.pl.local), `${b.pl.run.stdout}\n${b.om.run.stdout}`);
    const om = treeOf(b.om.local);
    assert.deepEqual(Object.keys(om), ['Packages.gz', 'already.txt.gz', 'bin', 'bin/Packages.gz', 'bin/tool', 'doc.txt.gz', 'latest.gz', 'tiny.txt']);
    assert.equal(gunzipSync(readFileSync(join(b.om.local, 'Packages.gz'))).toString(), 'Package: x\n'.repeat(200));
    assert.equal(om['latest.gz']?.target, 'Packages.gz', 'a link to a compressed file points at the compressed copy');
    assert.equal(om['Packages.gz']?.mode, 0o444, 'file_mode on the compressed copy');
    // Re-run, both tools on their own trees: nothing fetched, nothing deleted.
    const { runMirrorPl } = await import('../helpers/mirrorPl.js');
    const [pl2, om2] = await Promise.all([runMirrorPl(o.mirrorDir, ['-N', 'pkg'], b.pl.cwd), omirr(['mirror', '-N', 'pkg'], { cwd: b.om.cwd })]);
    assert.equal(om2.code, pl2.code, pl2.stdout + om2.stdout + om2.stderr);
    assert.match(om2.stdout, /got 0 file\(s\).*deleted 0/, om2.stdout);
    assert.deepEqual(treeOf(b.om.local), om, 'the re-run left the tree as it was');
    assert.deepEqual(unzipped(b.om.local), unzipped(b.pl.local));
  });

  /** Is compress (ncompress, installed by .ci/run) on this host? */
  const HAS_COMPRESS = (() => {
    try {
      execFileSync('compress', ['-V'], { stdio: 'ignore' });
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  })();

  test('oracle: compress_patt with the default compress_prog=compress keeps NAME.Z copies; a re-run fetches and deletes nothing', { skip: HAS_COMPRESS ? false : 'compress (ncompress) is not installed; .ci/run installs it' }, async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/Packages': 'Package: z\n'.repeat(100), 'pub/d/notes.txt': 'notes '.repeat(40), 'pub/keep.Z': 'already', 'pub/other': 'o' });
    const pkg = 'package=z\n\tremote_dir=/pub\n\tlocal_dir=local\n\tcompress_patt=Packages|\\.txt$\n\tdo_deletes=true\n\tmax_delete_files=100%\n';
    const b = await runBoth(t, o, pkg, { args: ['-N'] });
    agree(b, 'compress_patt with compress');
    assert.deepEqual(Object.keys(treeOf(b.om.local)), ['Packages.Z', 'd', 'd/notes.txt.Z', 'keep.Z', 'other']);
    assert.equal(execFileSync('compress', ['-dc'], { input: readFileSync(join(b.om.local, 'Packages.Z')) }).toString(), 'Package: z\n'.repeat(100));
    const again = await omirr(['mirror', '-N', 'pkg'], { cwd: b.om.cwd });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /got 0 file\(s\).*deleted 0/, again.stdout);
  });

  test('oracle: compress_conv_patt with gzip: a remote .Z is kept as .gz (uncompressed, then gzipped)', { skip: HAS_COMPRESS ? false : 'compress (ncompress) is not installed; .ci/run installs it' }, async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/x': 'x', 'pub/cur.Z': { link: 'data.Z' } });
    writeFileSync(join(o.remote, 'pub/data.Z'), execFileSync('compress', ['-c'], { input: Buffer.from('the data '.repeat(30)) }));
    utimesSync(join(o.remote, 'pub/data.Z'), new Date(RECENT), new Date(RECENT));
    const pkg = 'package=c\n\tremote_dir=/pub\n\tlocal_dir=local\n\tcompress_prog=gzip\n\tcompress_suffix=gz\n';
    const b = await runBoth(t, o, pkg, { args: ['-N'] });
    assert.equal(b.om.run.code, b.pl.run.code, b.pl.run.stdout + b.om.run.stdout + b.om.run.stderr);
    assert.deepEqual(unzipped(b.om.local), unzipped(b.pl.local), `${b.pl.run.stdout}\n${b.om.run.stdout}`);
    assert.deepEqual(Object.keys(treeOf(b.om.local)), ['cur.gz', 'data.gz', 'x']);
    assert.equal(treeOf(b.om.local)['cur.gz']?.target, 'data.gz');
    assert.equal(gunzipSync(readFileSync(join(b.om.local, 'data.gz'))).toString(), 'the data '.repeat(30));
  });

  test('oracle: compress_patt with the default compress_prog (compress) where it is not installed: mirror.pl silently drops compress_patt; omirr refuses with file:line', { skip: HAS_COMPRESS ? 'compress is installed here (the refusal is in test/core/mirrorKeywords.test.ts)' : false }, async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/Packages': 'p' });
    const b = await runBoth(t, o, 'package=z\n\tremote_dir=/pub\n\tlocal_dir=local\n\tcompress_patt=Packages\n\tdo_deletes=true\n\tmax_delete_files=100%\n', {
      args: ['-N'],
      prepare: (cwd) => writeTree(cwd, { 'local/Packages.Z': 'made where compress was installed' }),
    });
    // Repair: mirror.pl, finding no compress, resets compress_patt, fetches Packages plain and
    // deletes the .Z copy made on a host that had compress. omirr stops before touching it.
    assert.deepEqual(Object.keys(treeOf(b.pl.local)), ['Packages']);
    assert.equal(b.om.run.code, 2);
    assert.match(b.om.run.stdout, /pkg:\d+: compress_patt=Packages: compress_prog=compress: the compress program \(\.Z\) is not installed/);
    assert.deepEqual(Object.keys(treeOf(b.om.local)), ['Packages.Z']);
  });

  test('oracle: follow_local_symlinks: a symlinked local directory is followed, filled and kept (not replaced by a real one)', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/data/a': { content: 'new a', mtimeMs: RECENT }, 'pub/data/sub/b': 'b', 'pub/top': 't', 'pub/f': 'remote f', 'pub/asfile': 'now a file' });
    const local = {
      'real/a': { content: 'old', mtimeMs: OLD },
      'real/stale': 's',
      'local/data': { link: '../real' },
      'realf': { content: 'remote f', mtimeMs: OLD },
      'local/f': { link: '../realf' },
      // a followed directory the site has as a file: the file replaces the link, what it
      // pointed to stays
      'real2/inside': 'i',
      'local/asfile': { link: '../real2' },
    };
    const pkg = 'package=fl\n\tremote_dir=/pub\n\tlocal_dir=local\n\tfollow_local_symlinks=^(data|f|asfile)$\n\tdo_deletes=true\n\tmax_delete_files=100%\n\tmax_delete_dirs=100%\n';
    const b = await runBoth(t, o, pkg, { args: ['-N'], prepare: (cwd) => writeTree(cwd, local) });
    agree(b, 'follow_local_symlinks');
    assert.deepEqual(treeOf(join(b.om.cwd, 'real')), treeOf(join(b.pl.cwd, 'real')), 'the directory the link points to');
    assert.deepEqual(treeOf(join(b.om.cwd, 'real2')), treeOf(join(b.pl.cwd, 'real2')));
    assert.equal(treeOf(b.om.local).asfile?.kind, 'file');
    const om = treeOf(b.om.local);
    assert.equal(om.data?.kind, 'symlink', 'the symlinked directory stays a symlink');
    assert.equal(om.f?.kind, 'symlink', 'a followed link to a file of the same size and time stays');
    assert.deepEqual(Object.keys(treeOf(join(b.om.cwd, 'real'))), ['a', 'sub', 'sub/b']);
    assert.equal(readFileSync(join(b.om.cwd, 'real/a'), 'utf8'), 'new a');
    // Without it, the link is replaced by a real directory (both tools).
    const c = await runBoth(t, o, pkg.replace(/\tfollow_local_symlinks=.*\n/, ''), { args: ['-N'], prepare: (cwd) => writeTree(cwd, local) });
    agree(c, 'no follow_local_symlinks');
    assert.equal(treeOf(c.om.local).data?.kind, 'dir');
  });

  test('oracle: a tree made by the old mirror is not fetched again (times compared at the listing precision)', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, {
      'pub/recent': { content: 'r', mtimeMs: RECENT + 37_000 },
      'pub/old': { content: 'o', mtimeMs: OLD + 13 * 3_600_000 + 17_000 },
      'pub/d/f': { content: 'f', mtimeMs: RECENT + 5_000 },
    });
    const pkg = 'package=again\n\tremote_dir=/pub\n\tlocal_dir=local\n';
    const first = await runBoth(t, o, pkg, { args: ['-N'] });
    agree(first, 'first run');
    // omirr's second run over the tree mirror.pl made: nothing to get.
    const { cpSync } = await import('node:fs');
    const cwd = join(first.pl.cwd, '..', 'again');
    cpSync(first.pl.cwd, cwd, { recursive: true, preserveTimestamps: true });
    const { omirr } = await import('../helpers/mirrorFixtures.js');
    const { omirrSpeaksFtp } = await import('../helpers/mirrorPl.js');
    const r = await omirr(['mirror', '-N', ...(omirrSpeaksFtp() ? [] : ['-s', o.remote]), 'pkg'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /got 0 file\(s\)/, r.stdout);
  });

  // --- The published sample package and both installations' files, unchanged but for the
  // host (pointed at the loopback vsftpd) and the local directories (moved under the test's
  // directory). Logins are anonymous (-kremote_user=anonymous) since vsftpd knows none of
  // their users.

  function pointAtLoopback(text: string, under: string): string {
    return text
      .replace(/^(\s*site\s*=).*?(\r?)$/gm, '$1127.0.0.1$2')
      .replace(/^(\s*local_dir\s*=)(\/.*?)(\r?)$/gm, (_m, k: string, p: string, cr: string) => `${k}${under}${p}${cr}`);
  }

  async function installation(t: TestContext, o: Oracle, defaults: string, pkgFile: string, packages: string[]) {
    const { readFileSync, writeFileSync, mkdirSync } = await import('node:fs');
    const { omirr } = await import('../helpers/mirrorFixtures.js');
    const { omirrSpeaksFtp, runMirrorPl } = await import('../helpers/mirrorPl.js');
    const { tempDir } = await import('../helpers/mirrorFixtures.js');
    const out: Record<'pl' | 'om', { cwd: string; codes: Record<string, { code: number; stdout: string }> }> = {} as never;
    // the two tools at the same time, each in its own directory (packages in order within one)
    const side = async (who: 'pl' | 'om'): Promise<void> => {
      const cwd = join(tempDir(t), who);
      mkdirSync(cwd);
      writeFileSync(join(cwd, 'pkg'), pointAtLoopback(readFileSync(pkgFile, 'utf8'), cwd));
      const defs = pointAtLoopback(readFileSync(defaults, 'utf8'), cwd);
      // mirror.pl reads mirror.defaults beside itself; omirr from its working directory.
      writeFileSync(join(who === 'pl' ? o.mirrorDir : cwd, 'mirror.defaults'), defs);
      const codes: Record<string, { code: number; stdout: string }> = {};
      for (const p of packages) {
        const common = [`-kftp_port=${o.ftp.port}`, '-kremote_user=anonymous', `-p${p}`, 'pkg'];
        const r =
          who === 'pl'
            ? await runMirrorPl(o.mirrorDir, common, cwd)
            : await omirr(['mirror', ...(omirrSpeaksFtp() ? [] : ['-s', o.remote]), ...common], { cwd });
        codes[p] = { code: r.code ?? -1, stdout: r.stdout + r.stderr };
      }
      out[who] = { cwd, codes };
    };
    await Promise.all([side('pl'), side('om')]);
    return out;
  }

  test('oracle: the upstream sample package (packages/sunsite.org.uk with the sample mirror.defaults) runs unchanged', async (t) => {
    const o = await startOracle(t);
    const { referenceDir } = await import('../helpers/mirrorPl.js');
    writeTree(o.remote, { 'packages/mirror/mirror.tar.gz': 'tarball', 'packages/mirror/README': 'read me', 'packages/mirror/.mirror': 'theirs', 'packages/mirror/core': 'x' });
    const ref = referenceDir();
    const r = await installation(t, o, join(ref, 'mirror-2.9/mirror.defaults'), join(ref, 'mirror-2.9/packages/sunsite.org.uk'), ['mirror']);
    assert.equal(r.om.codes.mirror!.code, r.pl.codes.mirror!.code, `${r.pl.codes.mirror!.stdout}\n${r.om.codes.mirror!.stdout}`);
    assert.equal(r.om.codes.mirror!.code, 0, r.om.codes.mirror!.stdout);
    const local = (cwd: string) => join(cwd, 'var/tmp/mirror');
    assert.deepEqual(treeOf(local(r.om.cwd)), treeOf(local(r.pl.cwd)));
    assert.deepEqual(Object.keys(treeOf(local(r.om.cwd))), ['README', 'mirror.tar.gz'], 'exclude_patt of the sample defaults drops .mirror and core');
  });

  test("oracle: the NASA installation's package files run unchanged; its CRLF line ends are a repair", async (t) => {
    const o = await startOracle(t);
    const { referenceDir } = await import('../helpers/mirrorPl.js');
    writeTree(o.remote, {
      'gpmuser/gpmgv/scripts/ftp_url_2024.txt': 'urls',
      'gpmuser/gpmgv/scripts/other.txt': 'not wanted',
      'itedata/ftpdata/gpmgv/scripts/ftp_url_ite.txt': 'ite urls',
    });
    const ref = referenceDir();
    const r = await installation(t, o, join(ref, 'installation-nasa-mirror.defaults'), join(ref, 'installation-nasa-packages/arthurhou.pps.eosdis.nasa.gov'), ['ppsftpurlfiles']);
    assert.equal(r.om.codes.ppsftpurlfiles!.code, 0, r.om.codes.ppsftpurlfiles!.stdout);
    assert.equal(r.pl.codes.ppsftpurlfiles!.code, 0, r.pl.codes.ppsftpurlfiles!.stdout);
    const dir = 'oldeos/NASA_NMQ/satellite/data/tmp/PPS_CS';
    const om = treeOf(join(r.om.cwd, dir), { modes: false });
    assert.deepEqual(Object.keys(om), ['ftp_url_2024.txt', 'pps_ftp_lists.log'], 'get_patt=^ftp_url_* and update_log relative to local_dir');
    // Repair: mirror.pl keeps the \r of each CRLF line in the value, so the package is named
    // "ppsftpurlfiles\r", -pppsftpurlfiles selects nothing, and mirror.pl does nothing, exit 0
    // (its local_dir and get_patt would end in \r too). omirr drops the \r.
    assert.deepEqual(Object.keys(treeOf(r.pl.cwd, { modes: false })), ['pkg'], 'mirror.pl ran nothing');
  });

  test("oracle: the PLD installation's packages run unchanged: compress_patt keeps Packages gzipped, as mirror.pl does", async (t) => {
    const o = await startOracle(t);
    const { referenceDir } = await import('../helpers/mirrorPl.js');
    writeTree(o.remote, { 'dists/ra/PLD/i386/Packages': 'pkgs', 'dists/ra/PLD/i386/x.rpm': 'rpm', 'dists/ra/PLD/SRPMS/Packages': 'srpms', 'dists/ra/PLD/SRPMS/x.src.rpm': 'src' });
    const ref = referenceDir();
    const r = await installation(t, o, join(ref, 'installation-pld/mirror.defaults'), join(ref, 'installation-pld/mirror.packages'), ['i386', 'SRPMS']);
    for (const p of ['i386', 'SRPMS']) assert.equal(r.om.codes[p]!.code, r.pl.codes[p]!.code, `${p}: ${r.pl.codes[p]!.stdout}\n${r.om.codes[p]!.stdout}`);
    const dir = 'home/services/ftp/mirrors/ftp.pld-linux.org/dists/ra/PLD/i386';
    const pl = Object.keys(treeOf(join(r.pl.cwd, dir), { modes: false })).sort();
    const om = Object.keys(treeOf(join(r.om.cwd, dir), { modes: false })).sort();
    // The PLD defaults set compress_prog=gzip without compress_suffix: mirror.pl sets the two
    // in Perl's (random) hash order, so its copy is Packages.gz or, by chance, Packages.Z
    // (gzip bytes under compress's suffix). omirr follows the manual: gzip gives .gz.
    assert.match(pl[0]!, /^Packages\.(Z|gz)$/);
    assert.deepEqual(om, ['Packages.gz', 'x.rpm']);
    assert.equal(gunzipSync(readFileSync(join(r.om.cwd, dir, 'Packages.gz'))).toString(), 'pkgs');
  });

  test('oracle: -T sets local timestamps only (nothing fetched, made or deleted)', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/a': { content: 'same', mtimeMs: RECENT }, 'pub/b': { content: 'new b', mtimeMs: RECENT }, 'pub/d/c': 'c' });
    const b = await runBoth(t, o, 'package=ts\n\tremote_dir=/pub\n\tlocal_dir=local\n\tdo_deletes=1\n\tmax_delete_files=100%\n', {
      args: ['-N', '-T'],
      prepare: (cwd) => writeTree(cwd, { 'local/a': { content: 'same', mtimeMs: OLD }, 'local/extra': 'x' }),
    });
    // Repair: mirror 2.9's -T returns before it marks the package ok, so it always exits 1.
    assert.equal(b.pl.run.code, 1);
    assert.equal(b.om.run.code, 0, b.om.run.stdout + b.om.run.stderr);
    assert.deepEqual(treeOf(b.om.local), treeOf(b.pl.local));
    const { statSync } = await import('node:fs');
    assert.equal(Math.floor(statSync(join(b.om.local, 'a')).mtimeMs / 60_000), Math.floor(statSync(join(b.pl.local, 'a')).mtimeMs / 60_000), 'the same time (to the minute the listing gives)');
    assert.deepEqual(Object.keys(treeOf(b.om.local)), ['a', 'extra']);
  });

  test('oracle: update_local fetches only what exists at the top of local_dir', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/have/x': 'x', 'pub/have/y': 'y', 'pub/nothave/z': 'z', 'pub/f': 'f' });
    const b = await runBoth(t, o, 'package=ul\n\tremote_dir=/pub\n\tlocal_dir=local\n\tupdate_local=true\n', {
      args: ['-N'],
      prepare: (cwd) => writeTree(cwd, { 'local/have': { dir: true } }),
    });
    agree(b, 'update_local');
    assert.deepEqual(Object.keys(treeOf(b.om.local)), ['have', 'have/x', 'have/y']);
  });

  test('oracle: -L lists the packages as mirror does and touches nothing', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    const b = await runBoth(t, o, 'package=one\n\tcomment=the first\n\tremote_dir=/pub\n\tlocal_dir=local\npackage=two\n\tremote_dir=/x\n\tlocal_dir=l2\n\tskip=not now\n', { args: ['-N', '-L'] });
    assert.equal(b.om.run.code, b.pl.run.code);
    assert.equal(b.om.run.stdout, b.pl.run.stdout);
    assert.deepEqual(treeOf(b.om.cwd, { modes: false }), treeOf(b.pl.cwd, { modes: false }));
  });

  test('oracle: -gsite:dir/ one-shot get into the current directory', async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/a': 'a', 'pub/s/b': 'b', 'pub/c.txt': 'c' });
    const b = await runBoth(t, o, '', { args: [`-kftp_port=${o.ftp.port}`, '-g127.0.0.1:/pub/'], files: [] });
    assert.equal(b.om.run.code, b.pl.run.code, b.pl.run.stdout + b.om.run.stdout + b.om.run.stderr);
    const strip = (tr: Record<string, unknown>) => Object.keys(tr).filter((k) => k !== 'pkg');
    assert.deepEqual(strip(treeOf(b.om.cwd, { modes: false })), strip(treeOf(b.pl.cwd, { modes: false })));
    assert.deepEqual(strip(treeOf(b.om.cwd, { modes: false })), ['a', 'c.txt', 's', 's/b']);
  });

  test("oracle: exclude_patt is tested on each listed path: an excluded directory's children that do not match still come", async (t) => {
    const o = await startOracle(t, { mirrorDir });
    writeTree(o.remote, { 'pub/tmp/a': 'a', 'pub/tmp/sub/b': 'b', 'pub/keep': 'k', 'pub/skip.o': 'o' });
    const b = await runBoth(t, o, 'package=ex2\n\tremote_dir=/pub\n\tlocal_dir=local\n\texclude_patt=^tmp$|\\.o$\n', { args: ['-N'] });
    agree(b, 'exclude_patt per path');
    assert.deepEqual(Object.keys(treeOf(b.om.local)), ['keep', 'tmp', 'tmp/a', 'tmp/sub', 'tmp/sub/b']);
  });
});
