// The reuse rule of the snapshots' hash cache (hashCache.ts): a reused hash must always be the
// hash of the bytes there now, even when a rewrite keeps the size and puts the mtime back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256OfFile } from './hashCache.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Writes `content` to `path` with the same mtime every time (a whole second: utimes puts it back exactly), so only the change time tells rewrites of one size apart. */
function writeAtT(path: string, content: string): void {
  writeFileSync(path, content);
  utimesSync(path, 1_700_000_000, 1_700_000_000);
}

/** Waits (a busy loop, one clock tick at most) until a write now gets a later change time than `path` has. */
function pastChangeTimeOf(path: string, probe: string): void {
  const ctime = lstatSync(path, { bigint: true }).ctimeNs;
  const deadline = Date.now() + 5000;
  for (;;) {
    writeFileSync(probe, 'x');
    if (lstatSync(probe, { bigint: true }).ctimeNs > ctime) return;
    assert.ok(Date.now() < deadline, 'the change-time clock did not move in 5 s');
  }
}

test('a file rewritten in the same size with its mtime put back is hashed again, settled or not', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omirr-hashcache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'f');
  writeAtT(f, 'aaaa');
  // just written, so not kept: a rewrite within the same clock tick (same change time) is seen
  assert.equal(sha256OfFile(f, lstatSync(f, { bigint: true }), Date.now()), sha('aaaa'));
  writeAtT(f, 'bbbb');
  assert.equal(sha256OfFile(f, lstatSync(f, { bigint: true }), Date.now()), sha('bbbb'));
  // taken as settled (read as if a minute later; the clock is moved on below before each
  // change, as it would have): kept, and reused while nothing changes
  const later = Date.now() + 60_000;
  assert.equal(sha256OfFile(f, lstatSync(f, { bigint: true }), later), sha('bbbb'));
  assert.equal(sha256OfFile(f, lstatSync(f, { bigint: true }), later), sha('bbbb'));
  // a rewrite after the clock moved on stamps a new change time: the kept hash is not reused
  pastChangeTimeOf(f, join(dir, 'probe'));
  writeAtT(f, 'cccc');
  assert.equal(sha256OfFile(f, lstatSync(f, { bigint: true }), later), sha('cccc'));
  // deleted and written again (maybe the same inode number) with the old times
  assert.equal(sha256OfFile(f, lstatSync(f, { bigint: true }), later), sha('cccc'));
  pastChangeTimeOf(f, join(dir, 'probe'));
  rmSync(f);
  writeAtT(f, 'dddd');
  assert.equal(sha256OfFile(f, lstatSync(f, { bigint: true }), later), sha('dddd'));
});
