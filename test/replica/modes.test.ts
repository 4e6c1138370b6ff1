// The receive-only version rule and the mode ledgers (src/replica/modes.ts): a mirror's local
// change beats what the peers gave (so a resend of it changes nothing) and loses to every
// newer version they make (so the master's next change wins, the local one kept aside).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localOnlyVersion, ModeLedger } from '../../src/replica/modes.js';
import { compare, pickWinner, tick, type Version } from '../../src/core/version.js';
import { applyRemoteChange, type IndexRecord } from '../../src/core/treeIndex.js';

const file = (path: string, hash: string, version: Version): IndexRecord => ({ entry: { path, kind: 'file', size: 1, mtimeMs: 1, mode: 0o644, hash }, version });

test('localOnlyVersion: after the base, before any newer version from the peers, even when the local edit is newer in time', () => {
  const bases: Version[] = [{ master: 1000 }, { master: 1000, m1: 500 }, { master: 1000, m1: 1000 }, { m1: 2000, master: 1000 }];
  for (const base of bases) {
    const mine = localOnlyVersion(base, 'm1');
    assert.equal(compare(mine, base), 'after', JSON.stringify(base));
    // the master's next change: made long before or just after the mirror's edit
    for (const now of [0, 1001, 5000]) {
      const theirs = tick(base, 'master', now);
      assert.equal(compare(mine, theirs), 'concurrent');
      assert.equal(pickWinner(mine, theirs), 'b', `${JSON.stringify(base)} now=${now}`);
    }
  }
  // a local addition loses to anything the peers have for the path
  assert.equal(pickWinner(localOnlyVersion(undefined, 'm1'), { master: 2 }), 'b');
});

test('a peer resending the base changes nothing; its newer version wins as a conflict (the local edit kept)', () => {
  const base = file('a.txt', 'h1', { master: 1000 });
  const local = file('a.txt', 'h2', localOnlyVersion(base.version, 'm1'));
  assert.equal(applyRemoteChange(local, base).action, 'ignore');
  const newer = file('a.txt', 'h3', tick(base.version, 'master', 2000));
  assert.equal(applyRemoteChange(local, newer).action, 'conflict');
});

test('ModeLedger: bases, local changes, undoing an edit, received records; ignored records until a local version wins', () => {
  const l = new ModeLedger();
  const base = file('a.txt', 'h1', { master: 1000 });
  l.noteBase('a.txt', base);
  const edited = l.markLocal(file('a.txt', 'h2', { master: 1000, m1: 9999 }), 'm1', 5);
  assert.equal(edited.first, true);
  assert.deepEqual(edited.record.version, localOnlyVersion(base.version, 'm1'));
  assert.equal(l.local.get('a.txt')!.change, 'changed');
  // the edit undone by hand (same content as the peers gave): no longer listed, the base's version back
  const undone = l.markLocal(file('a.txt', 'h1', { master: 1000, m1: 10000 }), 'm1', 6);
  assert.deepEqual(undone.record.version, base.version);
  assert.equal(l.local.size, 0);
  // an addition, then removed again: nothing to list
  l.noteBase('new.txt', undefined);
  assert.equal(l.markLocal(file('new.txt', 'h', { m1: 7 }), 'm1', 7).first, true);
  assert.equal(l.local.get('new.txt')!.change, 'added');
  l.markLocal({ ...file('new.txt', 'h', { m1: 8 }), deleted: { atMs: 8 } }, 'm1', 8);
  assert.equal(l.local.has('new.txt'), false);
  // received: no longer local
  l.noteBase('b.txt', base);
  l.markLocal({ ...file('b.txt', 'h1', { m1: 9 }), deleted: { atMs: 9 } }, 'm1', 9);
  assert.equal(l.local.get('b.txt')!.change, 'deleted');
  l.received('b.txt');
  assert.equal(l.local.size, 0);

  // send-only: warned once per path, cleared when a newer local version wins
  const pushed = file('x.txt', 'hw', { master: 1000, w: 2000 });
  assert.equal(l.noteIgnored('w', pushed, 1), true);
  assert.equal(l.noteIgnored('w', pushed, 2), false);
  assert.equal(l.ignored.get('x.txt')!.count, 2);
  l.localWins(file('x.txt', 'hm', { master: 1500 })); // older than the writer's: still listed
  assert.equal(l.ignored.size, 1);
  l.localWins(file('x.txt', 'hm', { master: 3000 }));
  assert.equal(l.ignored.size, 0);
  // saved and loaded with the index
  l.noteIgnored('w', pushed, 3);
  const again = new ModeLedger();
  again.load(JSON.parse(JSON.stringify(l.toJSON())));
  assert.deepEqual(again.toJSON(), l.toJSON());
});
