// Test fixtures for the mm machines and CLI (mm supervisor/job tests): a simulated mm world
// (status file in memory, processes that finish on xstate's simulated clock) and real-CLI helpers.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, chmodSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createActor, fromCallback, fromPromise, SimulatedClock, type EventObject } from 'xstate';
import { parseMmInput, type MmParseResult, type MmStatement } from '../../src/core/mmInput.js';
import { applyJobEnd, applyJobStart, applyPid, findStatus, type StatusLine, type StatusRecord } from '../../src/core/mmStatus.js';
import { decideRun } from '../../src/core/mmRetry.js';
import {
  mmJobMachine,
  type MmJobIoInput,
  type MmJobNotice,
  type MmRecordEndInput,
  type MmStatusCheck,
  type MmLockOutcome,
} from '../../src/machines/mmJob.js';
import { mmSupervisorMachine, type MmCommandInput, type MmSupervisorInput } from '../../src/machines/mmSupervisor.js';

/** Let pending promise callbacks (fromPromise actors) run. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

export interface RunRecord {
  sitePackage: string;
  start: number;
  end?: number;
  pid: number;
}

/**
 * A simulated mm world: mm.status as lines in memory, a set of live pids for locks held
 * elsewhere, and mirror runs that take `durationMs` of simulated time and exit with
 * `waitStatus[sp]` (default 0). Every timestamp is the simulated clock's.
 */
export class SimWorld {
  readonly clock = new SimulatedClock();
  status: StatusLine[] = [];
  alive = new Set<number>();
  durationMs: Record<string, number> = {};
  waitStatus: Record<string, number> = {};
  defaultDurationMs = 1000;
  runs: RunRecord[] = [];
  commands: { command: string; at: number }[] = [];
  cmdinOutputs: Record<string, string> = {};
  notices: MmJobNotice[] = [];
  private nextPid = 1000;

  constructor(startMs = 1_700_000_000_000) {
    this.clock.set(startMs);
  }

  nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  record(sp: string): StatusRecord | undefined {
    return findStatus(this.status, sp);
  }

  setRecord(rec: StatusRecord): void {
    this.status = this.status.filter((l) => !('record' in l) || l.record.sitePackage !== rec.sitePackage);
    this.status.push({ record: rec });
  }

  /** Most mirror runs at once, from the recorded start and end times. */
  maxConcurrent(): number {
    const ev: [number, number][] = [];
    for (const r of this.runs) {
      ev.push([r.start, 1]);
      if (r.end !== undefined) ev.push([r.end, -1]);
    }
    ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let cur = 0;
    let max = 0;
    for (const [, d] of ev) max = Math.max(max, (cur += d));
    return max;
  }

  private decide(input: MmJobIoInput) {
    const rec = this.record(input.job.sitePackage);
    return decideRun(rec, input.job, {
      now: this.nowSeconds(),
      ignoreTimers: input.ignoreTimers,
      isAlive: (pid) => this.alive.has(pid),
    });
  }

  jobMachine() {
    return mmJobMachine.provide({
      actors: {
        checkStatus: fromPromise<MmStatusCheck, MmJobIoInput>(async ({ input }) => ({ decision: this.decide(input) })),
        lockJob: fromPromise<MmLockOutcome, MmJobIoInput>(async ({ input }) => {
          const decision = this.decide(input);
          if (!decision.run) return { acquired: false, decision };
          this.status = applyJobStart(this.status, input.job.sitePackage, this.nowSeconds(), 1);
          return { acquired: true, decision };
        }),
        runMirror: fromCallback<EventObject, MmJobIoInput>(({ input, sendBack }) => {
          const sp = input.job.sitePackage;
          const pid = this.nextPid++;
          const run: RunRecord = { sitePackage: sp, start: this.clock.now(), pid };
          this.runs.push(run);
          this.status = applyPid(this.status, sp, pid);
          sendBack({ type: 'MIRROR.STARTED', pid });
          const id = this.clock.setTimeout(() => {
            run.end = this.clock.now();
            sendBack({ type: 'MIRROR.EXITED', waitStatus: this.waitStatus[sp] ?? 0 });
          }, this.durationMs[sp] ?? this.defaultDurationMs);
          return () => this.clock.clearTimeout(id);
        }),
        recordEnd: fromPromise<unknown, MmRecordEndInput>(async ({ input }) => {
          this.status = applyJobEnd(this.status, input.job.sitePackage, this.nowSeconds(), input.waitStatus);
          return undefined;
        }),
      },
      actions: { notify: (_, n: MmJobNotice) => void this.notices.push(n) },
    });
  }

  supervisorMachine() {
    return mmSupervisorMachine.provide({
      actors: {
        job: this.jobMachine(),
        checkHome: fromPromise<string, { home: string; dir: string }>(async ({ input }) => {
          if (input.dir.includes('missing')) throw new Error('ENOENT');
          return resolve(input.home, input.dir);
        }),
        runCommand: fromPromise<number, MmCommandInput>(async ({ input }) => {
          this.commands.push({ command: input.command, at: this.clock.now() });
          return 0;
        }),
        readCommandInput: fromPromise<MmParseResult & { waitStatus: number }, MmCommandInput>(async ({ input }) => {
          this.commands.push({ command: input.command, at: this.clock.now() });
          return { ...parseMmInput(this.cmdinOutputs[input.command] ?? '', `cmdin(${input.loc.file}:${input.loc.line})`), waitStatus: 0 };
        }),
      },
    });
  }

  startSupervisor(text: string, input: Partial<MmSupervisorInput> = {}) {
    const statements: MmStatement[] = parseMmInput(text, 'mm.in').statements;
    const actor = createActor(this.supervisorMachine(), {
      clock: this.clock,
      input: { statements, home: '/home', template: 'mirror $args $site $package', ...input },
    });
    actor.start();
    return actor;
  }

  /** Advance simulated time in steps, letting promises settle after each. */
  async advance(ms: number, stepMs = 100): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) {
      this.clock.increment(Math.min(stepMs, ms - t));
      await flush(3);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Real CLI helpers

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const omirrBin = join(repoRoot, 'bin', 'omirr.js');

export function makeHome(prefix = 'omirr-mm-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeHome(dir: string): void {
  // A job of a CLI mm killed by the test may still be writing its last lines (log, events)
  // while we delete: a directory that is not empty any more is swept again, for up to 10 s.
  // Not rmSync's own maxRetries: it retries only the rmdir, never removes what appeared
  // after its sweep, and sleeps i * retryDelay before try i, synchronously. With 100 x 100 ms
  // one late file blocked the event loop for 505 s: the mmSupervisorApi file went silent
  // until the runner's 180 s timeout, its per-test timeouts unable to fire (CI, twice).
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      rmSync(dir, { recursive: true, force: true });
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EBUSY') || Date.now() > deadline) throw err;
    }
  }
}

/** Write an executable shell script into dir and return its absolute path. */
export function writeScript(dir: string, name: string, body: string): string {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

/**
 * A mirror stand-in (args: site package [mirror-args]) that records `<site>:<package>
 * start <ns> <pid>` / `end` lines (spaces as '_') in
 * events.log (appends of short lines are atomic), waits until the file `release/<site>`
 * exists when asked to (gate), and exits with $EXIT (default 0).
 */
export function writeRecorder(home: string): string {
  return writeScript(
    home,
    'recorder.sh',
    [
      'site="$1"; pkg="$2"; shift 2',
      'key=$(printf %s "$site:$pkg" | tr " " _)',
      'echo "$key start $(date +%s%N) $$" >> events.log',
      'echo "running $site:$pkg args=$*"',
      'if [ -n "$GATE" ]; then i=0; while [ ! -e "release/$site" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; fi',
      'if [ -n "$SLEEP" ]; then sleep "$SLEEP"; fi',
      'echo "$key end $(date +%s%N) $$" >> events.log',
      'exit ${EXIT:-0}',
    ].join('\n'),
  );
}

export interface Interval {
  sp: string;
  start: number;
  end: number;
}

/** The recorder's events.log as start/end intervals (ns), by site:package run. */
export function readIntervals(home: string): Interval[] {
  const p = join(home, 'events.log');
  if (!existsSync(p)) return [];
  const open = new Map<string, number>();
  const out: Interval[] = [];
  for (const line of readFileSync(p, 'utf8').split('\n').filter(Boolean)) {
    const [sp, what, ns, pid] = line.split(' ');
    const key = `${sp} ${pid}`;
    if (what === 'start') open.set(key, Number(ns));
    else out.push({ sp: sp!, start: open.get(key)!, end: Number(ns) });
  }
  return out.sort((a, b) => a.start - b.start);
}

export function maxOverlap(iv: Interval[]): number {
  const ev: [number, number][] = [];
  for (const i of iv) ev.push([i.start, 1], [i.end, -1]);
  ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of ev) max = Math.max(max, (cur += d));
  return max;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Start `omirr <args>` in cwd; `done` resolves when it exits (killed after timeoutMs). */
export function startCli(
  args: string[],
  opts: { cwd: string; env?: Record<string, string>; input?: string; timeoutMs?: number; detached?: boolean },
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [omirrBin, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, OMIRR_LOG_LEVEL: '', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdin!.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const done = new Promise<CliResult>((res) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

export function runCli(
  args: string[],
  opts: { cwd: string; env?: Record<string, string>; input?: string; timeoutMs?: number },
): Promise<CliResult> {
  return startCli(args, opts).done;
}

/** Poll `cond` until true (or throw after timeoutMs). */
export async function waitUntil(cond: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Parsed mm.status of a home (every line must be a record: well-formed). */
export function readStatusLines(home: string): string[] {
  const p = join(home, 'mm.status');
  return existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter((l) => l !== '') : [];
}
