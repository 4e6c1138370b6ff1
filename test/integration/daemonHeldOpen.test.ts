// Issue 9, item 1 ("nothing lost"), the in-place race: a local process opens a file for
// writing (O_WRONLY|O_TRUNC: it holds the OLD inode) while the daemon places a peer's newer
// version over the same path. Whatever the process writes afterwards goes into the replaced
// inode, not to the new file at the path; the daemon must not drop it. Forced here
// deterministically with real daemons: the test opens the file and holds the descriptor,
// lets a peer's descendant version be placed over it, then writes through the held
// descriptor and closes it. The bytes must survive as a conflict copy on every node, also
// when the daemon is killed while the replaced file waits out its grace period; a replaced
// file nobody wrote to must leave no copy.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until, waitNoPartialFiles } from '../helpers/daemonFixtures.js';
import { asideObjects, nodePlaceFs } from '../../src/replica/placement.js';

const read = (p: string): string | undefined => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

/** Writes `content` at `rel` on node `n` as editors do (a temporary name, then rename). */
function replaceOn(c: Cluster, n: string, rel: string, content: string): void {
  writeFileSync(join(c.tree(n), `.${rel}.tmp`), content);
  renameSync(join(c.tree(n), `.${rel}.tmp`), join(c.tree(n), rel));
}

async function everywhere(c: Cluster, nodes: string[], rel: string, content: string, what: string): Promise<void> {
  await until(async () => (nodes.every((n) => read(join(c.tree(n), rel)) === content) ? true : undefined), what, 30_000);
}

/**
 * The race up to the write: f.txt made on a and replicated; a process on a opens it with
 * O_TRUNC and holds the descriptor (the truncation replicates); b replaces it; b's version
 * is placed on a over the held inode. Returns the descriptor and b's content.
 */
async function placeOverHeld(t: TestContext, c: Cluster, nodes: string[]): Promise<{ fd: number; peerV2: string }> {
  const at = (n: string) => join(c.tree(n), 'f.txt');
  writeFileSync(at('a'), 'version one\n');
  await everywhere(c, nodes, 'f.txt', 'version one\n', 'f.txt on every node');
  const fd = openSync(at('a'), 'w');
  t.after(() => {
    try {
      closeSync(fd);
    } catch {
      /* closed */
    }
  });
  const heldIno = fstatSync(fd).ino;
  await everywhere(c, nodes, 'f.txt', '', 'the truncation on every node');
  // a newer version on b, a descendant of a's (no conflict): placed on a over the held inode
  const peerV2 = 'version two, from b\n';
  replaceOn(c, 'b', 'f.txt', peerV2);
  await until(async () => (read(at('a')) === peerV2 ? true : undefined), 'b\'s version placed on a', 30_000);
  assert.notEqual(statSync(at('a')).ino, heldIno, 'placed as a new inode: the held descriptor points at the replaced one');
  return { fd, peerV2 };
}

/** Waits for a conflict copy of f.txt holding `held` on every node; returns its name (the same everywhere). */
async function heldCopyEverywhere(c: Cluster, nodes: string[], held: string): Promise<string> {
  const copyOn = (n: string): string | undefined =>
    readdirSync(c.tree(n)).find((name) => /^f\.omirr-conflict-.*\.txt$/.test(name) && read(join(c.tree(n), name)) === held);
  const names = await until(async () => {
    const found = nodes.map(copyOn);
    return found.every((x) => x !== undefined) ? found : undefined;
  }, 'the held descriptor\'s bytes as a conflict copy on every node', 40_000);
  assert.equal(new Set(names).size, 1, `one conflict copy, the same name everywhere: ${names.join(', ')}`);
  return names[0]!;
}

test('bytes written through a handle opened before a peer\'s version replaced the file are kept as a conflict copy on every node', async (t) => {
  const nodes = ['a', 'b', 'c'];
  const c = await Cluster.create(nodes);
  t.after(() => c.close());
  await c.startAll();
  await c.waitLive();
  const { fd, peerV2 } = await placeOverHeld(t, c, nodes);
  // now the process writes through what it holds, and closes
  const held = `written through the descriptor opened before the placing ${process.pid}\n`;
  writeSync(fd, held);
  closeSync(fd);
  const copy = await heldCopyEverywhere(c, nodes, held);
  for (const n of nodes) assert.equal(read(join(c.tree(n), 'f.txt')), peerV2, `${n}: the peer's version stays at the path`);
  const snap = await c.converge(nodes, 30_000);
  assert.deepEqual(Object.keys(snap).sort(), ['f.txt', copy].sort(), 'nothing else appeared');
  await waitNoPartialFiles(nodes.map((n) => c.tree(n)));
});

test('killed -9 while replaced files wait out their grace period: at restart the written one is kept, the untouched one removed', async (t) => {
  const nodes = ['a', 'b'];
  const c = await Cluster.create(nodes);
  t.after(() => c.close());
  // a grace period no test run outlasts: the kill surely comes while the files are parked
  await c.start('a', { OMIRR_REPLACED_GRACE_MS: '600000' });
  await c.start('b');
  await c.waitLive();
  // g.txt: replaced on a by b's version with nobody holding it (parked, never written)
  writeFileSync(join(c.tree('a'), 'g.txt'), 'g one\n');
  await everywhere(c, nodes, 'g.txt', 'g one\n', 'g.txt on every node');
  replaceOn(c, 'b', 'g.txt', 'g two\n');
  await everywhere(c, nodes, 'g.txt', 'g two\n', 'b\'s g.txt placed on a');
  const { fd, peerV2 } = await placeOverHeld(t, c, nodes);
  await c.kill9('a');
  const aside = join(c.tree('a'), '.omirr-part.aside');
  // (a peer's editor temporary, .g.txt.tmp, may have been seen, made and removed here too:
  // its removal parks it as well; only f.txt's and g.txt's are counted)
  const parkedPaths = (asideObjects(nodePlaceFs, c.tree('a')) ?? []).filter((o) => o.parked).map((o) => o.rel);
  assert.deepEqual(parkedPaths.filter((p) => p === 'f.txt' || p === 'g.txt').sort(), ['f.txt', 'g.txt'], `both replaced files parked at the kill (${readdirSync(aside).join(' ')})`);
  const held = `written after the daemon died ${process.pid}\n`;
  writeSync(fd, held);
  closeSync(fd);
  await c.start('a'); // the default grace period: the files parked before the crash are due
  await c.waitLive();
  const copy = await heldCopyEverywhere(c, nodes, held);
  for (const n of nodes) assert.equal(read(join(c.tree(n), 'f.txt')), peerV2);
  const snap = await c.converge(nodes, 30_000);
  assert.deepEqual(Object.keys(snap).sort(), ['f.txt', 'g.txt', copy].sort(), 'no copy of the untouched g.txt');
  await waitNoPartialFiles(nodes.map((n) => c.tree(n)));
});
