// mm.status on disk, shared safely by every omirr mm process on one home.
//
// The original meant to flock() the file but never did ($LOCK_EX was undefined), so two mm
// runs could start the same package twice and lose each other's updates. Here every
// read-modify-write happens under a real cross-process mutex, `mm.status.lock`:
//   * taken by link(2)ing a complete temp file to the lock name (atomic, fails if it exists),
//     so a reader never sees a half-written holder;
//   * it names its holder as `pid startTicks token`; a holder that died (or whose pid now
//     belongs to a later process, or is a zombie) no longer holds it;
//   * a dead holder's lock is broken under a second, short-lived lock (`.steal`), after
//     checking the content is still the dead holder's, so two breakers cannot both win.
// The file itself is replaced atomically (temp file, fsync, rename), so a crash leaves the old
// or the new file, never a truncated one. Plain reads need no lock for the same reason.
//
// Beside it, `mm.status.jobs` (src/core/mmJobChildren.ts) names the process behind each job
// lock: pid, process group, start time, and the mm that started it. It is written under the
// same mutex, before mm.status, and before the child may start its command
// (src/actors/mmJobProcess.ts), so a lock never hides a running job: a run that finds the
// job's group alive after its mm died waits for it (`orphans: 'wait'`, the default) or stops
// it when the job is due (`orphans: 'stop'`).
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import {
  applyJobEnd,
  applyJobStart,
  applyPid,
  findStatus,
  formatStatusFile,
  formatStatusRecord,
  parseStatusFile,
  upsertStatus,
  type StatusLine,
  type StatusRecord,
} from '../core/mmStatus.js';
import { decideRun, type RetryDecision, type RetryHours } from '../core/mmRetry.js';
import {
  childBehindLock,
  formatJobChildren,
  parseJobChildren,
  removeJobChild,
  setJobChild,
  type JobChild,
  type OrphanPolicy,
} from '../core/mmJobChildren.js';
import { isHolderAlive, isSameProcessAlive, ownStartTicks } from './mmLiveness.js';
import { isJobAlive, isJobOwnerAlive, stopJobGroup } from './mmJobGroup.js';

export const STATUS_FILE = 'mm.status';
/** The processes behind the job locks of mm.status (see src/core/mmJobChildren.ts). */
export const JOBS_FILE = 'mm.status.jobs';

export type { OrphanPolicy };

export interface MmStatusStoreOptions {
  /** The home directory holding mm.status. */
  home: string;
  log?: Logger;
  /** -s: log every status line read (`Status:`) and written (`upd:` / `new:`). */
  showStatus?: boolean;
  /** Give up waiting for another process's mutex after this long (default 60 s). */
  lockTimeoutMs?: number;
  /** fsync the new file before the rename (default true). */
  fsync?: boolean;
  /** Liveness of a job lock's pid (default: isHolderAlive, with the pid-reuse guard). */
  isAlive?: (pid: number, lockedSince: number) => boolean;
  /** Epoch seconds (default: the wall clock). */
  now?: () => number;
  /** Jobs left running by a dead omirr mm (default 'wait'). */
  orphans?: OrphanPolicy;
  /** Is a recorded job still running (default: isJobAlive, its process group from /proc)? */
  isJobAlive?: (child: JobChild) => boolean;
  /** Stop an orphan's process group (default: stopJobGroup). */
  stopJob?: (child: JobChild) => Promise<void>;
}

export interface CheckResult {
  record?: StatusRecord;
  decision: RetryDecision;
}

export interface LockResult extends CheckResult {
  acquired: boolean;
}

/** What `update` callbacks see and may replace: mm.status's lines and mm.status.jobs. */
export interface StatusFiles {
  lines: StatusLine[];
  children: JobChild[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const nowSeconds = () => Math.floor(Date.now() / 1000);
const STEAL_STALE_MS = 10_000;

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function readOrEmpty(path: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (err) {
    if (errCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** `{ children }` without sitePackage's record, or nothing when it has none (no rewrite). */
function withoutChild(children: JobChild[], sitePackage: string): { children?: JobChild[] } {
  const rest = removeJobChild(children, sitePackage);
  return rest.length === children.length ? {} : { children: rest };
}

export class MmStatusStore {
  readonly path: string;
  readonly jobsPath: string;
  readonly lockPath: string;
  private readonly opts: MmStatusStoreOptions;
  private readonly isAlive: (pid: number, lockedSince: number) => boolean;
  private readonly now: () => number;
  /** In-process queue: one file-lock attempt at a time per store, FIFO. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(opts: MmStatusStoreOptions) {
    this.opts = opts;
    this.path = join(opts.home, STATUS_FILE);
    this.jobsPath = join(opts.home, JOBS_FILE);
    this.lockPath = `${this.path}.lock`;
    this.isAlive = opts.isAlive ?? isHolderAlive;
    this.now = opts.now ?? nowSeconds;
  }

  /** The whole file, parsed (no lock: renames make every read see a whole file). */
  async readAll(): Promise<StatusLine[]> {
    return parseStatusFile((await readOrEmpty(this.path)) ?? '');
  }

  /** Read-only timer and lock check for one job (the mm "ok_to_restart" question). */
  async check(sitePackage: string, hours: RetryHours, ignoreTimers: boolean): Promise<CheckResult> {
    const [lines, children] = await Promise.all([this.readAll(), this.readChildren()]);
    const record = findStatus(lines, sitePackage);
    this.showRead(sitePackage, record);
    return { record, decision: this.decide(record, children, hours, ignoreTimers) };
  }

  /**
   * Take the job's lock if it may run: decide and write `l` + pid in ONE critical section,
   * so two processes that both found the job due cannot both start it. With orphans 'stop',
   * a due job still running after its mm died is stopped first (outside the mutex), then
   * decided again.
   */
  async lockForRun(
    sitePackage: string,
    hours: RetryHours,
    ignoreTimers: boolean,
    pid: number,
    /** True once the job that asked was stopped: then no lock is taken (it would name a run that never comes). */
    cancelled: () => boolean = () => false,
  ): Promise<LockResult> {
    for (;;) {
      const r = await this.update<LockResult & { orphan?: JobChild }>(({ lines, children }) => {
        const record = findStatus(lines, sitePackage);
        this.showRead(sitePackage, record);
        const decision = this.decide(record, children, hours, ignoreTimers);
        if (!decision.run || cancelled()) return { result: { acquired: false, record, decision } };
        const orphan = this.orphanToStop(record, children);
        if (orphan) return { result: { acquired: false, record, decision, orphan } };
        const next = applyJobStart(lines, sitePackage, this.now(), pid);
        this.showWrite(sitePackage, record, next);
        // A record left from an earlier run must never be read as this lock's child.
        return { lines: next, ...withoutChild(children, sitePackage), result: { acquired: true, record, decision } };
      });
      if (!r.orphan) return r;
      const o = r.orphan;
      this.opts.log?.warn(
        { job: sitePackage, pid: o.pid, pgid: o.pgid, mmPid: o.mmPid },
        `${sitePackage}: stopping process group ${o.pgid} (pid ${o.pid}), left running by omirr mm ${o.mmPid} which died`,
      );
      await (this.opts.stopJob ?? stopJobGroup)(o);
      this.opts.log?.info({ job: sitePackage, pgid: o.pgid }, `${sitePackage}: stopped process group ${o.pgid}`);
    }
  }

  /**
   * Undo a lockForRun whose job was stopped before it could start its process: the line goes
   * back to `previous` (or away, if there was none), if it is still the lock `pid` took. A
   * lock naming a live process that will never run the job would hold it for as long as that
   * process lives (a daemon that restarted its jobs, a program using the API).
   */
  async giveBack(sitePackage: string, previous: StatusRecord | undefined, pid: number): Promise<void> {
    await this.update(({ lines }) => {
      const now = findStatus(lines, sitePackage);
      if (!now || !now.locked || now.pid !== pid) return { result: undefined };
      const next = previous
        ? upsertStatus(lines, previous)
        : lines.filter((l) => !('record' in l) || l.record.sitePackage !== sitePackage);
      this.showWrite(sitePackage, now, next);
      return { lines: next, result: undefined };
    });
  }

  /**
   * The job's process exists and waits to be let go: record it (pid, group, start time, and
   * this mm) in mm.status.jobs, and its pid in the lock line, so the lock follows the child.
   */
  async recordChild(child: JobChild): Promise<void> {
    await this.update(({ lines, children }) => {
      const next = applyPid(lines, child.sitePackage, child.pid);
      this.showWrite(child.sitePackage, findStatus(lines, child.sitePackage), next);
      return { lines: next, children: setJobChild(children, child), result: undefined };
    });
  }

  /** The job ended: LAST_TRIED=now, STATUS=waitStatus (0 resets it), unlocked. */
  async recordEnd(sitePackage: string, waitStatus: number): Promise<StatusRecord | undefined> {
    return this.update(({ lines, children }) => {
      const next = applyJobEnd(lines, sitePackage, this.now(), waitStatus);
      this.showWrite(sitePackage, findStatus(lines, sitePackage), next);
      return { lines: next, ...withoutChild(children, sitePackage), result: findStatus(next, sitePackage) };
    });
  }

  /** mm.status.jobs, parsed (no lock needed: replaced by rename like mm.status). */
  async readChildren(): Promise<JobChild[]> {
    return parseJobChildren((await readOrEmpty(this.jobsPath)) ?? '');
  }

  /**
   * Read-modify-write under the cross-process mutex. `fn` returns new mm.status lines and/or
   * mm.status.jobs records (or neither, to leave the files alone) and a result. Both files are
   * replaced by rename, never truncated; mm.status.jobs first, so a lock line never names a
   * child that is not recorded.
   */
  async update<T>(fn: (files: StatusFiles) => { lines?: StatusLine[]; children?: JobChild[]; result: T }): Promise<T> {
    const run = async () => {
      const release = await this.acquireMutex();
      try {
        const [text, jobs] = await Promise.all([readOrEmpty(this.path), readOrEmpty(this.jobsPath)]);
        const { lines, children, result } = fn({ lines: parseStatusFile(text ?? ''), children: parseJobChildren(jobs ?? '') });
        if (children) {
          // No fsync: the file matters only while its processes may live, and after a power
          // loss none do; against a killed mm, rename order in the page cache is enough.
          if (children.length > 0) await this.writeAtomically(this.jobsPath, formatJobChildren(children), false);
          else if (jobs !== undefined) await fsp.unlink(this.jobsPath).catch(() => undefined);
        }
        if (lines) await this.writeAtomically(this.path, formatStatusFile(lines), this.opts.fsync !== false);
        return result;
      } finally {
        await release();
      }
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * mm's ok_to_restart. A lock with a recorded child is alive while the child's process
   * group runs (even when its mm died and its shell ended); with orphans 'stop', an orphan
   * counts as a dead lock here (it is stopped before the job runs again). A lock without
   * one (the mm's own pid before the child is recorded, or a line of the original mm) is
   * alive while its pid is.
   */
  private decide(record: StatusRecord | undefined, children: JobChild[], hours: RetryHours, ignoreTimers: boolean): RetryDecision {
    const child = childBehindLock(children, record);
    const isAlive = child
      ? () => this.jobAlive(child) && !(this.opts.orphans === 'stop' && !isJobOwnerAlive(child))
      : this.isAlive;
    const d = decideRun(record, hours, { now: this.now(), ignoreTimers, isAlive });
    // Name the job's process, even if the line still holds its mm's pid.
    return child && !d.run && d.reason === 'locked' ? { ...d, pid: child.pid } : d;
  }

  /** With orphans 'stop': the child behind this lock if it still runs and its mm died. */
  private orphanToStop(record: StatusRecord | undefined, children: JobChild[]): JobChild | undefined {
    if (this.opts.orphans !== 'stop') return undefined;
    const child = childBehindLock(children, record);
    return child && this.jobAlive(child) && !isJobOwnerAlive(child) ? child : undefined;
  }

  private jobAlive(child: JobChild): boolean {
    return (this.opts.isJobAlive ?? isJobAlive)(child);
  }

  private showRead(sitePackage: string, record: StatusRecord | undefined): void {
    if (!this.opts.showStatus || !this.opts.log) return;
    this.opts.log.info(record ? `Status: ${formatStatusRecord(record)}` : `Status: ${sitePackage} (no line)`);
  }

  private showWrite(sitePackage: string, before: StatusRecord | undefined, next: StatusLine[]): void {
    if (!this.opts.showStatus || !this.opts.log) return;
    const after = findStatus(next, sitePackage);
    if (after) this.opts.log.info(`${before ? 'upd' : 'new'}: ${formatStatusRecord(after)}`);
  }

  private async writeAtomically(path: string, text: string, fsync: boolean): Promise<void> {
    const tmp = `${path}.tmp.${process.pid}.${randomBytes(4).toString('hex')}`;
    let mode = 0o644;
    try {
      mode = (await fsp.stat(path)).mode & 0o7777;
    } catch {
      /* new file */
    }
    const fh = await fsp.open(tmp, 'w', mode);
    try {
      await fh.writeFile(text, 'utf8');
      if (fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fsp.rename(tmp, path);
    } catch (err) {
      await fsp.unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /** Take mm.status.lock; resolves to its release function. */
  private async acquireMutex(): Promise<() => Promise<void>> {
    const token = `${process.pid} ${ownStartTicks() ?? '-'} ${randomBytes(8).toString('hex')}\n`;
    const tmp = `${this.lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await fsp.writeFile(tmp, token);
    const deadline = Date.now() + (this.opts.lockTimeoutMs ?? 60_000);
    let delay = 1;
    try {
      for (;;) {
        try {
          await fsp.link(tmp, this.lockPath);
          return async () => {
            // Only remove the lock if it is still ours.
            if ((await readOrEmpty(this.lockPath)) === token) await fsp.unlink(this.lockPath).catch(() => undefined);
          };
        } catch (err) {
          if (errCode(err) !== 'EEXIST') throw err;
        }
        const held = await readOrEmpty(this.lockPath);
        if (held === undefined) continue; // released meanwhile: try again at once
        const [pidText, ticksText] = held.split(' ');
        const pid = Number(pidText);
        const ticks = ticksText === '-' || ticksText === undefined ? undefined : Number(ticksText);
        if (!isSameProcessAlive(pid, ticks)) {
          this.opts.log?.debug({ pid, lock: this.lockPath }, 'breaking the mutex of a dead process');
          await this.breakStale(held, token);
          continue;
        }
        if (Date.now() > deadline) {
          throw new Error(`${this.lockPath}: held by live process ${pid} for too long`);
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 25);
      }
    } finally {
      await fsp.unlink(tmp).catch(() => undefined);
    }
  }

  /** Remove a dead holder's lock, if it is still that holder's, under the `.steal` lock. */
  private async breakStale(deadContent: string, token: string): Promise<void> {
    const steal = `${this.lockPath}.steal`;
    try {
      await fsp.writeFile(steal, token, { flag: 'wx' });
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw err;
      // Someone else is breaking it; if they died doing so (held for seconds), clear theirs.
      try {
        const st = await fsp.stat(steal);
        if (Date.now() - st.mtimeMs > STEAL_STALE_MS) await fsp.unlink(steal);
      } catch {
        /* gone already */
      }
      await sleep(2);
      return;
    }
    try {
      if ((await readOrEmpty(this.lockPath)) === deadContent) await fsp.unlink(this.lockPath).catch(() => undefined);
    } finally {
      await fsp.unlink(steal).catch(() => undefined);
    }
  }
}

/** One store per home directory, so every job of a run shares its in-process queue. */
export class MmStatusStores {
  private readonly stores = new Map<string, MmStatusStore>();
  constructor(private readonly base: Omit<MmStatusStoreOptions, 'home'>) {}
  for(home: string): MmStatusStore {
    let s = this.stores.get(home);
    if (!s) {
      s = new MmStatusStore({ ...this.base, home });
      this.stores.set(home, s);
    }
    return s;
  }
}
