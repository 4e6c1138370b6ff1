// Three real daemons: a chain A-B-C (no A-C link) converges through B's relay; a stopped
// peer catches up from the others' outboxes when it starts again; a peer with the wrong
// key is refused and receives nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until } from '../helpers/daemonFixtures.js';
import { writeKeyFile } from '../../src/net/keys.js';

test('a chain A-B-C with no A-C link converges, both ways', async (t) => {
  const c = await Cluster.create(['a', 'b', 'c'], { links: [['a', 'b'], ['b', 'c']] });
  t.after(() => c.close());
  await c.startAll();
  await c.waitLive();
  writeFileSync(join(c.tree('a'), 'from-a.txt'), 'A\n');
  mkdirSync(join(c.tree('c'), 'from-c/dir'), { recursive: true });
  writeFileSync(join(c.tree('c'), 'from-c/dir/f'), 'C\n');
  let snap = await c.converge();
  assert.ok(snap['from-a.txt'] && snap['from-c/dir/f']);
  renameSync(join(c.tree('c'), 'from-a.txt'), join(c.tree('c'), 'renamed-on-c.txt'));
  unlinkSync(join(c.tree('a'), 'from-c/dir/f'));
  snap = await c.converge();
  assert.equal(snap['from-a.txt'], undefined);
  assert.ok(snap['renamed-on-c.txt']);
  assert.equal(snap['from-c/dir/f'], undefined);
  assert.equal((await c.status('a')).peers.length, 1, 'a has no link to c');
});

test('a stopped peer catches up from the outboxes when it starts again', async (t) => {
  const c = await Cluster.create(['a', 'b', 'c']);
  t.after(() => c.close());
  await c.startAll();
  await c.waitLive();
  writeFileSync(join(c.tree('a'), 'early.txt'), 'early\n');
  await c.converge();
  assert.equal(await c.stop('c'), 0, c.procs.get('c')!.stderr());
  // changes on the others while c is away: they wait in c's outboxes
  for (let i = 0; i < 50; i++) writeFileSync(join(c.tree(i % 2 ? 'a' : 'b'), `while-away-${i}.txt`), `n${i}\n`);
  unlinkSync(join(c.tree('b'), 'early.txt'));
  await c.converge(['a', 'b']);
  await until(async () => {
    const s = await c.status('a');
    const link = s.peers.find((p) => p.name === 'c')!;
    return link.outboxDepth > 0 && link.state !== 'live' ? true : undefined;
  }, "a's outbox for c to hold the changes");
  // the trees converge a moment before b's acknowledgement reaches a: wait for it
  const live = await until(async () => {
    const l = (await c.status('a')).peers.find((p) => p.name === 'b')!;
    return l.state === 'live' && l.outboxDepth === 0 ? l : undefined;
  }, 'the link to b to drain', 10_000).catch(async () => (await c.status('a')).peers.find((p) => p.name === 'b')!);
  assert.equal(live.state, 'live', 'the other link is not held up');
  assert.equal(live.outboxDepth, 0);
  // a restart of a (the sender) too: its outbox for c is durable
  assert.equal(await c.stop('a'), 0);
  await c.start('a');
  await c.start('c');
  const snap = await c.converge(['a', 'b', 'c']);
  assert.equal(snap['early.txt'], undefined);
  assert.equal(Object.keys(snap).filter((k) => k.startsWith('while-away-')).length, 50);
});

test('a peer with a wrong key is refused and gets nothing', async (t) => {
  const c = await Cluster.create(['a', 'b']);
  t.after(() => c.close());
  // an impostor key for b: a still pins b's real fingerprint
  const b = c.nodes.get('b')!;
  unlinkSync(b.key);
  writeKeyFile(b.key);
  writeFileSync(join(c.tree('a'), 'secret.txt'), 'for b only\n');
  writeFileSync(join(c.tree('b'), 'from-impostor.txt'), 'let me in\n');
  await c.startAll();
  await until(async () => {
    const [sa, sb] = [await c.status('a'), await c.status('b')];
    const la = sa.peers[0]!;
    const lb = sb.peers[0]!;
    const authFailed = (e: string | null) => e !== null && /pinned|refused by server|not authenticated|closed/.test(e) && !/ECONNREFUSED/.test(e);
    return la.connects === 0 && lb.connects === 0 && authFailed(la.lastError) && authFailed(lb.lastError) ? [la, lb] : undefined;
  }, 'both links to fail authentication');
  const [la, lb] = [(await c.status('a')).peers[0]!, (await c.status('b')).peers[0]!];
  assert.match(la.lastError!, /not the pinned/, 'a refuses the impostor key');
  assert.equal((await import('node:fs')).existsSync(join(c.tree('b'), 'secret.txt')), false);
  assert.equal((await import('node:fs')).existsSync(join(c.tree('a'), 'from-impostor.txt')), false);
});
