import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MIRROR_KEYWORDS,
  cleanupRegex,
  compilePerlRegex,
  istrue,
  mirrorDefaults,
  parseLimitValue,
  parseModeValue,
} from '../../src/core/mirrorKeywords.js';
import { applyOverrides, parsePackageFiles } from '../../src/core/packageFile.js';
import {
  PackageSettingsError,
  interpretPackage,
  shownSource,
  sourceSpec,
  type InterpretEnv,
} from '../../src/core/mirrorPackage.js';

const PRODUCT_KEYWORDS =
  'package site remote_dir local_dir get_patt exclude_patt local_ignore get_newer get_size_change get_missing max_days max_size force recursive do_deletes delete_patt delete_get_patt delete_excl max_delete_files max_delete_dirs save_deletes save_dir mode_copy file_mode dir_mode user group umask force_times make_bad_symlinks update_log skip comment timeout local_dir_check'.split(
    ' ',
  );

test('every keyword PRODUCT.md lists is implemented', () => {
  for (const k of PRODUCT_KEYWORDS) assert.equal(MIRROR_KEYWORDS[k]?.support, 'yes', k);
});

test('every other keyword is classified: implemented beyond the list, FTP, refused or cosmetic', () => {
  const alsoImplemented = ['hostname', 'update_local', 'chmod', 'get_file', 'name_mappings', 'follow_local_symlinks', ...Object.keys(MIRROR_KEYWORDS).filter((k) => k.startsWith('compress_'))];
  for (const [k, spec] of Object.entries(MIRROR_KEYWORDS)) {
    if (!PRODUCT_KEYWORDS.includes(k) && !alsoImplemented.includes(k)) assert.notEqual(spec.support, 'yes', k);
    if (spec.support === 'refuse') assert.ok(spec.note, `${k} says why it is refused`);
  }
  for (const k of ['remote_user', 'remote_password', 'ftp_port', 'passive_ftp', 'proxy']) {
    assert.equal(MIRROR_KEYWORDS[k]?.support, 'ftp', k);
  }
  // The safety rule: whatever could delete or overwrite local files when ignored is refused.
  for (const k of ['external_mapping', 'text_mode', 'strip_cr', 'ls_fix_mappings', 'algorithm', 'interactive']) {
    assert.equal(MIRROR_KEYWORDS[k]?.support, 'refuse', k);
  }
});

test("mirror's defaults", () => {
  const d = mirrorDefaults();
  const want: Record<string, string> = {
    get_patt: '.', exclude_patt: '', get_newer: '1', get_size_change: '1', get_missing: '1',
    do_deletes: '0', delete_patt: '.', max_delete_files: '10%', max_delete_dirs: '10%',
    save_dir: 'Old', file_mode: '0444', dir_mode: '0755', umask: '07000', force_times: '1',
    recursive: '1', timeout: '120', make_bad_symlinks: '0', mode_copy: '0', local_dir_check: '0',
  };
  for (const [k, v] of Object.entries(want)) assert.equal(d[k], v, k);
});

test('istrue is exactly 1, yes, ok, true (case-sensitive)', () => {
  for (const t of ['1', 'yes', 'ok', 'true']) assert.equal(istrue(t), true, t);
  for (const f of ['0', 'no', 'false', 'TRUE', 'Yes', ' 1', '1 ', '2', '', undefined]) assert.equal(istrue(f), false, String(f));
});

test('regex cleanup: || collapsed, outer | stripped', () => {
  assert.equal(cleanupRegex('|a||b|||c|'), 'a|b|c');
  assert.equal(cleanupRegex('||'), '');
  assert.equal(cleanupRegex('a'), 'a');
});

test('compilePerlRegex: empty is unset, bad throws, Perl anchors translated', () => {
  assert.equal(compilePerlRegex(''), undefined);
  assert.equal(compilePerlRegex('|'), undefined);
  assert.throws(() => compilePerlRegex('(unclosed'));
  const r = compilePerlRegex('\\Apub/.*\\.txt\\z')!;
  assert.ok(r.test('pub/a.txt'));
  assert.ok(!r.test('x/pub/a.txt'));
  assert.ok(compilePerlRegex('(?i)readme')!.test('README'));
});

test('Perl regex translation: POSIX classes, comments, (?x), scoped (?i:...)', () => {
  const d = compilePerlRegex('^v[[:digit:]]+\\.[[:alpha:]_]+$')!;
  assert.ok(d.test('v12.tar_gz'));
  assert.ok(!d.test('vx.tar'), 'a POSIX class is not a set of the letters d, i, g, t, :');
  assert.ok(compilePerlRegex('[[:^digit:]]')!.test('a'));
  assert.ok(!compilePerlRegex('^[[:^digit:]]+$')!.test('1'));
  assert.ok(compilePerlRegex('[^[:space:]]')!.test('x'));
  assert.ok(compilePerlRegex('foo(?#a comment)bar')!.test('foobar'));
  const x = compilePerlRegex('(?x) ^ foo   # the name\n  \\. txt $')!;
  assert.ok(x.test('foo.txt'));
  assert.ok(!x.test('foo .txt'));
  const ci = compilePerlRegex('^(?i:readme)\\.txt$')!;
  assert.ok(ci.test('ReadMe.txt'));
  assert.ok(!ci.test('ReadMe.TXT'), '(?i:...) scopes to its group');
  assert.ok(compilePerlRegex('^(?i:[a-c]x)$')!.test('BX'));
  assert.ok(compilePerlRegex('\\Qa.b\\E$')!.test('a.b'));
  assert.ok(!compilePerlRegex('\\Qa.b\\E$')!.test('axb'));
  assert.throws(() => compilePerlRegex('a(?i)b'), /mode switch/);
  assert.throws(() => compilePerlRegex('[[:nope:]]'), /unknown POSIX class/);
});

test('mode values: leading 0 is octal, else decimal (Perl oct)', () => {
  assert.equal(parseModeValue('0444'), 0o444);
  assert.equal(parseModeValue('0'), 0);
  assert.equal(parseModeValue('420'), 420);
  assert.equal(parseModeValue('0x1'), undefined);
  assert.equal(parseModeValue('rw'), undefined);
});

test('limit values: N% or a count', () => {
  assert.deepEqual(parseLimitValue('10%'), { percent: 10 });
  assert.deepEqual(parseLimitValue('0%'), { percent: 0 });
  assert.equal(parseLimitValue('25'), 25);
  assert.equal(parseLimitValue('x'), undefined);
});

// --- interpretPackage: values -> what the engine runs

// This host, as the tests see it: gzip installed, compress (ncompress) not.
const ENV: InterpretEnv = { nowMs: 1_700_000_000_000, findProgram: (n) => (n === 'gzip' ? '/usr/bin/gzip' : undefined) };
const pkgOf = (body: string) => parsePackageFiles([{ file: 'pf', text: `package=p\n${body}` }]).packages[0]!;
const job = (body: string, env: InterpretEnv = ENV) => interpretPackage(pkgOf(body), env);
const BASE = 'site=/src\nremote_dir=pub\nlocal_dir=/dst\n';

test('defaults give mirror rules, no deletes, file_mode 0444, dir_mode 0755, umask 07000', () => {
  const j = job(BASE);
  assert.equal(j.source, '/src/pub');
  assert.equal(j.localDir, '/dst');
  assert.equal(j.plan.getNewer, true);
  assert.equal(j.plan.getSizeChange, true);
  assert.equal(j.plan.delete, false);
  assert.equal(j.plan.fileMode, 0o444);
  assert.equal(j.plan.dirMode, 0o755);
  assert.equal(j.plan.umask, 0o7000);
  assert.deepEqual(j.plan.maxDeleteFiles, { percent: 10 });
  assert.equal(j.plan.setTimes, true);
  assert.equal(j.recursive, true);
  assert.equal(j.timeoutSec, 120);
  assert.equal(j.saveDir, undefined);
  assert.deepEqual(j.warnings, []);
});

test('get_patt / exclude_patt / local_ignore / delete_* become matchers', () => {
  const j = job(`${BASE}get_patt=\\.txt$\nexclude_patt=^tmp/\nlocal_ignore=(^|/)LOCAL$\ndelete_excl=keep\n`);
  assert.ok(j.plan.include!('a.txt', 'file'));
  assert.ok(!j.plan.include!('a.bin', 'file'));
  assert.ok(j.remoteExclude!('tmp/x'), 'exclude_patt filters the remote listing');
  assert.ok(!j.plan.exclude!('tmp/x', 'file'), 'but not the local scan: stale excluded local files are reclaimed, as mirror does');
  assert.ok(j.remoteExclude!('x/LOCAL'), 'local_ignore is ORed into exclude_patt');
  assert.ok(j.plan.exclude!('x/LOCAL', 'file'), 'and hides local paths');
  assert.ok(!j.remoteExclude!('x/a'));
  assert.ok(j.plan.deletable!('x', 'file'));
  assert.ok(!j.plan.deletable!('x/keep.me', 'file'));
  const g = job(`${BASE}get_patt=\\.txt$\ndelete_get_patt=yes\n`);
  assert.ok(g.plan.deletable!('a.txt', 'file'));
  assert.ok(!g.plan.deletable!('a.bin', 'file'));
  const dp = job(`${BASE}delete_patt=\\.old$\n`);
  assert.ok(dp.plan.deletable!('a.old', 'file'));
  assert.ok(!dp.plan.deletable!('a', 'file'));
});

test('a bad regex is "Problem with regexp" naming file:line', () => {
  assert.throws(() => job(`${BASE}exclude_patt=(oops\n`), (e: unknown) =>
    e instanceof PackageSettingsError && /^pf:5: Problem with regexp exclude_patt/.test(e.message));
  // Even in keywords omirr does not implement, as mirror test-compiles them all.
  assert.throws(() => job(`${BASE}compress_patt=[\n`), /Problem with regexp compress_patt/);
});

test('regex cleanup applies before compiling (exclude_patt+|x idiom from an empty default)', () => {
  const j = job(`${BASE}exclude_patt+|\\.o$\n`);
  assert.ok(j.remoteExclude!('a.o'));
  assert.ok(!j.remoteExclude!('a.c'));
});

test('mode_copy drops fileMode (directories keep dir_mode, as mirror); booleans follow istrue', () => {
  const j = job(`${BASE}mode_copy=true\ndo_deletes=yes\nforce=ok\nget_newer=false\nforce_times=off\nrecursive=TRUE\n`);
  assert.equal(j.plan.fileMode, undefined);
  assert.equal(j.plan.dirMode, 0o755);
  assert.equal(j.plan.fixModes, false);
  assert.equal(j.plan.delete, true);
  assert.equal(j.plan.force, true);
  assert.equal(j.plan.getNewer, false);
  assert.equal(j.plan.setTimes, false);
  assert.equal(j.recursive, false, 'TRUE is not true for mirror');
});

test('max_days and max_size', () => {
  const j = job(`${BASE}max_days=2\nmax_size=1000\n`);
  assert.equal(j.plan.notOlderThanMs, ENV.nowMs - 2 * 86_400_000);
  assert.equal(j.plan.maxSize, 1000);
  assert.throws(() => job(`${BASE}max_days=two\n`), /max_days: expected a whole number/);
});

test('file_mode / dir_mode / umask parsing and errors', () => {
  const j = job(`${BASE}file_mode=0640\ndir_mode=0750\numask=022\n`);
  assert.equal(j.plan.fileMode, 0o640);
  assert.equal(j.plan.dirMode, 0o750);
  assert.equal(j.plan.umask, 0o22);
  assert.throws(() => job(`${BASE}file_mode=rw-r--r--\n`), /file_mode: expected permission bits/);
});

test('max_delete_* limits', () => {
  const j = job(`${BASE}max_delete_files=5\nmax_delete_dirs=50%\n`);
  assert.equal(j.plan.maxDeleteFiles, 5);
  assert.deepEqual(j.plan.maxDeleteDirs, { percent: 50 });
  assert.throws(() => job(`${BASE}max_delete_files=lots\n`), /expected N% or a count/);
});

test('save_deletes, save_dir, update_log, comment, local_dir_check, timeout', () => {
  const j = job(`${BASE}save_deletes=true\nsave_dir=Attic\nupdate_log=/var/log/u\ncomment=hi\nlocal_dir_check=1\ntimeout=5\n`);
  assert.equal(j.saveDir, 'Attic');
  assert.equal(j.updateLog, '/var/log/u');
  assert.equal(j.comment, 'hi');
  assert.equal(j.localDirCheck, true);
  assert.equal(j.timeoutSec, 5);
  assert.equal(job(`${BASE}save_deletes=true\n`).saveDir, 'Old');
});

test('user/group: chown only when both are set; numbers are ids; names looked up', () => {
  assert.equal(job(`${BASE}user=10\n`).chown, undefined);
  assert.deepEqual(job(`${BASE}user=10\ngroup=20\n`).chown, { uid: 10, gid: 20 });
  const env: InterpretEnv = { ...ENV, lookupUser: (n) => (n === 'ftp' ? 14 : undefined), lookupGroup: (n) => (n === 'ftp' ? 50 : undefined) };
  assert.deepEqual(job(`${BASE}user=ftp\ngroup=ftp\n`, env).chown, { uid: 14, gid: 50 });
  assert.throws(() => job(`${BASE}user=nobody-here\ngroup=ftp\n`, env), /unknown user/);
});

test('skip= skips with its reason; missing required fields are bad settings', () => {
  assert.equal(job(`${BASE}skip=upstream is down\n`).skipReason, 'upstream is down');
  // mirror checks the required fields before skip= (exit 2 "Insufficient details").
  assert.throws(() => job('skip=x\n'), /site, remote_dir, local_dir must be set/);
  assert.throws(() => job('site=/s\n'), /remote_dir, local_dir must be set/);
});

test('a package whose site is this host is skipped unless force', () => {
  const env = { ...ENV, hostname: 'me.example' };
  assert.match(job('site=me.example\nremote_dir=x\nlocal_dir=/d\n', env).skipReason!, /this host/);
  assert.equal(job('site=me.example\nremote_dir=x\nlocal_dir=/d\nforce=1\n', env).skipReason, undefined);
});

test('FTP-only and cosmetic keywords warn only when set away from the default', () => {
  assert.deepEqual(job(`${BASE}remote_user=anonymous\n`).warnings, []);
  const w = job(`${BASE}passive_ftp=true\nmail_to=root\n`).warnings;
  assert.equal(w.length, 2);
  assert.match(w[0]!, /^pf:5: passive_ftp only applies to FTP sites/);
  assert.match(w[1]!, /^pf:6: mail_to is not implemented by omirr's mirror; ignored/);
});

test('the safety rule: a keyword whose absence could delete or overwrite local files stops the package with file:line', () => {
  const cases: Array<[string, RegExp]> = [
    ['get_file=false', /^pf:5: get_file=false: not implemented by omirr: get_file=false is upload mode/m],
    ["get_file='0'", /^pf:5: get_file='0'/m],
    ['name_mappings=s:old:new:e', /^pf:5: name_mappings=s:old:new:e: the s\/\/\/ flag\(s\) 'e' are not supported/m],
    ['name_mappings=$_ = lc', /^pf:5: name_mappings=.*Perl code omirr does not run/m],
    ['name_mappings=s/x/$HOME/', /^pf:5: name_mappings=.*variable \$HOME/m],
    ['compress_patt=\\.txt$', /^pf:5: compress_patt=\\.txt\$: compress_prog=compress: the compress program \(\.Z\) is not installed/m],
    ['compress_prog=compress\ncompress_patt=.', /^pf:5: compress_prog=compress: the compress program/m],
    ['compress_prog=/no/such/zip\ncompress_patt=.', /^pf:5: compress_prog=\/no\/such\/zip: \/no\/such\/zip is not an executable program/m],
    ['compress_prog=gzip\ncompress_conv_expr=s/x/y/e', /^pf:6: compress_conv_expr=/m],
    ['text_mode=yes', /^pf:5: text_mode=yes/m],
    ['strip_cr=1', /strip_cr/],
    ['ls_fix_mappings=s:^x/::', /ls_fix_mappings/],
    ['external_mapping=/etc/map.pl', /external_mapping/],
    ['algorithm=1', /algorithm=1/],
    ['delete_source=true', /delete_source/],
    ['split_max=1m\nsplit_patt=.', /split_patt/],
  ];
  for (const [line, re] of cases) {
    assert.throws(() => job(`${BASE}${line}\n`), (e: unknown) => e instanceof PackageSettingsError && re.test(e.message) && /nothing was touched/.test(e.message), line);
  }
  // Set to what they mean by default, or made harmless: no refusal.
  for (const line of ['get_file=1', 'compress_patt=', 'compress_prog=\ncompress_patt=.', 'compress_prog=gzip\ncompress_conv_patt=', 'compress_prog=gzip\ncompress_patt=.', 'name_mappings=s:old:new:', 'follow_local_symlinks=.', 'algorithm=0', 'split_max=1m', 'text_mode=0']) {
    assert.doesNotThrow(() => job(`${BASE}${line}\n`), line);
  }
  // A skipped package is not refused: nothing of it runs.
  assert.equal(job(`${BASE}get_file=false\nskip=later\n`).skipReason, 'later');
});

test("booleans as Perl's eval sees them (mirror evals &istrue( VALUE ))", () => {
  const t = (v: string): boolean => job(`${BASE}do_deletes=${v}\n`).plan.delete === true;
  for (const v of ['true ', "'yes'", '"ok"', '1', '01', '1.0', '0x1', '+1', ' yes', 'true\t']) assert.equal(t(v), true, JSON.stringify(v));
  for (const v of ['0', '""', '"0"', '', 'True', 'on', '2', 'false', '1_0', "'true '"]) assert.equal(t(v), false, JSON.stringify(v));
  // Perl code, not a value: mirror's eval fails and keeps the previous package's value. Refused.
  for (const v of ['yes # deletes on', 'no', 'ok;', 'time', '1+0', '"$x"']) {
    assert.throws(() => job(`${BASE}do_deletes=${v}\n`), (e: unknown) => e instanceof PackageSettingsError && /^pf:5: do_deletes: .*write 1 or 0/.test(e.message), v);
  }
});

test('other values are single-quoted Perl strings: \\\\ is one backslash; a broken quote is refused', () => {
  assert.ok(job(`${BASE}exclude_patt=a\\\\b\n`).remoteExclude!('a\\b'));
  assert.equal(job(`${BASE}comment=it's fine\n`).comment, "it's fine");
  assert.throws(() => job(`${BASE}comment='quoted'\n`), /pf:5: comment: .*quoting/);
  assert.throws(() => job(`${BASE}comment=trailing\\\n`), /quoting/);
});

test('save_deletes without do_deletes moves entries aside (mirror: do_deletes || save_deletes)', () => {
  const j = job(`${BASE}save_deletes=1\n`);
  assert.equal(j.plan.delete, true);
  assert.equal(j.saveDir, 'Old');
});

test('chmod false: modes are not set after a transfer (created modes, under umask)', () => {
  const j = job(`${BASE}chmod=0\nmode_copy=1\n`);
  assert.equal(j.plan.fixModes, false);
  assert.equal(j.plan.fileMode, 0o666);
  assert.equal(j.plan.dirMode, 0o755);
  assert.equal(job(`${BASE}chmod=false\n`).plan.fileMode, 0o444, 'chmod is a raw Perl string: "false" is true');
});

test('hostname= replaces this host for the is-this-host test', () => {
  assert.match(job('site=far.example\nremote_dir=x\nlocal_dir=/d\nhostname=far.example\n', { ...ENV, hostname: 'me' }).skipReason!, /this host/);
});

test('keywords before the first package= belong to the first package only', () => {
  const { packages } = parsePackageFiles([{ file: 'f', text: 'do_deletes=1\nexclude_patt+|x\npackage=a\nsite=/s\npackage=b\n' }]);
  assert.equal(packages[0]!.values.do_deletes, '1');
  assert.equal(packages[0]!.values.exclude_patt, '|x');
  assert.deepEqual(packages[0]!.locs.do_deletes, { file: 'f', line: 1 });
  assert.equal(packages[1]!.values.do_deletes, '0', 'the next package starts from the defaults');
  assert.equal(parsePackageFiles([{ file: 'f', text: 'do_deletes=1\n' }]).packages.length, 0, 'no package= line: nothing runs');
});

test('-k booleans are istrue of the raw text (command_line_override), not Perl-evaluated', () => {
  const pkg = pkgOf(BASE);
  const a = applyOverrides(pkg, { do_deletes: 'true' }).pkg;
  assert.equal(interpretPackage(a, ENV).plan.delete, true);
  const b = applyOverrides(pkg, { do_deletes: "'yes'" }).pkg;
  assert.equal(interpretPackage(b, ENV).plan.delete, false);
});

test('<file values are read at run time (first line)', () => {
  const env: InterpretEnv = { ...ENV, readFirstLine: (f) => (f === '/etc/dir' ? 'pub/from-file' : '') };
  assert.equal(job('site=/s\nremote_dir=</etc/dir\nlocal_dir=/d\n', env).source, '/s/pub/from-file');
  const bad: InterpretEnv = { ...ENV, readFirstLine: () => { throw new Error('ENOENT'); } };
  assert.throws(() => job('site=/s\nremote_dir=</nope\nlocal_dir=/d\n', bad), /pf:3: remote_dir: cannot read \/nope: ENOENT/);
});

test("the report's header shows an FTP site's ftp_port when it is not 21", () => {
  assert.equal(shownSource('ftp://127.0.0.1/', 2121), 'ftp://127.0.0.1:2121/');
  assert.equal(shownSource('ftp://127.0.0.1/pub', 21), 'ftp://127.0.0.1/pub');
  assert.equal(shownSource('ftp://127.0.0.1/pub', undefined), 'ftp://127.0.0.1/pub');
  // the port given apart wins over the URL's, as the driver dials it
  assert.equal(shownSource('ftps://u:p@ftp.example.org:990/base', 2121), 'ftps://u:p@ftp.example.org:2121/base');
  assert.equal(shownSource('ftp://[::1]/x', 2121), 'ftp://[::1]:2121/x');
  assert.equal(shownSource('ftp://h', 2121), 'ftp://h:2121');
  assert.equal(shownSource('sftp://h/x', 2121), 'sftp://h/x');
});

test('site= forms become source specs', () => {
  assert.equal(sourceSpec('/srv/up', '/pub/x'), '/srv/up/pub/x');
  assert.equal(sourceSpec('./up', 'pub'), 'up/pub');
  assert.equal(sourceSpec('/srv/up', ''), '/srv/up');
  // a bare host is FTP, as mirror 2.9 wrote it (port 21 unless given)
  assert.equal(sourceSpec('mirror.example.org', '/pub'), 'ftp://mirror.example.org/pub');
  assert.equal(sourceSpec('mirror.example.org:9000', 'pub'), 'ftp://mirror.example.org:9000/pub');
  assert.equal(sourceSpec('ftp://ftp.example.org', '/pub'), 'ftp://ftp.example.org/pub');
  assert.equal(sourceSpec('ftps://u@ftp.example.org:990/base/', 'pub/x'), 'ftps://u@ftp.example.org:990/base/pub/x');
  assert.equal(sourceSpec('https://example.org/dist', ''), 'https://example.org/dist/');
  assert.equal(sourceSpec('sftp://u@h:2222', '/srv/x'), 'sftp://u@h:2222/srv/x');
  assert.equal(sourceSpec('omirr://h', 'tree/sub'), 'omirr://h:7878/tree/sub');
  assert.equal(sourceSpec('omirr://h:1234/', 'tree'), 'omirr://h:1234/tree');
  assert.equal(sourceSpec('ssh://u@h:2222', '/srv/x'), 'ssh://u@h:2222/srv/x');
  assert.throws(() => sourceSpec('gopher://example.org', '/pub'), /expected a host name/);
  assert.throws(() => sourceSpec('a b', '/pub'), /expected a host name/);
});

test('FTP sites: the connection keywords reach the driver; the ones it does not honour are warned about', () => {
  const j = job('site=ftp.example.org\nremote_dir=/pub\nlocal_dir=/d\nremote_user=me\nremote_password=pw\nftp_port=2121\npassive_ftp=true\nrecurse_hard=1\nflags_recursive=-lRatL\nproxy=1\n');
  assert.equal(j.source, 'ftp://ftp.example.org/pub');
  assert.deepEqual(
    { ...j.ftp, tzOffsetMin: 0 },
    { user: 'me', password: 'pw', port: 2121, passive: true, timeoutSec: 120, remoteFs: 'auto', listing: 'walk', listFlags: '-lRatL', tzOffsetMin: 0 },
  );
  assert.deepEqual(j.warnings, ["pf:11: proxy is not implemented by omirr's FTP driver; ignored (it changes no local file)"]);
  assert.throws(() => job('site=h\nremote_dir=/pub\nlocal_dir=/d\nremote_fs=vms\n'), /pf:5: remote_fs=vms: not implemented by omirr/);
  assert.equal(job('site=h\nremote_dir=/pub\nlocal_dir=/d\nremote_fs=dosftp\n').ftp!.remoteFs, 'dos');
});

test('values inherited from a package=defaults block count as set there: ftp_port reaches the driver, errors name the defaults line', () => {
  const defs = 'package=defaults\nftp_port=2121\ndo_deletes=yes # on\n';
  const { packages } = parsePackageFiles([{ file: 'mirror.defaults', text: defs }, { file: 'pk', text: 'package=p\nsite=h\nremote_dir=/x\nlocal_dir=/d\n' }]);
  assert.throws(() => interpretPackage(packages[0]!, ENV), /mirror\.defaults:3: do_deletes:/);
  const ok = parsePackageFiles([{ file: 'mirror.defaults', text: 'package=defaults\nftp_port=2121\n' }, { file: 'pk', text: 'package=p\nsite=h\nremote_dir=/x\nlocal_dir=/d\n' }]);
  assert.equal(interpretPackage(ok.packages[0]!, ENV).ftp!.port, 2121);
});

test('compress_prog: the shorthands name the program and the suffix; compress_suffix set after compress_prog wins', () => {
  const gz = job(`${BASE}compress_prog=gzip\ncompress_patt=.\n`);
  assert.equal(gz.compressCommand, '/usr/bin/gzip -9');
  assert.equal(gz.names?.compress?.suffix, 'gz');
  assert.equal(gz.convertCommand, '/usr/bin/gzip -dc | /usr/bin/gzip -9', 'compress_conv_patt is on by default with gzip');
  assert.equal(job(`${BASE}compress_prog=gzip\ncompress_suffix=z\ncompress_patt=.\n`).names?.compress?.suffix, 'z');
  assert.equal(job(`${BASE}compress_suffix=z\ncompress_prog=gzip\ncompress_patt=.\n`).names?.compress?.suffix, 'gz');
  const withCompress: InterpretEnv = { ...ENV, findProgram: (n) => `/usr/bin/${n}` };
  const z = job(`${BASE}compress_patt=.\n`, withCompress);
  assert.equal(z.compressCommand, '/usr/bin/compress');
  assert.equal(z.names?.compress?.suffix, 'Z');
  assert.equal(z.names?.convert, undefined, 'no conversion unless the suffix is gz');
  // no compress_prog: mirror resets compress_patt, with its message
  const none = job(`${BASE}compress_prog=\ncompress_patt=.\n`);
  assert.equal(none.names, undefined);
  assert.match(none.warnings.join('\n'), /compress_patt set but no compress_prog so compress_patt reset to nothing/);
  // upload mode: refused
  assert.throws(() => job(`site=ftp.example.org\nremote_dir=pub\nlocal_dir=/dst\nget_file=false\ncompress_prog=gzip\ncompress_patt=.\n`), /compress_patt in upload mode/);
  assert.throws(() => job(`site=ftp.example.org\nremote_dir=pub\nlocal_dir=/dst\nget_file=false\nname_mappings=s:a:b:\n`), /name_mappings in upload mode/);
});

test('name_mappings and follow_local_symlinks reach the job', () => {
  const j = job(`${BASE}name_mappings=s:^old/:new/:\nfollow_local_symlinks=^linked$\n`);
  assert.equal(j.names?.map?.('old/x'), 'new/x');
  assert.ok(j.followLocal?.test('linked'));
});
