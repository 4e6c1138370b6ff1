// Processes and temp dirs a benchmark probe starts, tracked so they are stopped and removed
// at the end, also on error or Ctrl-C. Each child gets its own process group (detached)
// because lsyncd forks rsync and Syncthing may fork a monitor: killing the group stops all.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<ChildProcess>();
const dirs = new Set<string>();

function killGroup(c: ChildProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(-c.pid!, sig);
  } catch {
    /* already gone */
  }
}

// Last resort: whatever is still tracked when the bench exits (error, signal) is killed and
// removed synchronously. The normal path (stop/removeDir) leaves nothing for this.
process.on('exit', () => {
  for (const c of live) killGroup(c, 'SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

export function removeDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  dirs.delete(d);
}

/** Starts `cmd` in its own process group; stdout and stderr go to `logFile` (read on failure). */
export function spawnTracked(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const fd = openSync(logFile, 'a');
  const c = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  live.add(c);
  c.once('exit', () => live.delete(c));
  return c;
}

/** SIGTERM to the group, SIGKILL after `graceMs` if it has not exited. */
export async function stop(c: ChildProcess, graceMs = 5000): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) {
    killGroup(c, 'SIGKILL'); // the leader is gone, its children (rsync) may not be
    live.delete(c);
    return;
  }
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  killGroup(c, 'SIGTERM');
  const timer = setTimeout(() => killGroup(c, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  killGroup(c, 'SIGKILL');
  live.delete(c);
}

/** A free TCP port on 127.0.0.1 (bind port 0, close). Racy in theory; fine for a benchmark
 *  whose tools (Syncthing) need their ports written into a config before they start. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function onPath(cmd: string): boolean {
  for (const p of (process.env.PATH ?? '').split(':')) {
    try {
      closeSync(openSync(join(p, cmd), 'r'));
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

/** The port an `omirr serve` child prints ("listening on HOST:PORT") on its stdout. */
export function servePort(serve: ChildProcess): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let out = '';
    serve.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    serve.once('exit', () => reject(new Error('omirr serve exited')));
  });
}
