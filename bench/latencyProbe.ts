// The write -> arrival probe of `npm run bench:latency`, on plain directories so the same
// probe runs against omirr, lsyncd and Syncthing: write a file in the writer's tree, wait
// until every peer's tree has it with the right content.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, watch, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** A running mirror set up by a probe: writes in `writer` should reach every dir in `peers`. */
export interface Mirror {
  writer: string;
  peers: string[];
  close(): Promise<void>;
  /** The processes doing the mirroring (omirr: the writer's daemon first, then the peers'), for CPU figures. */
  pids?: number[];
}

export interface LatencyResult {
  n: number;
  last: number[];
  first: number[];
}

export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
export const fmt = (n: number): string => n.toFixed(2);

/** Resolves when `name` in `dir` has exactly `want` (sha256 hex) as content. Arrival is seen
 *  with fs.watch (every tool here renames a complete temp file into place), then the content
 *  is read and compared. Rejects after `timeoutMs` so a tool that never delivers fails the
 *  run instead of hanging it. */
export function arrival(dir: string, name: string, want: string, timeoutMs = 120_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      try {
        const got = createHash('sha256').update(readFileSync(join(dir, name))).digest('hex');
        if (got === want) {
          w.close();
          clearTimeout(timer);
          resolve(performance.now());
          return true;
        }
      } catch {
        /* not there yet */
      }
      return false;
    };
    const w = watch(dir, (_ev, f) => {
      if (f === name) check();
    });
    const timer = setTimeout(() => {
      w.close();
      reject(new Error(`${name} did not arrive in ${dir} within ${timeoutMs} ms`));
    }, timeoutMs);
    check();
  });
}

/** Writes one small file and waits until every peer has it: the mirror is up and watching. */
export async function waitMirroring(m: Mirror, timeoutMs: number): Promise<void> {
  const name = `.ready-${process.hrtime.bigint()}`;
  const data = `ready ${name}\n`;
  const want = createHash('sha256').update(data).digest('hex');
  const waits = m.peers.map((p) => arrival(p, name, want, timeoutMs));
  writeFileSync(join(m.writer, name), data);
  await Promise.all(waits);
}

/** `samples` writes of `size` random bytes, one at a time: per write, the time until the
 *  last peer has it and until the first has it (ms). */
export async function measureLatency(writer: string, peers: string[], size: number, samples: number, tag = ''): Promise<LatencyResult> {
  const last: number[] = [];
  const first: number[] = [];
  for (let i = 0; i < samples; i++) {
    const name = `lat${tag}-${size}-${i}.bin`;
    const data = randomBytes(size);
    const want = createHash('sha256').update(data).digest('hex');
    const waits = peers.map((p) => arrival(p, name, want));
    const t0 = performance.now();
    writeFileSync(join(writer, name), data);
    const times = await Promise.all(waits);
    last.push(Math.max(...times) - t0);
    first.push(Math.min(...times) - t0);
  }
  return { n: samples, last, first };
}

export function latencyLine(label: string, r: LatencyResult): string {
  return (
    `${label}: n=${r.n}  last peer p50 ${fmt(pct(r.last, 50))} ms  p95 ${fmt(pct(r.last, 95))} ms  p99 ${fmt(pct(r.last, 99))} ms` +
    `   first peer p50 ${fmt(pct(r.first, 50))} ms  p95 ${fmt(pct(r.first, 95))} ms`
  );
}

export interface BurstResult {
  files: number;
  written: number;
  last: number;
  first: number;
}

/** A burst's files per directory. */
const PER_DIR = 100;

/** `files` small files in directories of 100, written as fast as possible; polls every peer
 *  until it holds them all (count only; contents are checked by the latency probe). */
export async function burst(writer: string, peers: string[], files: number, timeoutMs = 300_000): Promise<BurstResult> {
  const dir = join(writer, 'burst');
  const t0 = performance.now();
  for (let d = 0; d < files / PER_DIR; d++) {
    mkdirSync(join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < PER_DIR; f++) writeFileSync(join(dir, `d${d}`, `f${f}`), `${d}/${f}\n`);
  }
  const written = performance.now() - t0;
  // Names starting with '.' are the tools' temp files (omirr, rsync, Syncthing): not arrived.
  // A directory found whole is not listed again: no tool removes an arrived file during the
  // burst, and listing every directory of every peer every 20 ms cost ~5 ms of CPU a peer
  // (tmpfs), a third of a core taken from the tools measured (docs/performance.md, "tenth pass").
  const whole = new Set<string>();
  const count = (root: string): number => {
    let n = 0;
    try {
      for (const d of readdirSync(join(root, 'burst'))) {
        const at = join(root, 'burst', d);
        if (whole.has(at)) {
          n += PER_DIR;
          continue;
        }
        const k = readdirSync(at).filter((f) => !f.startsWith('.')).length;
        if (k >= PER_DIR) whole.add(at);
        n += k;
      }
    } catch {
      /* not yet */
    }
    return n;
  };
  const done = new Map<string, number>();
  while (done.size < peers.length) {
    for (const p of peers) if (!done.has(p) && count(p) >= files) done.set(p, performance.now() - t0);
    if (performance.now() - t0 > timeoutMs) throw new Error(`burst did not arrive in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { files, written, last: Math.max(...done.values()), first: Math.min(...done.values()) };
}

export function burstLine(label: string, peers: number, r: BurstResult): string {
  return `${label}burst of ${r.files} files to ${peers} peers: written in ${fmt(r.written)} ms, on every peer after ${fmt(r.last)} ms (first peer ${fmt(r.first)} ms)`;
}
