// FTP listing parsers: Unix `ls -l` lines (modes, links, names with spaces, both date
// forms and their precision, the year of a recent date), DOS/IIS lines, MLSD facts, ls -lR
// sections, and hostile names that must never become paths outside the tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDosLine, parseListing, parseMlsdLine, parseUnixLine, parseUnixMode, unlistedDirs } from '../../src/core/ftpListing.js';

const NOW = Date.UTC(2026, 11, 6, 0, 30); // 2026-12-06 00:30 UTC
const O = { nowMs: NOW };

test('Unix modes: rwx, setuid/setgid/sticky with and without x', () => {
  assert.equal(parseUnixMode('rw-r--r--'), 0o644);
  assert.equal(parseUnixMode('rwxr-x---'), 0o750);
  assert.equal(parseUnixMode('rwsr-xr-x'), 0o4755);
  assert.equal(parseUnixMode('rwSr--r--'), 0o4644);
  assert.equal(parseUnixMode('rwxr-s---'), 0o2750);
  assert.equal(parseUnixMode('rwxrwxrwt'), 0o1777);
  assert.equal(parseUnixMode('rwxrwxrwT'), 0o1776);
});

test('Unix lines: vsftpd, with owner names, without group, numeric ids, spaces in names, symlinks', () => {
  const f = parseUnixLine('-rw-r--r--    1 0        0            1234 Dec 05 21:20 name with  spaces.txt', O)!;
  assert.deepEqual(
    { kind: f.kind, name: f.name, size: f.size, mode: f.mode, mtimeMs: f.mtimeMs, precision: f.precision },
    { kind: 'file', name: 'name with  spaces.txt', size: 1234, mode: 0o644, mtimeMs: Date.UTC(2026, 11, 5, 21, 20), precision: 60_000 },
  );
  const owner = parseUnixLine('-rw-r--r--   1 ftp      ftp         99 Jan  1  2020 old.tar.gz', O)!;
  assert.equal(owner.size, 99);
  assert.equal(owner.mtimeMs, Date.UTC(2020, 0, 1));
  assert.equal(owner.precision, 86_400_000);
  const noGroup = parseUnixLine('-rw-r--r--   1 ftp         5 Mar  3 10:00 x', O)!;
  assert.equal(noGroup.size, 5);
  const numericGroup = parseUnixLine('-rw-r--r--   1 1000 1000   7 Mar  3 10:00 1000', O)!;
  assert.equal(numericGroup.size, 7);
  assert.equal(numericGroup.name, '1000');
  const link = parseUnixLine('lrwxrwxrwx    1 0        0               3 Dec 06 00:09 lnk -> a/f', O)!;
  assert.equal(link.kind, 'symlink');
  assert.equal(link.name, 'lnk');
  assert.equal(link.target, 'a/f');
  assert.equal(link.size, 0);
  const dir = parseUnixLine('drwxr-xr-x    3 0        0            4096 Dec 06 00:09 a', O)!;
  assert.equal(dir.kind, 'dir');
  assert.equal(dir.size, 0);
  const dev = parseUnixLine('crw-rw-rw-    1 0        0          1,   3 Dec 06 00:09 null', O);
  assert.equal(dev?.kind, 'other', 'a device is neither file, directory nor symlink (reported, not mirrored)');
  const iso = parseUnixLine('-rw-r--r-- 1 u g 10 2024-02-29 13:45 leap', O)!;
  assert.equal(iso.mtimeMs, Date.UTC(2024, 1, 29, 13, 45));
  assert.equal(parseUnixLine('total 12', O), undefined);
  assert.equal(parseUnixLine('garbage line', O), undefined);
});

test('Unix dates without a year: the latest year not more than a day ahead of now', () => {
  // Dec 5 is in the past this year; Dec 7 would be more than a day ahead: last year
  assert.equal(parseUnixLine('-rw-r--r-- 1 a b 1 Dec  5 10:00 x', O)!.mtimeMs, Date.UTC(2026, 11, 5, 10));
  assert.equal(parseUnixLine('-rw-r--r-- 1 a b 1 Dec  8 10:00 x', O)!.mtimeMs, Date.UTC(2025, 11, 8, 10));
  // a clock a few hours ahead on the server: still this year
  assert.equal(parseUnixLine('-rw-r--r-- 1 a b 1 Dec  6 12:00 x', O)!.mtimeMs, Date.UTC(2026, 11, 6, 12));
  // a server listing local time east of UTC
  assert.equal(parseUnixLine('-rw-r--r-- 1 a b 1 Dec  5 10:00 x', { nowMs: NOW, tzOffsetMin: 120 })!.mtimeMs, Date.UTC(2026, 11, 5, 8));
});

test('DOS lines: <DIR>, sizes, AM/PM, 2- and 4-digit years', () => {
  const d = parseDosLine('12-05-26  01:23PM       <DIR>          pub dir', O)!;
  assert.equal(d.kind, 'dir');
  assert.equal(d.name, 'pub dir');
  assert.equal(d.mtimeMs, Date.UTC(2026, 11, 5, 13, 23));
  const f = parseDosLine('01-02-98  12:05AM                 1234 README.TXT', O)!;
  assert.equal(f.kind, 'file');
  assert.equal(f.size, 1234);
  assert.equal(f.mtimeMs, Date.UTC(1998, 0, 2, 0, 5));
  assert.equal(f.precision, 60_000);
  const y4 = parseDosLine('07-04-2025  17:00   99 a.b', O)!;
  assert.equal(y4.mtimeMs, Date.UTC(2025, 6, 4, 17));
  assert.equal(parseDosLine('13-45-26  01:23PM  1 bad-date', O), undefined);
});

test('MLSD facts: type, size, modify (seconds and fractions), unix.mode; cdir and pdir skipped', () => {
  const f = parseMlsdLine('type=file;size=42;modify=20261205212000;unix.mode=0640; a file')!;
  assert.deepEqual(
    { kind: f.kind, name: f.name, size: f.size, mode: f.mode, mtimeMs: f.mtimeMs, precision: f.precision },
    { kind: 'file', name: 'a file', size: 42, mode: 0o640, mtimeMs: Date.UTC(2026, 11, 5, 21, 20), precision: 1000 },
  );
  assert.equal(parseMlsdLine('type=file;size=1;modify=20261205212000.5; x')!.mtimeMs, Date.UTC(2026, 11, 5, 21, 20, 0, 500));
  assert.equal(parseMlsdLine('type=dir;modify=20261205212000; sub')!.kind, 'dir');
  assert.equal(parseMlsdLine('type=cdir;modify=20261205212000; .'), undefined);
  assert.equal(parseMlsdLine('type=pdir;modify=20261205212000; ..'), undefined);
  assert.equal(parseMlsdLine('type=OS.unix=slink:/etc/x;modify=20261205212000; l')!.kind, 'symlink');
});

test('ls -lR: sections become paths; ., .. and total lines are skipped', () => {
  const text = [
    '.:',
    'total 8',
    'drwxr-xr-x    3 0        0            4096 Dec 06 00:09 .',
    'drwxr-xr-x    3 0        0            4096 Dec 06 00:09 ..',
    'drwxr-xr-x    3 0        0            4096 Dec 06 00:09 a',
    '-rw-r--r--    1 0        0               2 Dec 06 00:09 top',
    '',
    './a:',
    'drwxr-xr-x    2 0        0            4096 Dec 06 00:09 b c',
    '-rw-r--r--    1 0        0               3 Dec 06 00:04 f',
    '',
    './a/b c:',
    '-rw-r--r--    1 0        0               2 Dec 06 00:09 g',
    '',
  ].join('\r\n');
  const p = parseListing(text, '', 'auto', O);
  assert.deepEqual(p.unparsed, []);
  assert.equal(p.sawSections, true);
  assert.deepEqual(p.entries.map((e) => e.path), ['a', 'top', 'a/b c', 'a/f', 'a/b c/g']);
  // ls-lR files name sections with absolute paths; those outside the tree are dropped
  const abs = parseListing(
    ['/pub:', '-rw-r--r-- 1 a b 1 Dec  5 10:00 x', '', '/etc:', '-rw-r--r-- 1 a b 1 Dec  5 10:00 passwd', '', '/pub/sub:', '-rw-r--r-- 1 a b 1 Dec  5 10:00 y'].join('\n'),
    '',
    'unix',
    { ...O, absRoot: '/pub' },
  );
  assert.deepEqual(abs.entries.map((e) => e.path), ['x', 'sub/y']);
});

test('hostile names never leave the tree: slashes, .., and section headers that climb', () => {
  const text = [
    '-rw-r--r-- 1 a b 1 Dec  5 10:00 ../../etc/passwd',
    '-rw-r--r-- 1 a b 1 Dec  5 10:00 ok',
    '',
    '../..:',
    '-rw-r--r-- 1 a b 1 Dec  5 10:00 escaped',
    '',
    './x/../..:',
    '-rw-r--r-- 1 a b 1 Dec  5 10:00 escaped2',
  ].join('\n');
  const p = parseListing(text, '', 'unix', O);
  assert.deepEqual(p.entries.map((e) => e.path), ['ok']);
  assert.equal(p.unparsed.length, 1, 'the name with slashes is reported, not used');
});

test('unparsable lines are reported (the driver refuses such a listing rather than see an empty directory)', () => {
  const p = parseListing('VMS-style: FOO.TXT;1  12/24  5-DEC-2026 10:00\n', '', 'auto', O);
  assert.equal(p.entries.length, 0);
  assert.equal(p.unparsed.length, 1);
});

test('unlistedDirs: a recursive listing\'s directories without a section of their own (unreadable), not the empty ones', () => {
  const text = [
    '.:',
    'drwxr-xr-x    5 0        0            4096 Dec 06 10:25 .',
    'drwxr-xr-x    2 0        0            4096 Dec 06 10:25 empty',
    'drwx------    2 0        0            4096 Dec 06 10:25 locked',
    'drwxr-xr-x    3 0        0            4096 Dec 06 10:25 pub',
    '',
    './empty:',
    'drwxr-xr-x    2 0        0            4096 Dec 06 10:25 .',
    'drwxr-xr-x    5 0        0            4096 Dec 06 10:25 ..',
    '',
    './pub:',
    'drwx------    2 0        0            4096 Dec 06 10:25 inner',
    '',
  ].join('\r\n');
  const p = parseListing(text, '', 'unix', { nowMs: Date.UTC(2026, 11, 6), tzOffsetMin: 0 });
  assert.deepEqual(unlistedDirs(p).sort(), ['locked', 'pub/inner']);
  // a listing without sections (one directory, or a server that ignores -R) says nothing
  const flat = parseListing('drwxr-xr-x    2 0        0            4096 Dec 06 10:25 sub\r\n', '', 'unix', { nowMs: Date.UTC(2026, 11, 6), tzOffsetMin: 0 });
  assert.deepEqual(unlistedDirs(flat), []);
});
