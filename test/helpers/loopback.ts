// Loopback ports for tests that start real servers (vsftpd, nginx, sshd): a free port to
// put in a server's config, and a wait until the server accepts connections on it.
import type { ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';

/**
 * The ports freePort picks from: below the kernel's ephemeral range (32768-60999 by
 * default), so no outgoing connection of this or another test can take the port between
 * its pick and the server's listen (an ephemeral port from listen(0) could: a daemon
 * once failed with EADDRINUSE while other test files ran beside it).
 */
const PICK_FROM = 20_000;
const PICK_TO = 32_767;

/** A port that was free a moment ago on 127.0.0.1 (for servers that need a port in their config). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = PICK_FROM + Math.floor(Math.random() * (PICK_TO - PICK_FROM + 1));
    const s = createServer();
    const ok = await new Promise<boolean>((r) => {
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => r(true));
    });
    if (!ok) continue;
    await new Promise((r) => s.close(r));
    return port;
  }
  throw new Error(`no free port in ${PICK_FROM}-${PICK_TO} after 200 tries`);
}

export async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Wait until something accepts connections on `port`; fail with `describe()` (e.g. the
 * server's stderr) when `exited()` says it is gone or after `timeoutMs`.
 */
export async function waitForPort(port: number, exited: () => boolean, describe: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(port))) {
    if (exited() || Date.now() > deadline) throw new Error(`server on port ${port} did not start: ${describe()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** SIGTERM a server started by a fixture and wait until it has exited. */
export async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await gone;
}
