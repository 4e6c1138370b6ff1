// Issue 9, item 2: a receiver acknowledges a batch only once its index holds what the batch
// changed. kill -9 the receiver right after the files arrive (inside the old 1 s window
// between the acknowledgement and the index save), delete one file and edit another while
// it is down: after its restart every node has the delete and the edit, and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until } from '../helpers/daemonFixtures.js';

test('kill -9 right after receiving, delete and edit while down: the restart converges on the delete and the edit', async (t) => {
  const c = await Cluster.create(['a', 'b']);
  t.after(() => c.close());
  await c.startAll();
  await c.waitLive();
  const A = c.tree('a');
  const B = c.tree('b');
  writeFileSync(join(A, 'f.txt'), 'to be deleted\n');
  writeFileSync(join(A, 'g.txt'), 'to be edited\n');
  // the moment both are in b's tree, b dies (its acknowledgement may already be on its way)
  await until(async () => (existsSync(join(B, 'f.txt')) && existsSync(join(B, 'g.txt')) && readFileSync(join(B, 'g.txt'), 'utf8') === 'to be edited\n' ? true : undefined), 'the files on b', 20_000, 5);
  await c.kill9('b');
  // (b may or may not have acknowledged the batch before it died: either way nothing may be lost)
  unlinkSync(join(A, 'f.txt'));
  writeFileSync(join(A, 'g.txt'), 'edited while b was down\n');
  await until(async () => ((await c.status('a')).trees[0]!.files === 1 ? true : undefined), 'a to see its own changes');
  await c.start('b');
  await c.waitLive();
  const snap = await c.converge(['a', 'b']);
  assert.deepEqual(Object.keys(snap).sort(), ['g.txt'], `only g.txt is left: ${JSON.stringify(snap)}`);
  assert.equal(readFileSync(join(B, 'g.txt'), 'utf8'), 'edited while b was down\n');
  assert.equal(readFileSync(join(A, 'g.txt'), 'utf8'), 'edited while b was down\n');
});
