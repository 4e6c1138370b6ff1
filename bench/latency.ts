// `npm run bench:latency`: how long from a write on one node until the file is complete,
// with the right content, on the others. Real daemons on 127.0.0.1 (the test fixtures'
// Cluster), one writer and 1 or 8 peers (a star: each peer linked to the writer).
//   - 4 KiB and 1 MiB files, SAMPLES writes each (default 200), one at a time: p50/p95/p99
//     of the time until the LAST peer has it (and until the first);
//   - a burst of 10,000 small files to 4 peers: time until every peer has every file;
//   - the apply journal's cost per batch (scenario `journal`): the daemon's own ApplyJournal
//     appending batches of 1 and 100 records (one write and one fdatasync each) in a state
//     directory on the same file system, p50/p95/p99 per batch: what every received batch
//     waits before the disk changes (durability before acknowledgement, issue 9).
// Arrival is seen with fs.watch on each peer's tree (the rename into place), then the
// content is read and compared (bench/latencyProbe.ts). Not a test: numbers only.
// The same probe then runs, in the same scenario, against lsyncd (delay = 0; one-way) and
// Syncthing (fsWatcherDelayS = 1, its minimum) when they are on PATH; a tool that is not
// installed is skipped with a line saying so. A table of all tools closes the run.
// Env: SAMPLES (default 200; omirr and lsyncd), ST_SAMPLES (Syncthing, default 30: each
// write takes ~1-2 s there), SCENARIOS (default journal,p1,p8,burst), TOOLS (default
// omirr,lsyncd,syncthing), SIZES (default 4096,1048576).
// Scenarios: pN = latency with N peers (p1, p8, p16: the 16-peer star of issue 12 "Scale",
// 17 daemons); burst = the 10,000-file burst to 4 peers; burstN = the same burst to N peers
// (burst16: every one of 16 peers must have all 10,000 files); journal (above).
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IndexRecord } from '../src/core/treeIndex.js';
import { ApplyJournal } from '../src/replica/journal.js';
import { Cluster } from '../test/helpers/daemonFixtures.js';
import { onPath } from './childGroup.js';
import { burst, burstLine, fmt, latencyLine, measureLatency, pct, type BurstResult, type LatencyResult, type Mirror } from './latencyProbe.js';
import { startLsyncd } from './lsyncdProbe.js';
import { cpuSeconds } from './procCpu.js';
import { startSyncthing, SYNCTHING_DEFAULT_WATCH_DELAY_S, SYNCTHING_WATCH_DELAY_S } from './syncthingProbe.js';

const SAMPLES = Number(process.env.SAMPLES ?? 200);
const ST_SAMPLES = Number(process.env.ST_SAMPLES ?? 30);
const TOOLS = (process.env.TOOLS ?? 'omirr,lsyncd,syncthing').split(',');
const BURST_FILES = 10_000;
const BURST_PEERS = 4;
const SIZES = (process.env.SIZES ?? '4096,1048576').split(',').map(Number);

/** 'p16' -> 16 peers of latency; 'burst' -> 4 peers of burst; 'burst16' -> 16. */
function parseScenario(s: string): { kind: 'latency' | 'burst'; peers: number } {
  const m = /^(p|burst)(\d*)$/.exec(s);
  if (!m || (m[1] === 'p' && m[2] === '')) throw new Error(`unknown scenario ${s} (pN, burst, burstN)`);
  return m[1] === 'p' ? { kind: 'latency', peers: Number(m[2]) } : { kind: 'burst', peers: m[2] ? Number(m[2]) : BURST_PEERS };
}

async function star(peers: number, attempts = 3): Promise<Cluster> {
  const names = ['w', ...Array.from({ length: peers }, (_, i) => `p${i}`)];
  for (let attempt = 1; ; attempt++) {
    const c = await Cluster.create(names, { links: names.slice(1).map((n) => ['w', n] as [string, string]) });
    try {
      await c.startAll();
      await c.waitLive(names, 60_000);
      return c;
    } catch (err) {
      // a daemon that failed to start must not leave the other 16 running: the fixtures'
      // Cluster only stops them in close(). A port taken between freePort and listen (17
      // daemons pick free ports at once, on a machine others use too) is worth another try.
      await c.close();
      if (attempt >= attempts || !/address already in use/.test((err as Error).message)) throw err;
      console.log(`star of ${peers}: a port was taken before its daemon listened; starting again (${attempt}/${attempts})`);
    }
  }
}

/** omirr as a Mirror: the Cluster's writer and peer trees. */
async function startOmirr(peers: number): Promise<Mirror> {
  const c = await star(peers);
  const names = Array.from({ length: peers }, (_, i) => `p${i}`);
  const pids = ['w', ...names].map((n) => c.procs.get(n)!.proc.pid!);
  return { writer: c.tree('w'), peers: names.map((n) => c.tree(n)), close: () => c.close(), pids };
}

interface Tool {
  name: string;
  start(peers: number): Promise<Mirror>;
  samples: number;
  note: string;
}

const tools: Tool[] = [
  { name: 'omirr', start: startOmirr, samples: SAMPLES, note: 'two-way daemons, star' },
  { name: 'lsyncd', start: startLsyncd, samples: SAMPLES, note: 'delay=0, default.rsync to local dirs, ONE-WAY' },
  {
    name: 'syncthing',
    start: startSyncthing,
    samples: ST_SAMPLES,
    note: `fsWatcherDelayS=${SYNCTHING_WATCH_DELAY_S} (default ${SYNCTHING_DEFAULT_WATCH_DELAY_S}), star on 127.0.0.1`,
  },
];

/** CPU seconds of each mirroring process (omirr: the writer's daemon first), or undefined. */
function cpuOf(m: Mirror): number[] | undefined {
  try {
    return m.pids?.map((p) => cpuSeconds(p));
  } catch {
    return undefined; // a process gone: no figure rather than a wrong one
  }
}

/** 'CPU per write: all X ms (writer Y, each peer Z)': what the daemons spent between two cpuOf readings. */
function cpuLine(before: number[] | undefined, after: number[] | undefined, per: number, unit: string, scale: number): string {
  if (!before || !after) return '';
  const d = after.map((a, i) => a - before[i]!);
  const all = d.reduce((x, y) => x + y, 0);
  const peers = d.slice(1);
  const each = peers.length ? peers.reduce((x, y) => x + y, 0) / peers.length : 0;
  const f = (v: number) => ((v / per) * scale).toFixed(scale === 1 ? 2 : 1);
  return `  CPU ${unit}: all ${f(all)} (writer ${f(d[0]!)}, each peer ${f(each)})`;
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

interface Row {
  what: string;
  tool: string;
  lat?: LatencyResult;
  burst?: BurstResult;
  load: string;
}
const rows: Row[] = [];

console.log(`load average at start: ${load()}`);
const active: Tool[] = [];
for (const t of tools) {
  if (!TOOLS.includes(t.name)) continue;
  if (t.name !== 'omirr' && !onPath(t.name)) {
    console.log(`${t.name}: not installed (not on PATH), skipped`);
    continue;
  }
  active.push(t);
  console.log(`${t.name}: ${t.note}; ${t.name === 'omirr' ? '' : 'comparison, '}n=${t.samples} per size`);
}

/** The journal's append (write + fdatasync) per batch of `batch` records, `n` times: ms each. */
async function journalAppends(batch: number, n: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'omirr-bench-journal-'));
  const j = new ApplyJournal(dir, 'bench');
  const rec = (i: number): IndexRecord => ({
    entry: { path: `d${i % 100}/file-${i}.txt`, kind: 'file', size: 4096, mtimeMs: 1_700_000_000_000 + i, mode: 0o644, hash: 'ab'.repeat(32) },
    version: { w: 1_700_000_000_000 + i, p0: 1_700_000_000_000 },
  });
  const out: number[] = [];
  try {
    let k = 0;
    for (let i = 0; i < n; i++) {
      const recs = Array.from({ length: batch }, () => rec(k++));
      const t0 = performance.now();
      await j.append('w', recs);
      out.push(performance.now() - t0);
    }
  } finally {
    await j.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const scenarios = (process.env.SCENARIOS ?? 'journal,p1,p8,burst').split(',');
const journalRows: string[] = [];
for (const s of scenarios) {
  if (s === 'journal') {
    for (const batch of [1, 100]) {
      const l = load();
      const ms = await journalAppends(batch, SAMPLES);
      const line = `| journal append + fdatasync, ${batch} record(s) per batch | omirr | ${ms.length} | ${fmt(pct(ms, 50))} | ${fmt(pct(ms, 95))} | ${fmt(pct(ms, 99))} | ${l} |`;
      console.log(`journal: ${batch} record(s) per batch, n=${ms.length}: p50 ${fmt(pct(ms, 50))} ms, p95 ${fmt(pct(ms, 95))} ms, p99 ${fmt(pct(ms, 99))} ms (load ${l})`);
      journalRows.push(line);
    }
    continue;
  }
  const { kind, peers } = parseScenario(s);
  for (const t of active) {
    const prefix = t.name === 'omirr' ? '' : `[${t.name}] `;
    const m = await t.start(peers);
    try {
      const l = load();
      if (kind === 'burst') {
        const c0 = cpuOf(m);
        const r = await burst(m.writer, m.peers, BURST_FILES);
        console.log(burstLine(prefix, peers, r) + cpuLine(c0, cpuOf(m), 1, 's', 1));
        rows.push({ what: `burst ${BURST_FILES} files, ${peers} peers`, tool: t.name, burst: r, load: l });
      } else {
        for (const size of SIZES) {
          const label = `${peers} peer(s), ${size % 1024 === 0 && size < 1 << 20 ? `${size / 1024} KiB` : size % (1 << 20) === 0 ? `${size >> 20} MiB` : `${size} B`}`;
          const c0 = cpuOf(m);
          const r = await measureLatency(m.writer, m.peers, size, t.samples);
          console.log(prefix + latencyLine(label, r) + cpuLine(c0, cpuOf(m), t.samples, 'per write, ms', 1000));
          rows.push({ what: label, tool: t.name, lat: r, load: l });
        }
      }
    } finally {
      await m.close();
    }
  }
}

// Every tool beside omirr, per scenario: until the LAST peer has the file, ms.
console.log('\nsummary (ms until the last peer has it; load = load average 1/5/15 min before the tool ran)');
console.log('| what | tool | n | p50 | p95 | p99 | load |');
console.log('|---|---|---|---|---|---|---|');
const order = [...new Set(rows.map((r) => r.what))];
for (const r of [...rows].sort((a, b) => order.indexOf(a.what) - order.indexOf(b.what))) {
  if (r.lat) console.log(`| ${r.what} | ${r.tool} | ${r.lat.n} | ${fmt(pct(r.lat.last, 50))} | ${fmt(pct(r.lat.last, 95))} | ${fmt(pct(r.lat.last, 99))} | ${r.load} |`);
  else if (r.burst) console.log(`| ${r.what} | ${r.tool} | 1 | all on every peer: ${fmt(r.burst.last)} (first peer ${fmt(r.burst.first)}) | | | ${r.load} |`);
}
for (const l of journalRows) console.log(l);
