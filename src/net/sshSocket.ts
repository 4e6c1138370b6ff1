// The client's end of ssh://HOST/PATH?socket=SOCKET: an ssh that runs nothing on the far
// side (-N) and forwards a local socket to the far side's `omirr serve --socket`
// (src/net/sshSocketServer.ts; argv in src/net/sshSpawn.ts sshForwardArgv). Its local end
// exists once ssh has logged in and set up the forward: that is when we connect.
import { watch } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import { ConnectError } from './handshake.js';
import type { SshChild } from './sshSpawn.js';

/** The first message on a socket connection: what `serve --stdio` takes on its command line (docs/protocol.md). */
export const SERVE_MESSAGE = 'serve';

/** ssh's forward is there but the far side's socket did not answer (absent, refused, forwarding not allowed). */
export class SocketUnavailableError extends ConnectError {
  override name = 'SocketUnavailableError';
}

/**
 * A connection to the forward's local end, once ssh has bound it. Rejects with a
 * ConnectError when ssh exits first (login failed, forward refused) or after `timeoutMs`.
 */
export function connectForward(ssh: SshChild, url: string, timeoutMs: number, why: () => string): Promise<Socket> {
  const path = ssh.localSocket!;
  return new Promise<Socket>((resolve, reject) => {
    let done = false;
    let tries = 0;
    const finish = (err: Error | undefined, socket?: Socket): void => {
      if (done) return;
      done = true;
      watcher.close();
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(socket!);
    };
    const attempt = (): void => {
      if (done) return;
      const s = createConnection(path);
      s.once('connect', () => {
        s.removeAllListeners('error');
        finish(undefined, s);
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        // not bound yet (ENOENT: the watcher calls again), or bound and not yet listening
        // (ECONNREFUSED, the moment between ssh's bind and listen): tried again next turn
        if (err.code === 'ECONNREFUSED' && ++tries < 1000) setImmediate(attempt);
        else if (err.code !== 'ENOENT') finish(new ConnectError(`${url}: cannot connect to ssh's forward ${path}: ${err.message}`));
      });
    };
    const watcher = watch(dirname(path), (_event, name) => {
      if (name === basename(path)) attempt();
    });
    const timer = setTimeout(() => finish(new ConnectError(`${url}: ssh did not set up its forward in ${timeoutMs} ms: ${why() || 'no output'}`)), timeoutMs);
    void ssh.exited.then((code) => finish(new ConnectError(`${url}: ssh exited (${code ?? 'failed to start'}): ${why() || 'no output'}`)));
    attempt(); // bound already (a prestarted ssh)
  });
}
