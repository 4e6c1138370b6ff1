// The daemon's apply journal (src/replica/journal.ts) on a real file: every append is
// durable before it resolves, and a record already durable in the current file since the
// last rotation is not written (nor fdatasync'ed) again: a received batch journals its
// records in its first step and again before placing them. The tests try to make it skip
// a record that is NOT in the current file: after a rotation, after a failed append.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IndexRecord } from '../../src/core/treeIndex.js';
import { ApplyJournal } from '../../src/replica/journal.js';

const rec = (path: string, counter: number): IndexRecord => ({
  entry: { path, kind: 'file', size: 1, mtimeMs: 1_700_000_000_000, mode: 0o644, hash: 'ab'.repeat(32) },
  version: { b: counter },
});

function stateDir(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'omirr-journal-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const lines = (dir: string, suffix = ''): string[] => {
  try {
    return readFileSync(join(dir, 'trees', `data.journal${suffix}`), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

test('the same records appended again are not written again; other records are', async (t) => {
  const dir = stateDir(t);
  const j = new ApplyJournal(dir, 'data');
  t.after(() => j.close());
  await j.append('b', [rec('f', 1), rec('g', 1)]);
  await j.append('b', [rec('f', 1), rec('g', 1)]);
  assert.equal(j.writes, 1);
  assert.equal(lines(dir).length, 2);
  // a newer version of f, the same g from another peer: both are new lines
  await j.append('b', [rec('f', 2)]);
  await j.append('c', [rec('g', 1)]);
  assert.equal(j.writes, 3);
  // a mix: only the new one is written
  await j.append('b', [rec('f', 2), rec('h', 1)]);
  assert.equal(j.writes, 4);
  assert.deepEqual(
    (await j.entries()).map((e) => `${e.peer}:${e.rec.entry.path}:${e.rec.version.b}`),
    ['b:f:1', 'b:g:1', 'b:f:2', 'c:g:1', 'b:h:1'],
  );
});

test('two appends of the same records at once: both resolve, written once (the second waits for the first fdatasync)', async (t) => {
  const dir = stateDir(t);
  const j = new ApplyJournal(dir, 'data');
  t.after(() => j.close());
  await Promise.all([j.append('b', [rec('f', 1)]), j.append('b', [rec('f', 1)])]);
  assert.equal(j.writes, 1);
  assert.equal(lines(dir).length, 1);
});

test('after a rotation, the same records are written again into the new file', async (t) => {
  const dir = stateDir(t);
  const j = new ApplyJournal(dir, 'data');
  t.after(() => j.close());
  await j.append('b', [rec('f', 1)]);
  const saved = await j.rotate();
  // the index save being made did not see this batch's placing: the record must be in the
  // current file, or removing .old (once the save is durable) would forget it
  await j.append('b', [rec('f', 1)]);
  assert.equal(j.writes, 2);
  await saved();
  assert.equal(lines(dir, '.old').length, 0);
  assert.deepEqual(
    (await j.entries()).map((e) => e.rec.entry.path),
    ['f'],
  );
});

test('a failed append is not remembered as durable', async (t) => {
  const dir = stateDir(t);
  // 'trees' is a file: the journal's directory cannot be made
  writeFileSync(join(dir, 'trees'), '');
  const j = new ApplyJournal(dir, 'data');
  t.after(() => j.close());
  await assert.rejects(j.append('b', [rec('f', 1)]));
  rmSync(join(dir, 'trees'));
  await j.append('b', [rec('f', 1)]);
  assert.equal(j.writes, 1);
  assert.deepEqual(
    (await j.entries()).map((e) => e.rec.entry.path),
    ['f'],
  );
});
