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
  type StatusLine,
  type StatusRecord,
} from '../core/mmStatus.js';
import { decideRun, type RetryDecision, type RetryHours } from '../core/mmRetry.js';
import { isHolderAlive, isSameProcessAlive, ownStartTicks } from './mmLiveness.js';

export const STATUS_FILE = 'mm.status';

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
}

export interface CheckResult {
  record?: StatusRecord;
  decision: RetryDecision;
}

export interface LockResult extends CheckResult {
  acquired: boolean;
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

export class MmStatusStore {
  readonly path: string;
  readonly lockPath: string;
  private readonly opts: MmStatusStoreOptions;
  private readonly isAlive: (pid: number, lockedSince: number) => boolean;
  private readonly now: () => number;
  /** In-process queue: one file-lock attempt at a time per store, FIFO. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(opts: MmStatusStoreOptions) {
    this.opts = opts;
    this.path = join(opts.home, STATUS_FILE);
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
    const record = findStatus(await this.readAll(), sitePackage);
    this.showRead(sitePackage, record);
    return { record, decision: this.decide(record, hours, ignoreTimers) };
  }

  /**
   * Take the job's lock if it may run: decide and write `l` + pid in ONE critical section,
   * so two processes that both found the job due cannot both start it.
   */
  async lockForRun(sitePackage: string, hours: RetryHours, ignoreTimers: boolean, pid: number): Promise<LockResult> {
    return this.update<LockResult>((lines) => {
      const record = findStatus(lines, sitePackage);
      this.showRead(sitePackage, record);
      const decision = this.decide(record, hours, ignoreTimers);
      if (!decision.run) return { result: { acquired: false, record, decision } };
      const next = applyJobStart(lines, sitePackage, this.now(), pid);
      this.showWrite(sitePackage, record, next);
      return { lines: next, result: { acquired: true, record, decision } };
    });
  }

  /** Record the pid of the job's process once it exists (so the lock follows the child). */
  async setPid(sitePackage: string, pid: number): Promise<void> {
    await this.update((lines) => {
      const next = applyPid(lines, sitePackage, pid);
      this.showWrite(sitePackage, findStatus(lines, sitePackage), next);
      return { lines: next, result: undefined };
    });
  }

  /** The job ended: LAST_TRIED=now, STATUS=waitStatus (0 resets it), unlocked. */
  async recordEnd(sitePackage: string, waitStatus: number): Promise<StatusRecord | undefined> {
    return this.update((lines) => {
      const next = applyJobEnd(lines, sitePackage, this.now(), waitStatus);
      this.showWrite(sitePackage, findStatus(lines, sitePackage), next);
      return { lines: next, result: findStatus(next, sitePackage) };
    });
  }

  /**
   * Read-modify-write under the cross-process mutex. `fn` returns the new lines (or none to
   * leave the file alone) and a result. The file is replaced by rename, never truncated.
   */
  async update<T>(fn: (lines: StatusLine[]) => { lines?: StatusLine[]; result: T }): Promise<T> {
    const run = async () => {
      const release = await this.acquireMutex();
      try {
        const text = await readOrEmpty(this.path);
        const { lines, result } = fn(parseStatusFile(text ?? ''));
        if (lines) await this.writeAtomically(formatStatusFile(lines));
        return result;
      } finally {
        await release();
      }
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private decide(record: StatusRecord | undefined, hours: RetryHours, ignoreTimers: boolean): RetryDecision {
    return decideRun(record, hours, { now: this.now(), ignoreTimers, isAlive: this.isAlive });
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

  private async writeAtomically(text: string): Promise<void> {
    const tmp = `${this.path}.tmp.${process.pid}.${randomBytes(4).toString('hex')}`;
    let mode = 0o644;
    try {
      mode = (await fsp.stat(this.path)).mode & 0o7777;
    } catch {
      /* new file */
    }
    const fh = await fsp.open(tmp, 'w', mode);
    try {
      await fh.writeFile(text, 'utf8');
      if (this.opts.fsync !== false) await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fsp.rename(tmp, this.path);
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
