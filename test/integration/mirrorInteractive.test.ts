// mirror 2.9's interactive mode (-G get, -P put), the real mirror.pl as the oracle: the
// transfer list comes from the command line as `local_dir remote_dir [pattern]` triples,
// no package file and no mirror.defaults are read; the same trees and exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { T0, omirr, sha, tempDir, writeTree } from '../helpers/mirrorFixtures.js';
import { preparedMirrorPl, runBoth, runMirrorPl, startOracle, treeOf } from '../helpers/mirrorPl.js';
import { startVsftpd } from '../helpers/vsftpdServer.js';

const RECENT = Date.now() - 3 * 86_400_000;
/** The working directory's tree without the (unread) package file runBoth writes. */
const cwdTree = (cwd: string) => Object.fromEntries(Object.entries(treeOf(cwd, { modes: false })).filter(([k]) => k !== 'pkg'));

test('oracle: -G gets local_dir remote_dir [pattern] triples from the command line; mirror.defaults is not read', async (t) => {
  const o = await startOracle(t);
  writeTree(o.remote, { 'pub/a.txt': 'alpha', 'pub/b.bin': 'bee', 'pub/s/c.txt': 'sea', 'pub/s/d': 'dee', 'other/x': 'x' });
  // a mirror.defaults beside the package that would exclude everything: interactive mode ignores it
  const prepare = (cwd: string) => {
    writeFileSync(join(cwd, 'mirror.defaults'), 'package=defaults\n\texclude_patt=.\n');
    writeTree(cwd, { 'l2/stale': 'kept: do_deletes is off by default' });
  };
  const b = await runBoth(t, o, '', {
    args: [`-kftp_port=${o.ftp.port}`, '-G', '-s127.0.0.1'],
    files: ['l1', '/pub', '\\.txt$', 'l2', '/pub/s'],
    prepare,
  });
  assert.equal(b.om.run.code, b.pl.run.code, `mirror.pl: ${b.pl.run.stdout}${b.pl.run.stderr}\nomirr: ${b.om.run.stdout}${b.om.run.stderr}`);
  assert.equal(b.om.run.code, 0);
  // Repair: mirror.pl chdirs into each local_dir and never back, so a relative local_dir of
  // the second triple lands inside the first one (l1/l2); omirr takes each against the
  // current directory. Everything else agrees.
  const pl = cwdTree(b.pl.cwd);
  const moved: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(pl)) {
    if (k.startsWith('l1/l2/')) moved[k.slice(3)] = v;
    else if (k !== 'l1/l2') moved[k] = v;
  }
  assert.deepEqual(cwdTree(b.om.cwd), moved, `mirror.pl: ${b.pl.run.stdout}${b.pl.run.stderr}\nomirr: ${b.om.run.stdout}${b.om.run.stderr}`);
  assert.ok(pl['l1/l2/d'], 'mirror.pl put the second triple under the first local_dir');
  const om = treeOf(b.om.cwd);
  assert.equal(om['l1/a.txt']?.sha256, sha('alpha'));
  assert.equal(om['l1/s/c.txt']?.sha256, sha('sea'));
  assert.equal(om['l1/b.bin'], undefined, 'the pattern \\.txt$ leaves b.bin');
  assert.equal(om['l2/d']?.sha256, sha('dee'));
  assert.ok(om['l2/stale']);
});

test('oracle: flags and -k in their order, as mirror.pl reads them: -P then -kget_file=true gets', async (t) => {
  const o = await startOracle(t);
  writeTree(o.remote, { 'pub/a.txt': 'alpha', 'pub/s/c.txt': 'sea' });
  const b = await runBoth(t, o, '', { args: [`-kftp_port=${o.ftp.port}`, '-P', '-kget_file=true', '-s127.0.0.1'], files: ['l1', '/pub'] });
  const said = `mirror.pl: ${b.pl.run.stdout}${b.pl.run.stderr}\nomirr: ${b.om.run.stdout}${b.om.run.stderr}`;
  assert.equal(b.om.run.code, b.pl.run.code, said);
  assert.equal(b.om.run.code, 0, said);
  assert.deepEqual(cwdTree(b.om.cwd), cwdTree(b.pl.cwd), said);
  const om = treeOf(b.om.cwd);
  assert.equal(om['l1/a.txt']?.sha256, sha('alpha'), 'a get: the files of the site arrived');
  assert.equal(om['l1/s/c.txt']?.sha256, sha('sea'));
});

test('oracle: -G refusals die as mirror.pl does (exit 255, nothing made): a local_dir without remote_dir; -p with interactive', async (t) => {
  const o = await startOracle(t);
  writeTree(o.remote, { 'pub/a': 'a' });
  for (const args of [['-G', '-s127.0.0.1', 'l1', '/pub', '.', 'l2'], ['-G', '-pfoo', '-s127.0.0.1', 'l1', '/pub'], ['-P', '-s127.0.0.1', 'l1']]) {
    const b = await runBoth(t, o, '', { args: [`-kftp_port=${o.ftp.port}`, ...args.slice(0, -1)], files: args.slice(-1) });
    assert.equal(b.pl.run.code, 255, args.join(' ') + b.pl.run.stderr);
    assert.equal(b.om.run.code, 255, args.join(' ') + b.om.run.stdout + b.om.run.stderr);
    assert.deepEqual(cwdTree(b.om.cwd), {}, args.join(' '));
    assert.deepEqual(cwdTree(b.pl.cwd), {}, args.join(' '));
  }
});

test('oracle: -P puts local_dir on the FTP site (remote_dir from the command line); the same site tree and hashes as mirror.pl', async (t) => {
  const mirrorDir = preparedMirrorPl(t);
  const sides: Record<string, { site: string; code: number; out: string }> = {};
  for (const who of ['pl', 'om'] as const) {
    const base = tempDir(t);
    const site = join(base, 'site');
    writeTree(site, { same: { content: 'same', mtimeMs: RECENT }, stale: 'stays: do_deletes is off' });
    const ftp = await startVsftpd({ root: site, writable: true });
    t.after(() => ftp.stop());
    const cwd = join(base, 'cwd');
    mkdirSync(cwd);
    writeTree(cwd, { 'up/same': { content: 'same', mtimeMs: T0 }, 'up/new.txt': 'new file', 'up/d/deep': 'deep' });
    const args = [`-kftp_port=${ftp.port}`, `-kremote_user=${ftp.user}`, `-kremote_password=${ftp.password}`, '-P', '-s127.0.0.1', 'up', '/'];
    const r = who === 'pl' ? await runMirrorPl(mirrorDir, args, cwd) : await omirr(['mirror', ...args], { cwd });
    sides[who] = { site, code: r.code ?? -1, out: r.stdout + r.stderr };
  }
  const pl = sides.pl!;
  const om = sides.om!;
  assert.equal(om.code, pl.code, `mirror.pl: ${pl.out}\nomirr: ${om.out}`);
  assert.deepEqual(treeOf(om.site, { modes: false }), treeOf(pl.site, { modes: false }), `mirror.pl: ${pl.out}\nomirr: ${om.out}`);
  const site = treeOf(om.site);
  assert.equal(site['new.txt']?.sha256, sha('new file'));
  assert.equal(site['d/deep']?.sha256, sha('deep'));
  assert.equal(site['stale']?.sha256, sha('stays: do_deletes is off'));
});
