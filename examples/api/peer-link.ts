// The machines are pure: every I/O step is an actor you may replace with `.provide()`.
// Here a peer link runs with a stand-in session that "connects" at once, and we send it
// the documented commands: PAUSE (drop the connection, stay down) and RESUME (reconnect).
// In the daemon the same events go to the `peer:<name>` children of the root actor.
//
//   node dist/examples/api/peer-link.js        (prints the states it went through)
import { createActor, fromCallback } from 'xstate';
import { peerLinkMachine, peerLinkState, PAUSE, RESUME, type PeerSessionInput } from 'omirr';

let sessions = 0;
const link = createActor(
  peerLinkMachine.provide({
    actors: {
      // The real session opens a TLS connection and streams the outbox (peerSessionLogic).
      session: fromCallback<{ type: string }, PeerSessionInput>(({ sendBack }) => {
        sessions++;
        sendBack({ type: 'CONN.OPENED' });
        sendBack({ type: 'CONN.HANDSHAKEN', clockOffsetMs: 0, remoteNode: 'beta', at: Date.now() });
        return () => {}; // closing the connection would go here
      }),
    },
  }),
  { input: { peer: 'beta', address: '127.0.0.1:7878' } },
);

const states: string[] = [];
link.subscribe((snap) => {
  const s = peerLinkState(snap);
  if (states[states.length - 1] !== s) states.push(s);
});
link.start();
link.send(PAUSE);
link.send(RESUME);
const snap = link.getSnapshot();
link.stop();
process.stdout.write(JSON.stringify({ states, sessions, connects: snap.context.connects, remoteNode: snap.context.remoteNode }) + '\n');
