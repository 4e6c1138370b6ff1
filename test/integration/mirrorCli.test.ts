// `omirr mirror`: package-file syntax, command line and exit codes, through the real CLI.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { omirr, sha, snapshot, tempDir, writeTree } from '../helpers/mirrorFixtures.js';

const BIN = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));

/** <dir>/up/{one,two} as two sources; package texts written by each test. */
function setup(t: Parameters<typeof tempDir>[0]): string {
  const dir = tempDir(t);
  writeTree(join(dir, 'up'), { 'one/a.txt': 'a', 'one/b.o': 'b', 'one/c.log': 'c', 'two/x': 'x' });
  return dir;
}

// Every case has its own directories (and server): three run at a time.
describe('omirr mirror command line', { concurrency: 3 }, () => {
  test('+ appends, & continues, # comments, indentation: one package file in mirror style', async (t) => {
    const dir = setup(t);
    writeFileSync(
      join(dir, 'pk'),
      [
        '# a package file as mirror reads it',
        'package=one',
        `    site=${dir}/up`,
        '    remote_dir=one',
        '    local_dir=out/one',
        '    exclude_patt=\\.o$',
        '    exclude_patt+|\\.log$',
        '        # indented comment',
        '    comment=spread &',
        '            over lines',
        '    update_log=../../upd.log',
        '',
      ].join('\n'),
    );
    const r = await omirr(['mirror', 'pk'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(snapshot(join(dir, 'out/one'))), ['a.txt']);
    // update_log is relative to local_dir (mirror has changed into it when it writes the log).
    assert.match(await import('node:fs').then((fs) => fs.readFileSync(join(dir, 'upd.log'), 'utf8')), /^mirroring one \(.*up:one\) completed successfully @ /);
  });

  test('<file: a value is read from the first line of a file at run time', async (t) => {
    const dir = setup(t);
    writeFileSync(join(dir, 'where'), 'two\nignored second line\n');
    writeFileSync(join(dir, 'pk'), `package=p\nsite=${dir}/up\nremote_dir=<where\nlocal_dir=out\n`);
    const r = await omirr(['mirror', 'pk'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(snapshot(join(dir, 'out'))), ['x']);
  });

  test("booleans are mirror's: only 1/yes/ok/true are true (True is false)", async (t) => {
    const dir = setup(t);
    writeTree(join(dir, 'out1'), { gone: 'g' });
    writeTree(join(dir, 'out2'), { gone: 'g' });
    const body = (out: string, v: string) => `package=${out}\nsite=${dir}/up\nremote_dir=two\nlocal_dir=${out}\nmax_delete_files=100%\ndo_deletes=${v}\n`;
    writeFileSync(join(dir, 'pk'), body('out1', 'ok') + body('out2', 'True'));
    const r = await omirr(['mirror', 'pk'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(join(dir, 'out1/gone')), false);
    assert.equal(existsSync(join(dir, 'out2/gone')), true);
  });

  test('package=defaults applies to later packages, across files of the same run', async (t) => {
    const dir = setup(t);
    mkdirSync(join(dir, 'packages'));
    writeFileSync(join(dir, 'packages/a'), `package=defaults\nsite=${dir}/up\nfile_mode=0600\npackage=one\nremote_dir=one\nlocal_dir=o1\nget_patt=\\.txt$\n`);
    writeFileSync(join(dir, 'packages/b'), 'package=two\nremote_dir=two\nlocal_dir=o2\n');
    const r = await omirr(['mirror', 'packages/a', 'packages/b'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(snapshot(join(dir, 'o1'))['a.txt']!.mode, 0o600);
    assert.deepEqual(snapshot(join(dir, 'o2')), { x: { kind: 'file', sha256: sha('x'), mode: 0o600, mtimeMs: snapshot(join(dir, 'o2')).x!.mtimeMs } });
  });

  test('unknown keyword: error naming file:line, exit 2, nothing mirrored (not even earlier packages)', async (t) => {
    const dir = setup(t);
    writeFileSync(join(dir, 'pk'), `package=ok\nsite=${dir}/up\nremote_dir=two\nlocal_dir=out\npackage=bad\n  local_dirr=/x\n`);
    const r = await omirr(['mirror', 'pk'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pk:6: unknown keyword 'local_dirr'/);
    assert.equal(existsSync(join(dir, 'out')), false);
  });

  test('-pNAME / -p NAME select packages by exact name; the default mm template form works', async (t) => {
    const dir = setup(t);
    mkdirSync(join(dir, 'packages'));
    const pk = (n: string, rd: string) => `package=${n}\nsite=${dir}/up\nremote_dir=${rd}\nlocal_dir=o-${n}\n`;
    writeFileSync(join(dir, 'packages/site.example'), pk('one', 'one') + pk('one-more', 'two') + pk('two', 'two'));
    // What mm's default template runs: omirr mirror $args -p'$package' packages/$site
    const r = await omirr(['mirror', '-pone', 'packages/site.example'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(join(dir, 'o-one')), true);
    assert.equal(existsSync(join(dir, 'o-one-more')), false, 'not a pattern: exact names');
    assert.equal(existsSync(join(dir, 'o-two')), false);
    const r2 = await omirr(['mirror', '-p', 'two', '-p', 'one-more', 'packages/site.example'], { cwd: dir });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(existsSync(join(dir, 'o-two')), true);
    assert.equal(existsSync(join(dir, 'o-one-more')), true);
    const bad = await omirr(['mirror', '-p', '--', 'packages/site.example'], { cwd: dir });
    assert.equal(bad.code, 2);
  });

  test('-kkey=val overrides every package; unknown -k keys only warn', async (t) => {
    const dir = setup(t);
    writeFileSync(join(dir, 'pk'), `package=p\nsite=${dir}/up\nremote_dir=one\nlocal_dir=out\nget_patt=\\.txt$\n`);
    const r = await omirr(['mirror', '-kget_patt=\\.log$', '-k', 'file_mode=0640', '-knot_a_key=1', 'pk'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const s = snapshot(join(dir, 'out'));
    assert.deepEqual(Object.keys(s), ['c.log']);
    assert.equal(s['c.log']!.mode, 0o640);
    assert.match(r.stderr, /-k not_a_key: unknown keyword, ignored/);
  });

  test('-n: shows what would be done and changes nothing', async (t) => {
    const dir = setup(t);
    writeTree(join(dir, 'out'), { gone: 'g' });
    writeFileSync(join(dir, 'pk'), `package=p\nsite=${dir}/up\nremote_dir=one\nlocal_dir=out\ndo_deletes=1\nmax_delete_files=100%\n`);
    const r = await omirr(['mirror', '-n', 'pk'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /get a\.txt \(1 bytes\)/);
    assert.match(r.stdout, /delete gone/);
    assert.deepEqual(Object.keys(snapshot(join(dir, 'out'))), ['gone']);
    // A local_dir that does not exist is not created by -n.
    writeFileSync(join(dir, 'pk2'), `package=p\nsite=${dir}/up\nremote_dir=one\nlocal_dir=new\n`);
    const r2 = await omirr(['mirror', '-n', 'pk2'], { cwd: dir });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(existsSync(join(dir, 'new')), false);
  });

  test('package files on standard input when none are named; -d and -F are accepted', async (t) => {
    const dir = setup(t);
    const r = await omirr(['mirror', '-d', '-F'], { cwd: dir, input: `package=p\nsite=${dir}/up\nremote_dir=two\nlocal_dir=out\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(snapshot(join(dir, 'out'))), ['x']);
  });

  test('unknown and unimplemented flags stop the run before anything is touched (never a warning then a full transfer)', async (t) => {
    const dir = setup(t);
    writeFileSync(join(dir, 'pk'), `package=p\nsite=${dir}/up\nremote_dir=two\nlocal_dir=out\n`);
    for (const args of [['-x', '-pp'], ['-uuser'], ['-DUMP']]) {
      const r = await omirr(['mirror', ...args, 'pk'], { cwd: dir });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /nothing was done/, args.join(' '));
      assert.equal(existsSync(join(dir, 'out')), false, `${args.join(' ')} touched nothing`);
    }
    // -G/-P with no transfer list: mirror.pl logged in and did nothing; refused here.
    for (const flag of ['-G', '-P']) {
      const r = await omirr(['mirror', flag, `-s${dir}/up`], { cwd: dir });
      assert.equal(r.code, 2, `${flag}: ${r.stderr}`);
      assert.match(r.stderr, /needs local_dir remote_dir \[pattern\] arguments; nothing was done/);
    }
    // -t is text_mode=1: refused by the safety rule, naming where it came from.
    const tm = await omirr(['mirror', '-t', 'pk'], { cwd: dir });
    assert.equal(tm.code, 2);
    assert.match(tm.stdout, /text_mode=1: not implemented by omirr/);
    assert.equal(existsSync(join(dir, 'out')), false);
  });

  test('-kinteractive=X that Perl reads as true is interactive mode (as -G): the arguments are the transfer list, the package file is not read', async (t) => {
    const dir = setup(t);
    const r = await omirr(['mirror', '-kinteractive=yes', `-s${dir}/up`, 'out', 'two'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /package=interactive/);
    assert.deepEqual(Object.keys(snapshot(join(dir, 'out'))), ['x']);
    // -kinteractive=0 is not: the arguments are package files again ("out" does not exist)
    const n = await omirr(['mirror', '-kinteractive=0', `-s${dir}/up`, 'nofile'], { cwd: dir });
    assert.equal(n.code, 2, n.stdout + n.stderr);
  });

  test('-v prints the version; -L lists and mirrors nothing', async (t) => {
    const dir = setup(t);
    const v = await omirr(['mirror', '-v'], { cwd: dir });
    assert.equal(v.code, 0);
    assert.match(v.stdout, /omirr mirror .*mirror\.pl,v 2\.9/);
    writeFileSync(join(dir, 'pk'), `package=p\ncomment=the p files\nsite=${dir}/up\nremote_dir=two\nlocal_dir=out\npackage=q\nsite=x\nremote_dir=y\nlocal_dir=z\nskip=later\n`);
    const l = await omirr(['mirror', '-L', 'pk'], { cwd: dir });
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout, `p  "the p files"\n  ${dir}/up:two  -->  out\n\n`);
    assert.equal(existsSync(join(dir, 'out')), false);
  });

  test('-R starts at a package and runs every later one; -C adds a package file in front', async (t) => {
    const dir = setup(t);
    const pk = (n: string) => `package=${n}\nsite=${dir}/up\nremote_dir=two\nlocal_dir=o-${n}\n`;
    writeFileSync(join(dir, 'pk'), pk('a') + pk('b') + pk('c'));
    const r = await omirr(['mirror', '-Rb', 'pk'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(['a', 'b', 'c'].map((n) => existsSync(join(dir, `o-${n}`))), [false, true, true]);
    writeFileSync(join(dir, 'first'), 'package=defaults\nfile_mode=0600\n');
    const c = await omirr(['mirror', '-Cfirst', '-pa', 'pk'], { cwd: dir });
    assert.equal(c.code, 0, c.stderr);
    assert.equal(statSync(join(dir, 'o-a', 'x')).mode & 0o777, 0o600, 'the -C file was read first');
  });

  test('exit codes: 1 when the listing fails, 2 for bad settings, the worst of the selected packages', async (t) => {
    const dir = setup(t);
    const pk = (n: string, extra: string) => `package=${n}\nsite=${dir}/up\nremote_dir=one\nlocal_dir=o-${n}\n${extra}`;
    writeFileSync(
      join(dir, 'pk'),
      pk('nolist', `remote_dir=missing\n`) + pk('badre', 'get_patt=(\n') + pk('ftp', 'site=gopher://gopher.example.org\n') + pk('fine', '') + pk('skipped', 'skip=later\n'),
    );
    const one = async (p: string) => (await omirr(['mirror', `-p${p}`, 'pk'], { cwd: dir }));
    const nolist = await one('nolist');
    assert.equal(nolist.code, 1);
    assert.match(nolist.stdout, /listing .* failed/);
    const badre = await one('badre');
    assert.equal(badre.code, 2);
    assert.match(badre.stdout, /pk:\d+: Problem with regexp get_patt/);
    const ftp = await one('ftp');
    assert.equal(ftp.code, 2);
    assert.match(ftp.stdout, /site=gopher:\/\/gopher.example.org: expected a host name/);
    assert.equal((await one('fine')).code, 0);
    assert.equal((await one('skipped')).code, 0);
    // All of them: the worst (2), not the last one's (0) as mirror 2.9 would report; every
    // package still ran.
    const all = await omirr(['mirror', 'pk'], { cwd: dir });
    assert.equal(all.code, 2);
    assert.equal(existsSync(join(dir, 'o-fine/a.txt')), true);
    // -p of a package that does not exist: a warning, exit 0.
    const none = await one('nosuch');
    assert.equal(none.code, 0);
    assert.match(none.stderr, /package nosuch: not found/);
  });

  test('FTP-only keywords are accepted with a warning', async (t) => {
    const dir = setup(t);
    writeFileSync(join(dir, 'pk'), `package=p\nsite=${dir}/up\nremote_dir=two\nlocal_dir=out\npassive_ftp=true\nremote_user=ftp\n`);
    const r = await omirr(['mirror', 'pk'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /pk:5: passive_ftp only applies to FTP sites; ignored/);
    assert.match(r.stderr, /pk:6: remote_user only applies to FTP sites; ignored/);
    assert.deepEqual(Object.keys(snapshot(join(dir, 'out'))), ['x']);
  });

  test('a missing package file is a usage error (exit 2)', async (t) => {
    const dir = setup(t);
    const r = await omirr(['mirror', 'no-such-file'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no-such-file/);
  });

  test('site= an omirr node (bare host:port and omirr://), authenticated by --secret-file (and --pin)', async (t) => {
    const dir = setup(t);
    const key = await omirr(['keygen', '--out', join(dir, 'srv.key')], { cwd: dir });
    assert.equal(key.code, 0, key.stderr);
    writeFileSync(join(dir, 'secret'), 'a shared secret that is long enough\n');
    writeFileSync(join(dir, 'srv.conf'), `node = srv\nlisten = 127.0.0.1:0\nkey = ${dir}/srv.key\nsecret = ${dir}/secret\ntree = up ${dir}/up\n`);
    const server = spawn(process.execPath, [BIN, 'serve', '-c', 'srv.conf'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = new Promise((res) => server.on('close', res));
    t.after(async () => {
      server.kill('SIGTERM');
      await exited;
    });
    const ready = await new Promise<string>((res, rej) => {
      let buf = '';
      const timer = setTimeout(() => rej(new Error(`serve did not start: ${buf}`)), 20_000);
      server.stdout.on('data', (c: Buffer) => {
        buf += c.toString();
        if (/listening on \S+ key \S+/.test(buf)) {
          clearTimeout(timer);
          res(buf);
        }
      });
    });
    const [, hostPort, fp] = /listening on (\S+) key (\S+)/.exec(ready)!;
    // (a bare host name would be FTP, as in mirror 2.9: an omirr node is named by omirr://)
    writeFileSync(join(dir, 'pk'), `package=bare\nsite=omirr://${hostPort}\nremote_dir=up/one\nlocal_dir=o1\npackage=url\nsite=omirr://${hostPort}\nremote_dir=/up/two\nlocal_dir=o2\n`);
    // The server admits us by the shared secret; --pin also checks the server's key.
    const r = await omirr(['mirror', '--pin', fp!, '--secret-file', 'secret', 'pk'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(snapshot(join(dir, 'o1'))['a.txt']!.sha256, sha('a'));
    assert.deepEqual(snapshot(join(dir, 'o2')).x!.sha256, sha('x'));
    const r2 = await omirr(['mirror', '--secret-file', 'secret', '-pbare', 'pk'], { cwd: dir });
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    assert.match(r2.stdout, /got 0 file\(s\)/);
    // Without a way to authenticate the site: a connection failure, exit 2.
    const r3 = await omirr(['mirror', '-pbare', 'pk'], { cwd: dir });
    assert.equal(r3.code, 2);
  });

  test('mirror.defaults in the current directory is read in front of the files; -N turns it off', async (t) => {
    const dir = setup(t);
    writeFileSync(join(dir, 'mirror.defaults'), 'package=defaults\n\tfile_mode=0600\n\tdo_deletes=true \n\tmax_delete_files=100%\n');
    writeFileSync(join(dir, 'pk'), `package=p\nsite=${dir}/up\nremote_dir=two\nlocal_dir=out\n`);
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'out', 'stale'), 'not on the site');
    const off = await omirr(['mirror', '-N', 'pk'], { cwd: dir });
    assert.equal(off.code, 0, off.stderr);
    assert.equal(statSync(join(dir, 'out', 'x')).mode & 0o777, 0o444, '-N: the built-in file_mode');
    assert.ok(existsSync(join(dir, 'out', 'stale')), '-N: no deletes');
    const on = await omirr(['mirror', '-f', 'pk'], { cwd: dir });
    assert.equal(on.code, 0, on.stderr);
    assert.equal(statSync(join(dir, 'out', 'x')).mode & 0o777, 0o600, 'file_mode from mirror.defaults');
    assert.equal(existsSync(join(dir, 'out', 'stale')), false, 'do_deletes=true (with a trailing blank) from mirror.defaults');
  });

  test('follow_local_symlinks: a followed symlinked directory the site has as a file is replaced by the file, as mirror does; what it pointed to is left alone', async (t) => {
    const dir = setup(t);
    mkdirSync(join(dir, 'elsewhere'));
    writeFileSync(join(dir, 'elsewhere', 'kept'), 'k');
    mkdirSync(join(dir, 'out'));
    const { symlinkSync, lstatSync, readFileSync } = await import('node:fs');
    symlinkSync('../elsewhere', join(dir, 'out', 'x'));
    writeFileSync(join(dir, 'pk'), `package=p\nsite=${dir}/up\nremote_dir=two\nlocal_dir=out\nfollow_local_symlinks=^x$\ndo_deletes=1\nmax_delete_files=100%\n`);
    const r = await omirr(['mirror', '-N', 'pk'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(lstatSync(join(dir, 'out', 'x')).isFile());
    assert.equal(readFileSync(join(dir, 'out', 'x'), 'utf8'), 'x');
    assert.ok(existsSync(join(dir, 'elsewhere', 'kept')), 'nothing deleted through the link');
  });
});
