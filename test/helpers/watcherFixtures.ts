// Test helpers for the tree watcher: collect its events and wait for conditions on them
// (checked on every event, with a deadline; never a fixed sleep).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TreeWatcher, type WatcherEvent, type WatcherOptions } from '../../src/actors/watcher.js';

export function tempTree(t: { after: (fn: () => void) => void }, prefix = 'omirr-watch-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Every file (and link) below `rel` in `root`, tree-relative: what a daemon's rescan would find. */
export function walkFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  let ents;
  try {
    ents = readdirSync(rel === '' ? root : join(root, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of ents) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...walkFiles(root, p));
    else out.push(p);
  }
  return out;
}

export class WatchCollector {
  readonly events: WatcherEvent[] = [];
  /** Paths reported present (by an event or by walking a requested rescan), minus those reported gone. */
  readonly present = new Set<string>();
  /** Every path ever reported present. */
  readonly seen = new Set<string>();
  readonly gone = new Set<string>();
  readonly rescans: Array<{ path: string; reason: string }> = [];
  readonly watcher: TreeWatcher;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly root: string,
    opts: Partial<WatcherOptions> = {},
    /** Walk each requested rescan subtree as the daemon would (adds its files to present/seen). */
    private readonly walkRescans = true,
  ) {
    this.watcher = new TreeWatcher({ persistent: false, ...opts, root }, (ev) => this.on(ev));
  }

  start(): Promise<void> {
    return this.watcher.start();
  }

  close(): void {
    this.watcher.close();
  }

  private on(ev: WatcherEvent): void {
    this.events.push(ev);
    if (ev.type === 'watch.changes') {
      for (const m of ev.moves) {
        this.markGone(m.from);
        this.markPresent(m.to);
      }
      for (const c of ev.changes) {
        if (c.kind === 'gone') this.markGone(c.path);
        else this.markPresent(c.path);
      }
    } else if (ev.type === 'watch.rescan') {
      this.rescans.push({ path: ev.path, reason: ev.reason });
      if (this.walkRescans) for (const p of walkFiles(this.root, ev.path)) this.markPresent(p);
    }
    for (const w of [...this.waiters]) w();
  }

  private markPresent(p: string): void {
    this.present.add(p);
    this.seen.add(p);
    this.gone.delete(p);
  }

  private markGone(p: string): void {
    this.present.delete(p);
    this.gone.add(p);
  }

  /** Resolves when cond() holds (checked now, on every event and every pollMs), rejects after timeoutMs. */
  waitFor(cond: () => boolean, what: string, timeoutMs = 10_000, pollMs = 25): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond()) return;
        cleanup();
        resolve();
      };
      const poll = setInterval(check, pollMs);
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearInterval(poll);
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  changesFor(path: string): Array<{ kind: string; ino?: number }> {
    const out: Array<{ kind: string; ino?: number }> = [];
    for (const ev of this.events) if (ev.type === 'watch.changes') for (const c of ev.changes) if (c.path === path) out.push(c);
    return out;
  }

  moves(): Array<{ from: string; to: string }> {
    const out: Array<{ from: string; to: string }> = [];
    for (const ev of this.events) if (ev.type === 'watch.changes') out.push(...ev.moves.map((m) => ({ from: m.from, to: m.to })));
    return out;
  }
}
