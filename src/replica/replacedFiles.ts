// The daemon's side of the grace period of replaced files (src/replica/placement.ts,
// parkReplaced / settleReplaced): after a batch leaves files parked in the tree's aside
// directory, a timer settles them once their grace period is over, on the tree's queue (so
// never between a plan and its placing). A parked file that was written meanwhile (a local
// process held it open) is kept under the normal conflict-copy name and handed to the
// replica as a local change, so it replicates like any other. At start, files a crash left
// parked are settled the same way; at stop they stay parked for the next start.
import { conflictName } from '../core/conflict.js';
import type { Logger } from '../log.js';
import { REPLACED_GRACE_MS, settleReplaced, tidyAside, type PlaceFs } from './placement.js';
import type { Clock } from './ports.js';

export interface ReplacedFilesOptions {
  fs: PlaceFs;
  /** The tree's clock (src/replica/ports.ts): the grace period's timer and its now. */
  clock: Clock;
  root: string;
  /** This node's name: the conflict copies' NODE part. */
  node: string;
  log: Logger;
  /** Runs `fn` on the tree's queue. */
  enqueue(fn: () => Promise<void>): Promise<void>;
  /** Parked files kept as conflict copies: local versions now (ingest and send them). */
  kept(paths: string[]): Promise<void>;
}

/**
 * The grace period: REPLACED_GRACE_MS, or OMIRR_REPLACED_GRACE_MS (milliseconds) from the
 * environment, for a site whose writers hold files open longer (and for the tests, which
 * make it long to crash a daemon while a file is parked, whatever the machine's load).
 */
export function replacedGraceMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.OMIRR_REPLACED_GRACE_MS;
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : REPLACED_GRACE_MS;
}

export class ReplacedFiles {
  private timer: unknown;
  private stopped = false;
  private readonly graceMs = replacedGraceMs();

  constructor(private readonly o: ReplacedFilesOptions) {}

  /**
   * After a batch: removes the aside directory when empty; else settles what is parked there
   * later. While a settling pass is pending, files are parked there (only that pass takes
   * them out), so the directory is not looked at (an lstat and a failing rmdir, with its
   * exception, per batch on a busy receiver); the pass removes it once it is empty.
   */
  tidy(): void {
    if (this.timer !== undefined) return;
    if (tidyAside(this.o.fs, this.o.root)) this.schedule();
  }

  /** A settling pass once the grace period of what is parked now is over (one timer at a time). */
  schedule(): void {
    if (this.timer || this.stopped) return;
    // a little past the grace period: a file parked just now is due by then
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      void this.o.enqueue(() => this.settle()).catch((err) => {
        this.o.log.error({ err: (err as Error).message }, 'could not settle replaced files (retried)');
        this.schedule();
      });
    }, Math.min(this.graceMs + 100, 2 ** 31 - 1));
  }

  /** Settles the parked files that are due; reschedules for the rest. */
  async settle(): Promise<void> {
    if (this.stopped) return;
    const { fs, root, node, log } = this.o;
    const r = settleReplaced(fs, root, this.o.clock.now(), (rel, st) => [{ name: conflictName(rel, new Date(st.mtimeMs), node) }], this.graceMs);
    for (const k of r.kept) log.warn({ path: k.path, keptAs: k.keptAs }, 'a file replaced by a peer\'s version was written after it was replaced (a process held it open): kept as a conflict copy');
    if (r.kept.length > 0) await this.o.kept(r.kept.map((k) => k.keptAs));
    if (r.waiting > 0) this.schedule();
    else tidyAside(fs, root);
  }

  /** At stop: no more passes; what is parked stays for the next start. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
