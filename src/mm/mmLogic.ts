// The pure mm machines with their real I/O provided: mm.status (shared, locked), child
// processes, cmd/cmdin/home, and log messages in mm's words.
import { fromPromise } from 'xstate';
import type { Logger } from '../log.js';
import { formatDiagnostic } from '../core/mmInput.js';
import { mmJobMachine, type MmJobIoInput, type MmJobNotice, type MmRecordEndInput } from '../machines/mmJob.js';
import { mmSupervisorMachine, type MmSupervisorNotice } from '../machines/mmSupervisor.js';
import { MmStatusStores, type CheckResult, type LockResult, type OrphanPolicy } from '../actors/mmStatusStore.js';
import { ownStartTicks } from '../actors/mmLiveness.js';
import { jobProcessActor } from '../actors/mmJobProcess.js';
import { recordJobRun, type OmirrMetrics } from '../inspect/omirrMetrics.js';
import { checkHomeActor, readCommandInputActor, runCommandActor, type CommandStdio } from '../actors/mmCommands.js';

export interface MmIoOptions {
  log: Logger;
  /** -s: log every mm.status line read and written. */
  showStatus?: boolean;
  /** Where cmd= and cmdin= commands write (default: this process's stdout/stderr). */
  stdio?: CommandStdio;
  /** Give up waiting for another process's mm.status mutex after this long (default 60 s). */
  lockTimeoutMs?: number;
  /** Record each job run (by result, with its duration and the time of the last success). */
  metrics?: OmirrMetrics;
  /** Jobs left running by a dead omirr mm: wait for them (default) or stop them when due. */
  orphans?: OrphanPolicy;
}

const hoursOf = (input: MmJobIoInput) => ({ okHours: input.job.okHours, notokHours: input.job.notokHours });

/**
 * The mm.status reads and writes the job actors have started. A stopped actor does not stop
 * its promise: a lock attempt or a record already under way goes on writing in the home
 * (the mutex, temp files, mm.status.jobs) after the supervisor was stopped. `settled()` is
 * what stop() waits for, so that nothing writes there once it has resolved.
 */
export class StatusIo {
  private readonly pending = new Set<Promise<unknown>>();

  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const done = () => void this.pending.delete(p);
    p.then(done, done);
    return p;
  }

  /** Resolves when every tracked operation has settled, those started meanwhile too. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

export function logJobNotice(log: Logger, n: MmJobNotice): void {
  switch (n.kind) {
    case 'notDue':
      log.info({ job: n.sitePackage, secondsToGo: n.secondsToGo }, `Not trying ${n.sitePackage}: ${n.secondsToGo} seconds to go`);
      return;
    case 'locked':
      log.info({ job: n.sitePackage, pid: n.pid }, `Not trying ${n.sitePackage}: locked by ${n.pid}`);
      return;
    case 'started':
      log.info({ job: n.sitePackage, pid: n.pid }, `${n.pid}: ${n.sitePackage} started: ${n.command}`);
      return;
    case 'ended': {
      const msg = `${n.pid ?? '-'}: ${n.sitePackage} terminated[${n.waitStatus}]`;
      if (n.waitStatus === 0) log.info({ job: n.sitePackage, pid: n.pid, waitStatus: n.waitStatus }, msg);
      else log.error({ job: n.sitePackage, pid: n.pid, waitStatus: n.waitStatus }, msg);
      return;
    }
    case 'error':
      log.error({ job: n.sitePackage }, `${n.sitePackage}: ${n.error}`);
      return;
  }
}

export function logSupervisorNotice(log: Logger, n: MmSupervisorNotice): void {
  switch (n.kind) {
    case 'filtered':
      log.debug({ job: n.sitePackage }, `${n.loc.file}:${n.loc.line}: not trying ${n.sitePackage}: ${n.reason}`);
      return;
    case 'warning':
      log.warn(formatDiagnostic(n.diagnostic));
      return;
    case 'command': {
      const r = n.result;
      const where = `${r.loc.file}:${r.loc.line}`;
      if (r.error !== undefined) log.error(`${where}: ${r.kind}=${r.command}: ${r.error}`);
      else if (r.waitStatus !== 0) log.warn({ waitStatus: r.waitStatus }, `${where}: ${r.kind}=${r.command}: exited [${r.waitStatus}]`);
      else log.debug(`${where}: ${r.kind}=${r.command}: done`);
      return;
    }
    case 'home':
      log.debug({ home: n.home }, `home is ${n.home}`);
      return;
    case 'setting':
      log.debug(`${n.loc.file}:${n.loc.line}: setting '${n.key}' is not used by mm`);
      return;
    case 'fatal':
      log.error(n.message);
      return;
  }
}

/** The mmJob machine with real I/O: mm.status through `stores`, the command as a child. */
export function provideMmJob(io: MmIoOptions, stores: MmStatusStores, statusIo: StatusIo = new StatusIo()) {
  // When each job's current run started (for the duration metric), by site:package.
  const runStarts = new Map<string, number>();
  return mmJobMachine.provide({
    actors: {
      checkStatus: fromPromise<CheckResult, MmJobIoInput>(({ input }) =>
        statusIo.track(stores.for(input.job.home).check(input.job.sitePackage, hoursOf(input), input.ignoreTimers)),
      ),
      // The lock names this process until the child exists; the child waits at its gate
      // until its pid, group and start time are recorded (then the lock names it).
      // A job stopped meanwhile (signal) takes no lock, or gives back the one it just took.
      lockJob: fromPromise<LockResult, MmJobIoInput>(({ input, signal }) =>
        statusIo.track(
          (async () => {
            const store = stores.for(input.job.home);
            const r = await store.lockForRun(input.job.sitePackage, hoursOf(input), input.ignoreTimers, process.pid, () => signal.aborted);
            if (r.acquired && signal.aborted) await store.giveBack(input.job.sitePackage, r.record, process.pid);
            return r;
          })(),
        ),
      ),
      runMirror: jobProcessActor({
        onSpawn: async (input, proc) => {
          const mmStartTicks = ownStartTicks();
          try {
            await statusIo.track(stores.for(input.job.home).recordChild({
              sitePackage: input.job.sitePackage,
              ...proc,
              mmPid: process.pid,
              ...(mmStartTicks !== undefined ? { mmStartTicks } : {}),
            }));
          } catch (err) {
            io.log.error(
              { job: input.job.sitePackage, pid: proc.pid },
              `${input.job.sitePackage}: not started: could not record its process in mm.status: ${(err as Error).message}`,
            );
            throw err;
          }
        },
      }),
      recordEnd: fromPromise<unknown, MmRecordEndInput>(({ input }) =>
        statusIo.track(stores.for(input.job.home).recordEnd(input.job.sitePackage, input.waitStatus)),
      ),
    },
    actions: {
      notify: (_, n: MmJobNotice) => {
        logJobNotice(io.log, n);
        if (io.metrics) recordNotice(io.metrics, runStarts, n);
      },
    },
  });
}

/**
 * Job metrics from the job's notices: a run starts at `started` and ends at `ended`
 * (succeeded when its wait status is 0, else failed); `error` is an I/O failure around
 * the run (mm.status, the lock), counted with result `error`. A command that could not
 * be spawned ends without a start: its duration is 0.
 */
function recordNotice(m: OmirrMetrics, starts: Map<string, number>, n: MmJobNotice): void {
  const now = Date.now();
  const took = (): number => {
    const t = starts.get(n.sitePackage);
    starts.delete(n.sitePackage);
    return t === undefined ? 0 : (now - t) / 1000;
  };
  if (n.kind === 'started') starts.set(n.sitePackage, now);
  else if (n.kind === 'ended') recordJobRun(m, n.sitePackage, n.waitStatus === 0 ? 'succeeded' : 'failed', took(), now);
  else if (n.kind === 'error') recordJobRun(m, n.sitePackage, 'error', took(), now);
}

/** The mmSupervisor machine with real I/O, ready for createActor. */
export function provideMmSupervisor(io: MmIoOptions) {
  const stores = new MmStatusStores({
    log: io.log,
    ...(io.showStatus !== undefined ? { showStatus: io.showStatus } : {}),
    ...(io.lockTimeoutMs !== undefined ? { lockTimeoutMs: io.lockTimeoutMs } : {}),
    ...(io.orphans !== undefined ? { orphans: io.orphans } : {}),
  });
  const statusIo = new StatusIo();
  const job = provideMmJob(io, stores, statusIo);
  const supervisor = mmSupervisorMachine.provide({
    actors: {
      job,
      checkHome: checkHomeActor(),
      runCommand: runCommandActor(io.stdio),
      readCommandInput: readCommandInputActor(io.stdio),
    },
    actions: {
      notify: (_, n: MmSupervisorNotice) => logSupervisorNotice(io.log, n),
    },
  });
  return { supervisor, job, statusIo };
}
