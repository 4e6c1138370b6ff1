// mm.status: the original's line format, verbatim round trips, no line ever lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseStatusFile,
  parseStatusLine,
  formatStatusFile,
  findStatus,
  upsertStatus,
  applyJobStart,
  applyJobEnd,
  applyPid,
  type StatusLine,
} from '../../src/core/mmStatus.js';

test('record lines parse like mm.pl', () => {
  const cases: Array<[string, ReturnType<typeof parseStatusLine>]> = [
    ['ftp.pld.org.pl:i386 915148800 0 u 1234', { sitePackage: 'ftp.pld.org.pl:i386', lastTried: 915148800, status: 0, locked: false, pid: 1234 }],
    ['a:b 1 256 l 7', { sitePackage: 'a:b', lastTried: 1, status: 256, locked: true, pid: 7 }],
    ['a:b c  10\t0   lx 7', { sitePackage: 'a:b c', lastTried: 10, status: 0, locked: true, pid: 7 }], // one extra char tolerated
    ['a:b:c 1 2 u 3', { sitePackage: 'a:b:c', lastTried: 1, status: 2, locked: false, pid: 3 }],
    ['a:b 1 0 u 5\r', { sitePackage: 'a:b', lastTried: 1, status: 0, locked: false, pid: 5 }],
    ['a:b 1 0 lxx 5', undefined], // two extra characters
    ['a:b 1 0 x 5', undefined],
    ['a:b 1 0 u', undefined], // the original wrote this for a job that ended with no record
    ['a:b 1 0 u -1', undefined],
    ['ab 1 0 u 5', undefined],
    ['a:b 1 0 u 5 ', undefined],
    ['', undefined],
    ['   ', undefined],
  ];
  for (const [line, want] of cases) assert.deepEqual(parseStatusLine(line), want, JSON.stringify(line));
});

test('round trip keeps every byte: odd spacing, lx flags, blank and garbage lines', () => {
  const texts = [
    '',
    'a:b 1 0 u 5\n',
    'a:b   1\t0  lx  5\nc:d 2 256 u 6\n',
    'a:b 1 0 u 5\n\nc:d 2 0 u 6\n', // the original stopped reading at the blank line
    'a:b 1 0 u 5\ngarbage here\nc:d 2 0 u 6\n', // ... and at garbage, losing c:d
    'a:b 1 0 u 5\r\nc:d 2 0 u 6\r\n',
    'trunc:ated 12\nx:y 3 0 u 4\n',
  ];
  for (const t of texts) assert.equal(formatStatusFile(parseStatusFile(t)), t, JSON.stringify(t));
  // a missing final newline is added
  assert.equal(formatStatusFile(parseStatusFile('a:b 1 0 u 5')), 'a:b 1 0 u 5\n');
});

test('a truncated or garbage line never loses the lines after it', () => {
  const text = 'a:b 1 0 u 5\na:c 12\n\n\u0000\u0000junk\nx:y 3 0 u 4\n';
  const lines = parseStatusFile(text);
  assert.deepEqual(findStatus(lines, 'x:y'), { sitePackage: 'x:y', lastTried: 3, status: 0, locked: false, pid: 4 });
  const after = applyJobEnd(lines, 'x:y', 100, 0);
  assert.equal(formatStatusFile(after), 'a:b 1 0 u 5\na:c 12\n\n\u0000\u0000junk\nx:y 100 0 u 4\n');
});

test('formatting: changed records canonical, untouched ones verbatim, raw lines verbatim', () => {
  const lines = parseStatusFile('a:b   1 0 ux 5\nc:d  2 0 u 6\n# note\n');
  const updated = upsertStatus(lines, { sitePackage: 'c:d', lastTried: 9, status: 512, locked: true, pid: 77 });
  assert.equal(formatStatusFile(updated), 'a:b   1 0 ux 5\nc:d 9 512 l 77\n# note\n');
  // the input list is not changed
  assert.equal(formatStatusFile(lines), 'a:b   1 0 ux 5\nc:d  2 0 u 6\n# note\n');
  // a record mutated in place by a caller is written canonically, not from its old text
  const rec = findStatus(lines, 'a:b')!;
  rec.pid = 8;
  assert.equal(formatStatusFile(lines).split('\n')[0], 'a:b 1 0 u 8');
  // lines built by hand format canonically
  const built: StatusLine[] = [{ record: { sitePackage: 's:p', lastTried: 1, status: 0, locked: false, pid: 2 } }, { raw: 'x' }];
  assert.equal(formatStatusFile(built), 's:p 1 0 u 2\nx\n');
  assert.equal(formatStatusFile([]), '');
});

test('findStatus returns the first record; upsert appends a new one at the end', () => {
  const lines = parseStatusFile('a:b 1 0 u 5\na:b 2 256 u 6\n');
  assert.equal(findStatus(lines, 'a:b')!.lastTried, 1);
  assert.equal(findStatus(lines, 'a:bb'), undefined);
  assert.equal(findStatus(lines, 'a'), undefined);
  const up = upsertStatus(lines, { sitePackage: 'n:w', lastTried: 3, status: 0, locked: false, pid: 1 });
  assert.equal(formatStatusFile(up), 'a:b 1 0 u 5\na:b 2 256 u 6\nn:w 3 0 u 1\n');
  // every duplicate record is rewritten, as mm.pl's upd_status did
  const up2 = upsertStatus(lines, { sitePackage: 'a:b', lastTried: 9, status: 0, locked: false, pid: 1 });
  assert.equal(formatStatusFile(up2), 'a:b 9 0 u 1\na:b 9 0 u 1\n');
});

test('job start: LAST_TRIED=now, locked, pid; status kept; new records start at 0', () => {
  const lines = parseStatusFile('a:b 1 256 u 5\n');
  assert.equal(formatStatusFile(applyJobStart(lines, 'a:b', 50, 99)), 'a:b 50 256 l 99\n');
  assert.equal(formatStatusFile(applyJobStart(lines, 'c:d', 50, 99)), 'a:b 1 256 u 5\nc:d 50 0 l 99\n');
  // the original changed the pid only when the new one was > 0
  assert.equal(formatStatusFile(applyJobStart(lines, 'a:b', 50, 0)), 'a:b 50 256 l 5\n');
  assert.equal(formatStatusFile(applyJobStart([], 'x:y', 7, 1)), 'x:y 7 0 l 1\n');
});

test('job end: LAST_TRIED=now, STATUS=wait status, unlocked, pid kept; success resets to 0 (repair)', () => {
  const failed = applyJobEnd(parseStatusFile('a:b 50 0 l 99\n'), 'a:b', 60, 512);
  assert.equal(formatStatusFile(failed), 'a:b 60 512 u 99\n');
  const restarted = applyJobStart(failed, 'a:b', 70, 100);
  assert.equal(formatStatusFile(restarted), 'a:b 70 512 l 100\n');
  // REPAIR: the original kept 512 here forever
  const ok = applyJobEnd(restarted, 'a:b', 80, 0);
  assert.equal(formatStatusFile(ok), 'a:b 80 0 u 100\n');
  // a signal: raw wait status
  assert.equal(formatStatusFile(applyJobEnd(ok, 'a:b', 90, 9)), 'a:b 90 9 u 100\n');
  // no record: appended with pid 0 (the original wrote an unreadable empty pid)
  const fresh = applyJobEnd([], 'n:w', 5, 256);
  assert.equal(formatStatusFile(fresh), 'n:w 5 256 u 0\n');
  assert.deepEqual(parseStatusFile(formatStatusFile(fresh)), fresh);
});

test('applyPid sets only the pid', () => {
  const lines = parseStatusFile('a:b 50 256 l 1\n');
  assert.equal(formatStatusFile(applyPid(lines, 'a:b', 4242)), 'a:b 50 256 l 4242\n');
  assert.equal(formatStatusFile(applyPid([], 'c:d', 3)), 'c:d 0 0 u 3\n');
});

test('a whole cycle of several jobs keeps order and other lines', () => {
  let lines = parseStatusFile('# kept\nold:pkg 10 0 u 1\n');
  lines = applyJobStart(lines, 's:one', 100, 11);
  lines = applyJobStart(lines, 's:two', 100, 12);
  lines = applyJobEnd(lines, 's:two', 130, 256);
  lines = applyJobEnd(lines, 's:one', 160, 0);
  assert.equal(formatStatusFile(lines), '# kept\nold:pkg 10 0 u 1\ns:one 160 0 u 11\ns:two 130 256 u 12\n');
});
