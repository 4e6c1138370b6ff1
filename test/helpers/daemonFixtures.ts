// Fixtures for the daemon's integration tests: N nodes in one temp dir, each with its own
// key (the net helper's writeKeyFile), omirr.conf, state dir and tree; real
// `omirr daemon` processes on 127.0.0.1; tree snapshots (content hash, mode, mtime) and a
// convergence wait that polls them with a deadline.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeKeyFile } from '../../src/net/keys.js';
import { controlRequest, controlSocketPath } from '../../src/daemon/controlSocket.js';
import type { DaemonStatus } from '../../src/daemon/status.js';
import { msFromNs } from './mtime.js';
import { sha256OfFile } from './hashCache.js';
import { asideObjects, nodePlaceFs, type AsideObject } from '../../src/replica/placement.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const omirrBin = join(repoRoot, 'bin', 'omirr.js');

export { freePort } from './loopback.js';
import { freePort } from './loopback.js';

export interface NodeSpec {
  name: string;
  port: number;
  key: string;
  fingerprint: string;
  conf: string;
  tree: string;
  state: string;
  log: string;
}

export interface ClusterOptions {
  /** Pairs that peer with each other; default: every pair. */
  links?: Array<[string, string]>;
  /** Extra lines for every omirr.conf. */
  extra?: string[];
  /** Node name -> fingerprint override to pin (to test a wrong key). */
  pinOverride?: Record<string, string>;
  /** Node name -> words after the tree's peers (a mode: send-only, receive-only, rw, ro). */
  treeFlags?: Record<string, string>;
}

export interface DaemonProc {
  proc: ChildProcess;
  stderr: () => string;
}

export class Cluster {
  readonly nodes = new Map<string, NodeSpec>();
  readonly procs = new Map<string, DaemonProc>();

  private constructor(readonly dir: string, private readonly opts: ClusterOptions) {}

  static async create(names: string[], opts: ClusterOptions = {}): Promise<Cluster> {
    const dir = mkdtempSync(join(tmpdir(), 'omirr-daemon-it-'));
    const c = new Cluster(dir, opts);
    for (const name of names) {
      const key = join(dir, `${name}.key`);
      const fingerprint = writeKeyFile(key);
      const tree = join(dir, name, 'tree');
      mkdirSync(tree, { recursive: true });
      c.nodes.set(name, { name, port: await freePort(), key, fingerprint, conf: join(dir, `${name}.conf`), tree, state: join(dir, `state-${name}`), log: join(dir, `${name}.log`) });
    }
    c.writeConfigs();
    return c;
  }

  peersOf(name: string): string[] {
    const links = this.opts.links;
    const all = [...this.nodes.keys()].filter((n) => n !== name);
    if (!links) return all;
    return all.filter((o) => links.some(([a, b]) => (a === name && b === o) || (a === o && b === name)));
  }

  writeConfigs(): void {
    for (const n of this.nodes.values()) {
      const peers = this.peersOf(n.name);
      const lines = [`node = ${n.name}`, `listen = 127.0.0.1:${n.port}`, `key = ${n.key}`];
      for (const p of peers) {
        const ps = this.nodes.get(p)!;
        lines.push(`peer = ${p} 127.0.0.1:${ps.port} ${this.opts.pinOverride?.[p] ?? ps.fingerprint}`);
      }
      lines.push(`tree = data ${n.tree} ${peers.join(' ')}${this.opts.treeFlags?.[n.name] ? ` ${this.opts.treeFlags[n.name]}` : ''}`);
      lines.push(...(this.opts.extra ?? []));
      writeFileSync(n.conf, lines.join('\n') + '\n');
    }
  }

  tree(name: string): string {
    return this.nodes.get(name)!.tree;
  }

  /**
   * Starts `omirr daemon` for a node and waits until its control socket answers. `as`: run
   * it as that user (uid, gid), its tree, state, key and configuration handed over to it.
   */
  async start(name: string, env: Record<string, string> = {}, as?: { uid: number; gid: number }): Promise<DaemonProc> {
    const n = this.nodes.get(name)!;
    if (as) {
      chmodSync(this.dir, 0o711);
      mkdirSync(n.state, { recursive: true });
      for (const p of [join(this.dir, name), n.state, n.key, n.conf]) execFileSync('chown', ['-R', `${as.uid}:${as.gid}`, p]);
    }
    let err = '';
    // OMIRR_TEST_NODE_ARGS: node flags for every daemon (e.g. `--cpu-prof --cpu-prof-dir=DIR`
    // to profile a bench's star; NODE_OPTIONS cannot carry --cpu-prof)
    const nodeArgs = process.env.OMIRR_TEST_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const proc = spawn(process.execPath, [...nodeArgs, omirrBin, 'daemon', '-c', n.conf], {
      env: { ...process.env, OMIRR_STATE_DIR: n.state, OMIRR_LOG_LEVEL: process.env.OMIRR_TEST_LOG_LEVEL ?? 'warn', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(as ? { uid: as.uid, gid: as.gid } : {}),
    });
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 4_000_000) err = err.slice(-2_000_000);
    });
    const dp: DaemonProc = { proc, stderr: () => err };
    this.procs.set(name, dp);
    await until(async () => {
      if (proc.exitCode !== null) throw new Error(`daemon ${name} exited with ${proc.exitCode}: ${err}`);
      return (await this.status(name).catch(() => undefined)) ? true : undefined;
    }, `daemon ${name} to answer`, 20_000);
    return dp;
  }

  async startAll(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((n) => this.start(n)));
  }

  status(name: string): Promise<DaemonStatus> {
    return controlRequest<DaemonStatus>(controlSocketPath(this.nodes.get(name)!.state), 'status', {}, { timeoutMs: 3000 });
  }

  /** Waits until every link of every running node is live. */
  async waitLive(names = [...this.procs.keys()], timeoutMs = 20_000): Promise<void> {
    for (const n of names) {
      await until(async () => {
        const s = await this.status(n);
        return s.peers.every((p) => p.state === 'live') && s.trees.every((t) => t.state.endsWith('live')) ? true : undefined;
      }, `${n}'s links and trees to be live`, timeoutMs);
    }
  }

  /** SIGTERM, wait for the exit code. */
  async stop(name: string): Promise<number | null> {
    const p = this.procs.get(name);
    if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return p?.proc.exitCode ?? null;
    p.proc.kill('SIGTERM');
    return exited(p.proc, 20_000);
  }

  async kill9(name: string): Promise<void> {
    const p = this.procs.get(name);
    if (!p || p.proc.exitCode !== null) return;
    p.proc.kill('SIGKILL');
    await exited(p.proc, 10_000).catch(() => undefined);
  }

  /** The running ones of `names`: nothing unacknowledged between them, no placing half done. */
  private async atRest(names: string[]): Promise<boolean> {
    for (const n of names) {
      if (placingAside(this.tree(n)).length > 0) return false;
      const p = this.procs.get(n);
      if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) continue;
      const st = await this.status(n).catch(() => undefined);
      if (!st) continue; // not answering (stopped by the test): only its tree counts
      if (st.peers.some((peer) => names.includes(peer.name) && this.isRunning(peer.name) && peer.outboxDepth > 0)) return false;
    }
    return true;
  }

  private isRunning(name: string): boolean {
    const p = this.procs.get(name);
    return p !== undefined && p.proc.exitCode === null && p.proc.signalCode === null;
  }

  async close(): Promise<void> {
    // OMIRR_TEST_DUMP=DIR keeps each daemon's log there (debugging a failed run)
    const dump = process.env.OMIRR_TEST_DUMP;
    if (dump) {
      // a clean stop first: the log's buffered tail is flushed on SIGTERM, lost on SIGKILL
      await Promise.all([...this.procs.keys()].map((n) => this.stop(n).catch(() => undefined)));
      for (const [n, p] of this.procs) writeFileSync(join(dump, `${n}.log`), p.stderr());
    }
    for (const p of this.procs.values()) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    await Promise.all([...this.procs.values()].map((p) => exited(p.proc, 5000).catch(() => undefined)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Waits until every named tree has the same snapshot, and they are at rest: no change
   * between them still unacknowledged (outboxes at 0 between the running ones) and no
   * placing half done (an object moved aside and not yet settled). Equal trees alone are
   * not enough: in the instant between a winner's placing and its loser's linking to the
   * conflict name, both trees can look alike without the loser. Returns the snapshot.
   */
  async converge(names = [...this.nodes.keys()], timeoutMs = 30_000, opts: SnapshotOptions = {}): Promise<Record<string, string>> {
    let last: Record<string, string>[] = [];
    const equal = () => {
      last = names.map((n) => snapshot(this.tree(n), opts));
      const first = JSON.stringify(last[0]);
      return last.every((s) => JSON.stringify(s) === first) ? first : undefined;
    };
    try {
      return await until(async () => {
        const before = equal();
        if (before === undefined || !(await this.atRest(names))) return undefined;
        return equal() === before ? last[0] : undefined;
      }, `trees of ${names.join(', ')} to converge`, timeoutMs, 50, true);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${describeDiff(names, last)}`);
    }
  }
}

/** Objects of a tree's aside directory that are mid-placing (not parked replaced files, which wait out a grace period). */
function placingAside(tree: string): AsideObject[] {
  return (asideObjects(nodePlaceFs, tree) ?? []).filter((o) => !o.parked);
}

/** A snapshot value with its hash cut short, so the mode and mtime that follow it stay visible. */
function shortHashes(v: string): string {
  return v.replace(/[0-9a-f]{64}/g, (h) => h.slice(0, 12));
}

function describeDiff(names: string[], snaps: Record<string, string>[]): string {
  if (snaps.length === 0) return '';
  const keys = new Set(snaps.flatMap((s) => Object.keys(s)));
  const lines: string[] = [];
  for (const k of [...keys].sort()) {
    const vals = snaps.map((s) => s[k] ?? '(missing)');
    if (vals.some((v) => v !== vals[0])) lines.push(`  ${k}: ${names.map((n, i) => `${n}=${shortHashes(vals[i]!)}`).join(' ')}`);
    if (lines.length > 20) break;
  }
  return `differences (first 20):\n${lines.join('\n')}`;
}

export function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('process did not exit')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      res(code);
    });
  });
}

/**
 * Polls `fn` until it returns something other than undefined, or the deadline passes.
 * `paced`: a check that took longer than `everyMs` is followed by a wait as long as itself (up
 * to 1 s), so a costly check (converge's snapshots of 20,000 files) takes at most about half a
 * core from the daemons under test. Not for a check that must catch a short moment.
 */
export async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 20_000, everyMs = 50, paced = false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const checkedAt = Date.now();
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    const now = Date.now();
    if (now > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, paced ? Math.max(everyMs, Math.min(now - checkedAt, 1000)) : everyMs));
  }
}

export interface SnapshotOptions {
  /** Include file mtimes (ms) in the comparison (default true). */
  mtime?: boolean;
}

/**
 * Everything under `dir` except omirr's own temporary names: path -> kind, content hash (or
 * link target), mode and (files) mtime. Equal snapshots mean identical trees.
 */
export function snapshot(dir: string, opts: SnapshotOptions = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const startedAt = Date.now(); // before every lstat below (sha256OfFile's reuse rule)
  const walk = (rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(rel ? join(dir, rel) : dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('.omirr-')) continue;
      const p = rel ? `${rel}/${name}` : name;
      let st;
      try {
        st = lstatSync(join(dir, p), { bigint: true }); // one lstat: kind, mode, mtime and the hash's key
      } catch {
        continue;
      }
      const mode = (Number(st.mode) & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[p] = `link:${readlinkSync(join(dir, p))}`;
      else if (st.isDirectory()) {
        out[p] = `dir:${mode}`;
        walk(p);
      } else {
        let h = '?';
        try {
          h = sha256OfFile(join(dir, p), st, startedAt);
        } catch {
          /* vanished */
        }
        out[p] = `file:${h}:${mode}${opts.mtime === false ? '' : `:${msFromNs(st.mtimeNs)}`}`;
      }
    }
  };
  walk('');
  return out;
}

/** Names of omirr's partial files left anywhere under `dir` (resumable transfers). */
export function partialFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(rel ? join(dir, rel) : dir)) {
      const p = rel ? `${rel}/${name}` : name;
      if (name.startsWith('.omirr-')) out.push(p);
      else if (lstatSync(join(dir, p)).isDirectory()) walk(p);
    }
  };
  walk('');
  return out;
}

/**
 * Waits until no node has omirr's partial files left. Right after the trees converge a
 * batch may still be finishing (its staging directory is removed when it is done, or after
 * 2 s of quiet), so this polls with a deadline; what stays longer is a leak. 30 s: at a load
 * of 21 on two cores the receiver's kept staging directory went 4-11 s after converge()
 * saw the trees equal (daemonStress's kill -9 of the receiver; a leak stays for good).
 */
export async function waitNoPartialFiles(dirs: string[], timeoutMs = 30_000): Promise<void> {
  try {
    await until(async () => (dirs.every((d) => partialFiles(d).length === 0) ? true : undefined), 'no partial files', timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${dirs.map((d) => `${d}: ${partialFiles(d).join(' ')}`).join('; ')}`);
  }
}
