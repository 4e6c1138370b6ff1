// Issue 9, item 1 ("nothing lost"), the in-place race: a local process opens a file for
// writing (O_WRONLY|O_TRUNC: it holds the OLD inode) while the daemon places a peer's newer
// version over the same path. Whatever the process writes afterwards goes into the replaced
// inode, not to the new file at the path; the daemon must not drop it. Forced here
// deterministically with real daemons: the test opens the file and holds the descriptor,
// lets a peer's descendant version be placed over it, then writes through the held
// descriptor and closes it. The bytes must survive as a conflict copy on every node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until, waitNoPartialFiles } from '../helpers/daemonFixtures.js';

const NODES = ['a', 'b', 'c'];
const read = (p: string): string | undefined => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

test('bytes written through a handle opened before a peer\'s version replaced the file are kept as a conflict copy on every node', async (t) => {
  const c = await Cluster.create(NODES);
  t.after(() => c.close());
  await c.startAll();
  await c.waitLive();
  const at = (n: string) => join(c.tree(n), 'f.txt');
  writeFileSync(at('a'), 'version one\n');
  await until(async () => (NODES.every((n) => read(at(n)) === 'version one\n') ? true : undefined), 'f.txt on every node', 30_000);

  // a local process on a opens the file for writing: truncated, the descriptor held
  const fd = openSync(at('a'), 'w');
  t.after(() => {
    try {
      closeSync(fd);
    } catch {
      /* closed */
    }
  });
  const heldIno = fstatSync(fd).ino;
  await until(async () => (NODES.every((n) => read(at(n)) === '') ? true : undefined), 'the truncation on every node', 30_000);

  // b makes a newer version (a descendant of a's: no conflict), replacing by rename as editors do
  const peerV2 = 'version two, from b\n';
  writeFileSync(join(c.tree('b'), '.f.txt.tmp'), peerV2);
  renameSync(join(c.tree('b'), '.f.txt.tmp'), at('b'));
  await until(async () => (read(at('a')) === peerV2 ? true : undefined), 'b\'s version placed on a', 30_000);
  assert.notEqual(statSync(at('a')).ino, heldIno, 'placed as a new inode: the held descriptor points at the replaced one');

  // now the process writes through what it holds, and closes
  const held = `written through the descriptor opened before the placing ${process.pid}\n`;
  writeSync(fd, held);
  closeSync(fd);

  // kept as a conflict copy (a local version of a) and replicated to every node
  const copyOn = (n: string): string | undefined =>
    readdirSync(c.tree(n)).find((name) => /^f\.omirr-conflict-.*\.txt$/.test(name) && read(join(c.tree(n), name)) === held);
  const names = await until(async () => {
    const found = NODES.map(copyOn);
    return found.every((x) => x !== undefined) ? found : undefined;
  }, 'the held descriptor\'s bytes as a conflict copy on every node', 40_000);
  assert.equal(new Set(names).size, 1, `one conflict copy, the same name everywhere: ${names.join(', ')}`);
  for (const n of NODES) assert.equal(read(at(n)), peerV2, `${n}: the peer's version stays at the path`);
  const snap = await c.converge(NODES, 30_000);
  assert.deepEqual(Object.keys(snap).sort(), ['f.txt', names[0]!].sort(), 'nothing else appeared');
  await waitNoPartialFiles(NODES.map((n) => c.tree(n)));
});
