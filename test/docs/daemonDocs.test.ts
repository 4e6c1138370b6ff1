// docs/daemon.md keeps what an operator must know before trusting it with data (issue 11,
// points 4 and 17): the limits in.omirrd stated (no locking; not for databases or many
// concurrent writers of one file), how omirr's conflict copies differ from the original's
// plain last-writer-wins, and every node keyword in its table (state = among them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NODE_KEYWORDS } from '../../src/core/config.js';

const doc = readFileSync(fileURLToPath(new URL('../../../docs/daemon.md', import.meta.url)), 'utf8');

test('docs/daemon.md states the limits of in.omirrd and how conflicts differ', () => {
  const section = doc.slice(doc.indexOf('## What it is not for'), doc.indexOf('## Try it on one machine'));
  assert.ok(section.length > 200, 'the section exists');
  assert.match(section, /no file or record locking/i);
  assert.match(section, /databases/i);
  assert.match(section, /concurrent writers of one file/i);
  assert.match(section, /last-writer-wins/);
  assert.match(section, /omirr-conflict-/);
  assert.match(section, /conflicts = off/);
});

test("every node keyword is in docs/daemon.md's table", () => {
  for (const k of NODE_KEYWORDS) assert.match(doc, new RegExp(`^\\| \`${k} = `, 'm'), `${k} = ...`);
});
