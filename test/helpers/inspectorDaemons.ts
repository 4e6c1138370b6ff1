// Real `omirr daemon --inspect` processes for the inspector's tests, on top of the daemon
// fixtures (keys, omirr.conf, state dirs: test/helpers/daemonFixtures.ts): starts a node
// with --inspect 127.0.0.1:0 and a private runtime dir (so `omirr inspect` finds it),
// and reads /metrics as a map.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlRequest, controlSocketPath } from '../../src/daemon/controlSocket.js';
import { Cluster, omirrBin, until, type DaemonProc } from './daemonFixtures.js';

export { Cluster, until };

export interface InspectedDaemon extends DaemonProc {
  url: string;
}

/** Starts `omirr daemon -c <conf> --inspect 127.0.0.1:0`; resolves once its control socket answers and its URL is known. */
export async function startInspected(c: Cluster, name: string, runtimeDir: string): Promise<InspectedDaemon> {
  const n = c.nodes.get(name)!;
  const urlFile = join(c.dir, `${name}.inspect-url`);
  let err = '';
  const proc = spawn(process.execPath, [omirrBin, 'daemon', '-c', n.conf, '--inspect', '127.0.0.1:0', '--inspect-url-file', urlFile], {
    env: { ...process.env, OMIRR_STATE_DIR: n.state, OMIRR_RUNTIME_DIR: runtimeDir, OMIRR_LOG_LEVEL: process.env.OMIRR_TEST_LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 4_000_000) err = err.slice(-2_000_000);
  });
  const dp: InspectedDaemon = { proc, stderr: () => err, url: '' };
  c.procs.set(name, dp);
  dp.url = await until(
    async () => {
      if (proc.exitCode !== null) throw new Error(`daemon ${name} exited with ${proc.exitCode}: ${err}`);
      if (!existsSync(urlFile)) return undefined;
      await c.status(name);
      return readFileSync(urlFile, 'utf8').trim();
    },
    `daemon ${name} to answer with its inspector`,
    20_000,
  );
  return dp;
}

/** A control-socket command (pause, resume, rescan, ...) to a node. */
export function control<T = unknown>(c: Cluster, name: string, cmd: string, args: Record<string, unknown> = {}): Promise<T> {
  return controlRequest<T>(controlSocketPath(c.nodes.get(name)!.state), cmd, args, { timeoutMs: 3000 });
}

/** GET /metrics, as `name{labels}` -> value (labels as rendered, in label order). */
export async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(new URL('metrics', url));
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Runs the CLI synchronously (for quick commands like `omirr inspect`). */
export function omirrSync(args: string[], env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [omirrBin, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}
