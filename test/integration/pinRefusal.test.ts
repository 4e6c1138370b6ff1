// A link that fails the key pin says why, on both sides (issue 11, point 9): the node that
// pins logs, at error level, the key it got and the one it pinned; the node it refused logs
// that the client refused its key, not "socket hang up".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { Cluster, until } from '../helpers/daemonFixtures.js';
import { writeKeyFile } from '../../src/net/keys.js';

test('a pin mismatch is logged with expected and got fingerprints; the refused side logs why', async (t) => {
  const c = await Cluster.create(['a', 'b'], { links: [['a', 'b']] });
  t.after(() => c.close());
  const b = c.nodes.get('b')!;
  const pinned = b.fingerprint;
  // b gets a new key; a still pins the old one
  unlinkSync(b.key);
  const got = writeKeyFile(b.key);
  await c.startAll();
  const pa = c.procs.get('a')!;
  const pb = c.procs.get('b')!;
  const line = await until(async () => pa.stderr().split('\n').find((l) => /ERROR/.test(l) && l.includes('peer b:') && l.includes(got)), "a's error line");
  assert.ok(line.includes(pinned), `names the pinned key too: ${line}`);
  assert.match(line, /is not the pinned/);
  const refused = await until(async () => pb.stderr().split('\n').find((l) => /the client refused our key/.test(l)), "b's reason");
  assert.ok(refused.includes(got), refused);
  assert.doesNotMatch(pb.stderr(), /socket hang up/);
});
