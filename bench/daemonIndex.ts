// Benchmark of the daemon's foundations: index save/load, diffScan of an unchanged tree,
// and the watcher's write-to-event latency. Run: node dist/bench/daemonIndex.js
// Prints medians of 3 (latency: median and p95 of 200 writes).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadIndex, saveIndex } from '../src/actors/indexStore.js';
import { TreeWatcher } from '../src/actors/watcher.js';
import { diffScan, type TreeIndex } from '../src/core/treeIndex.js';
import type { Entry } from '../src/core/entry.js';
import { median } from './args.js';


function makeIndex(n: number): { index: TreeIndex; scan: Entry[] } {
  const index: TreeIndex = new Map();
  const scan: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const e: Entry = { path: `d${i % 200}/f${i}`, kind: 'file', size: 4096, mtimeMs: 1_700_000_000_000 + i, mode: 0o644, ino: 10_000 + i, uid: 1000, gid: 1000 };
    index.set(e.path, { entry: { ...e, hash: (i % 251).toString(16).padStart(64, '0') }, version: { alpha: 1_700_000_000_000 + i, beta: 1_700_000_000_100 } });
    scan.push(e);
  }
  return { index, scan };
}

async function benchIndex(n: number): Promise<void> {
  const state = mkdtempSync(join(tmpdir(), 'omirr-bench-index-'));
  try {
    const { index, scan } = makeIndex(n);
    const save: number[] = [];
    const load: number[] = [];
    const diff: number[] = [];
    let bytes = 0;
    for (let r = 0; r < 3; r++) {
      const s = await saveIndex(state, index, { tree: 'www', node: 'alpha' });
      bytes = s.bytes;
      save.push(s.ms);
      const l = await loadIndex(state, 'www');
      if (l.index.size !== n) throw new Error('lost records');
      load.push(l.ms);
      const t0 = performance.now();
      const d = diffScan(l.index, scan, 'alpha', Date.now());
      diff.push(performance.now() - t0);
      if (d.unchanged !== n) throw new Error('diffScan saw changes');
    }
    console.log(`index ${n} records (${(bytes / 1e6).toFixed(1)} MB): save ${median(save).toFixed(1)} ms, load ${median(load).toFixed(1)} ms, diffScan unchanged ${median(diff).toFixed(1)} ms`);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

async function benchLatency(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'omirr-bench-watch-'));
  let waiting: { path: string; t0: number; done: (ms: number) => void } | null = null;
  const w = new TreeWatcher({ root, persistent: true }, (ev) => {
    if (ev.type !== 'watch.changes' || waiting === null) return;
    const wt = waiting;
    if (ev.changes.some((c) => c.path === wt.path)) {
      waiting = null;
      wt.done(performance.now() - wt.t0);
    }
  });
  await w.start();
  const lat: number[] = [];
  for (let i = 0; i < 200; i++) {
    const path = `f${i}`;
    lat.push(
      await new Promise<number>((done) => {
        waiting = { path, t0: performance.now(), done };
        writeFileSync(join(root, path), 'x');
      }),
    );
  }
  w.close();
  rmSync(root, { recursive: true, force: true });
  const sorted = [...lat].sort((a, b) => a - b);
  console.log(`watcher write-to-report latency: median ${median(lat).toFixed(2)} ms, p95 ${sorted[Math.floor(lat.length * 0.95)]!.toFixed(2)} ms (coalesceMs 0)`);
}

await benchIndex(20_000);
await benchIndex(100_000);
await benchLatency();
