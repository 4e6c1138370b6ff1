// The daemon's peer listener under connections that never authenticate (issue 9, item 8):
// the same deadline and cap as `omirr serve`, from the same keywords (docs/config.md).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { Cluster, until } from '../helpers/daemonFixtures.js';

let cluster: Cluster;
const DEADLINE_S = 1;
const CAP = 2;

before(async () => {
  cluster = await Cluster.create(['solo'], { extra: [`handshake-timeout = ${DEADLINE_S}`, `max-unauthenticated = ${CAP}`] });
  await cluster.start('solo');
});

after(async () => {
  await cluster?.close();
});

function rawTcp(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

test('raw TCP connections to the daemon that never send a ClientHello are closed at the deadline, and more than the cap at once', async () => {
  const port = cluster.nodes.get('solo')!.port;
  const held = await Promise.all(Array.from({ length: CAP + 2 }, () => rawTcp(port)));
  let closed = 0;
  for (const h of held) void h.closed.then(() => closed++);
  await until(async () => (closed === held.length ? true : undefined), 'every unauthenticated connection closed', DEADLINE_S * 1000 + 10_000);
  await until(async () => (/too many unauthenticated connections/.test(cluster.procs.get('solo')!.stderr()) ? true : undefined), 'the cap warning', 5_000);
  assert.equal((await cluster.status('solo')).node, 'solo', 'the daemon is still up');
});
