// The whole daemon from a configuration file, as `omirr daemon -c omirr.conf` runs it:
// it serves the configured trees to authenticated peers, keeps a link to every peer, and
// answers `omirr status`. Here we pull the served tree with mirrorTree, then pause and
// resume the link to a peer that is not up (it was backing off), and stop.
//
//   node dist/examples/api/daemon.js DIR      (DIR: an empty directory to play in)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AnyActorRef } from 'xstate';
import { startDaemon, writeKeyFile, mirrorTree, closePools, peerActorId, treeActorId, peerLinkState, PAUSE, RESUME, RESCAN, type PeerLinkSnapshot } from 'omirr';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: daemon.js DIR\n');
  process.exit(2);
}

mkdirSync(join(dir, 'www'), { recursive: true });
writeFileSync(join(dir, 'www', 'index.html'), '<p>served by the daemon</p>\n');
const fingerprint = writeKeyFile(join(dir, 'alpha.key')); // what peers pin
writeFileSync(join(dir, 'secret'), randomBytes(24).toString('hex') + '\n', { mode: 0o600 });
writeFileSync(
  join(dir, 'omirr.conf'),
  [
    'node   = alpha',
    'listen = 127.0.0.1:0', // any free port; the handle tells which
    'key    = alpha.key', // relative names resolve against the config's directory
    'secret = secret',
    'peer   = beta 127.0.0.1:1 -', // nobody listens there: the link backs off and retries
    'tree   = www www beta', // mirrored with beta: beta may read it
    '',
  ].join('\n'),
);

const daemon = await startDaemon({ configFile: join(dir, 'omirr.conf'), stateDir: join(dir, 'state') });
try {
  const addr = daemon.listenAddress()!;
  const pulled = await mirrorTree(`omirr://${addr.host}:${addr.port}/www`, join(dir, 'pulled'), {
    pin: fingerprint,
    secretFile: join(dir, 'secret'),
    node: 'beta', // with the shared secret we may speak as beta, a peer of the tree
  });

  // Every child actor of the root is reachable: `peer:<name>` links, `tree:<name>` trees.
  const link = daemon.actor.getSnapshot().children[peerActorId('beta')] as AnyActorRef;
  const seen: string[] = [];
  // the states it goes through (a snapshot also comes for a context change, such as new outbox figures)
  const sub = link.subscribe((snap) => {
    const state = peerLinkState(snap as PeerLinkSnapshot);
    if (seen[seen.length - 1] !== state) seen.push(state);
  });
  link.send(PAUSE);
  const paused = daemon.status().peers.find((p) => p.name === 'beta')!.state;
  link.send(RESUME);
  sub.unsubscribe();
  // Ask the tree to rescan itself (what a watcher overflow does), e.g. after a bulk change
  // made while the daemon was not watching.
  (daemon.actor.getSnapshot().children[treeActorId('www')] as AnyActorRef).send(RESCAN);

  process.stdout.write(
    JSON.stringify({
      node: daemon.node,
      ok: pulled.ok,
      filesSent: pulled.filesSent,
      paused,
      seen,
      children: Object.keys(daemon.actor.getSnapshot().children).sort(),
    }) + '\n',
  );
} finally {
  await daemon.stop();
  await closePools();
}
