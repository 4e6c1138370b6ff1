// ssh:// sends its `open` right behind the hello (CallOptions.beforeOpen): the far side keeps
// what arrives before its welcome and serves it only once the handshake succeeded. A server
// that refuses the handshake must never serve the early request; an early request with a
// stream is not sent at all.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';
import { Duplex, PassThrough } from 'node:stream';
import type { Tree } from '../../src/core/tree.js';
import { Connection } from '../../src/net/connection.js';
import { ProtocolError } from '../../src/net/frames.js';
import { clientHandshake } from '../../src/net/handshake.js';
import { openArgs } from '../../src/net/remoteTree.js';
import { serveStdio } from '../../src/net/server.js';

const root = tempDir('early-open');
after(() => removeDir(root));

/** A client connection wired to `serve --stdio`'s function through two pipes, and what the server opened. */
function pair(): { client: Connection; opened: string[]; served: Promise<Error | undefined> } {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const opened: string[] = [];
  const served = serveStdio({
    input: toServer,
    output: toClient,
    root,
    writable: false,
    openLocal: (root) => {
      opened.push(root);
      return { label: root, writable: false, scan: async () => [], close: async () => undefined } as unknown as Tree;
    },
  });
  const client = new Connection(Duplex.from({ readable: toClient, writable: toServer }), { role: 'client', label: 'test' });
  return { client, opened, served };
}

test('an open sent behind the hello is answered after the welcome, with the tree opened once', async () => {
  const { client, opened, served } = pair();
  const handshake = clientHandshake(client, {}, { mode: 'ssh', timeoutMs: 5000 });
  const early = client.call('open', openArgs({ tree: '' }), undefined, { beforeOpen: true }).done;
  await handshake;
  client.open();
  const { result } = await early;
  assert.equal((result as { handle: number }).handle, 1);
  assert.deepEqual(opened, [realpathSync(root)]);
  // the connection goes on as usual: a second open is an ordinary request
  const again = await client.request('open', openArgs({ tree: '' }));
  assert.equal((again.result as { handle: number }).handle, 2);
  await client.closeAndWait();
  assert.ok(!((await served) instanceof ProtocolError), 'a clean end');
});

test('a refused handshake never serves the request that came behind the hello', async () => {
  const { client, opened, served } = pair();
  // a hello the server refuses (a protocol it does not speak), then an early open
  client.sendControl({ t: 'hello', proto: 'not-omirr', versions: [99], caps: [] });
  const early = client.call('open', openArgs({ tree: '' }), undefined, { beforeOpen: true }).done;
  await assert.rejects(early);
  await served;
  assert.deepEqual(opened, [], 'nothing was opened');
});

test('an early request with a stream is refused before anything is sent', async () => {
  const { client } = pair();
  await assert.rejects(client.call('scan', { h: 1 }, undefined, { beforeOpen: true, download: true }).done);
  client.destroy();
});
