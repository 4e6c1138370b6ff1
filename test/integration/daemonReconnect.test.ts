// A peer that comes back reconnects both ways at once: when it reaches us, our own link to
// it, waiting out a backoff, reconnects now. Without that, after a peer's restart our changes
// waited in its outbox for the rest of our backoff (up to 30 s, +-50 %; seen as a 60 s
// "not live" in the soak's chaos runs). Here node a runs in this process with a backoff of
// 60 s and no jitter, so its link to b, refused while b is down, would wait a full minute;
// b is a real daemon process that dials a when it starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon } from '../../src/internal.js';
import { Cluster, until } from '../helpers/daemonFixtures.js';

test('a link waiting out its backoff reconnects as soon as the peer reaches us; changes flow at once', async (t) => {
  const c = await Cluster.create(['a', 'b']);
  t.after(() => c.close());
  const na = c.nodes.get('a')!;
  const a = await startDaemon({ configFile: na.conf, stateDir: na.state, backoff: { initialMs: 60_000, maxMs: 60_000, jitter: 0 } });
  t.after(() => a.stop());
  // b is down: a's link is refused and waits 60 s
  await until(async () => ((await c.status('a')).peers.find((p) => p.name === 'b')?.state === 'backingOff' ? true : undefined), "a's link to b backing off", 20_000);
  writeFileSync(join(c.tree('a'), 'while-b-was-down.txt'), 'queued for b\n');
  await c.start('b');
  // well inside the 60 s backoff: only b's connection to a can have woken the link
  // The wait is for events (b's dial, a's dial back, two handshakes), not for a timer. If it
  // runs out, say where the link was: a load-20 run once timed out here, and a handshake of
  // more than 10 s (the link's own timeout) would send it back to its 60 s backoff.
  await until(async () => ((await c.status('a')).peers.find((p) => p.name === 'b')?.state === 'live' ? true : undefined), "a's link to b live again before its backoff ends", 20_000).catch(async (err: Error) => {
    const link = await c.status('a').then((s) => s.peers.find((p) => p.name === 'b'), (e: Error) => e.message);
    throw new Error(`${err.message}; a's link to b: ${JSON.stringify(link)}`);
  });
  const arrived = join(c.tree('b'), 'while-b-was-down.txt');
  await until(async () => (existsSync(arrived) ? true : undefined), 'the change queued on a to reach b', 20_000);
  assert.equal(readFileSync(arrived, 'utf8'), 'queued for b\n');
});
