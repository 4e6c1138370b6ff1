// A job's command as a child process: `/bin/sh -c <expanded template>` in the job's home,
// stdout and stderr into logs/<site>:<pkg> (truncated each run, logs/ created if missing:
// the original required it to exist). The result is the raw wait status mm recorded:
// exit code * 256, or the signal number when killed.
//
// The child is held at a gate until its lock names it. It is spawned as the leader of its
// own session and process group (so everything it starts can be found and signalled as one,
// even by a later run after this mm died), then waits for one line on fd 3 before it execs
// the command. mm records pid, group and start time (onSpawn), and only then opens the gate.
// If mm dies first, fd 3 reads end-of-file and the child exits without running anything:
// there is no moment at which a running command is covered only by mm's own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { fromCallback, type EventObject } from 'xstate';
import { SPAWN_FAILED_STATUS, type MmJobIoInput, type MmJobEvent } from '../machines/mmJob.js';
import { procInfo } from './mmLiveness.js';
import { signalGroup, stopJobGroup } from './mmJobGroup.js';

/** exit(code) / killed by signal -> the wait status the original stored in mm.status. */
export function waitStatusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return constants.signals[signal] ?? 255;
  return (code ?? 255) * 256;
}

/**
 * The gate, run by /bin/sh with the command as $1: wait for `go` on fd 3 (end-of-file: mm
 * died before the lock named us, so do nothing), then exec the command's own shell with fd 3
 * closed. exec keeps the pid, so the recorded pid is the command's shell.
 */
const GATE = 'IFS= read -r go <&3 && [ "$go" = go ] || exit 125; exec /bin/sh -c "$1" 3<&-';

/** The job's process as recorded in mm.status.jobs. */
export interface JobProcessInfo {
  pid: number;
  /** = pid: the job leads its own process group. */
  pgid: number;
  startTicks?: number;
}

export interface SpawnedJob {
  child: ChildProcess;
  /** Resolves to the wait status when the process has exited. */
  exited: Promise<number>;
  /** Let the child run its command. */
  release(): void;
  /** Close the gate for good: the child exits (125) without running its command. */
  abort(): void;
}

/** Process groups of the jobs this process runs (for signalJobGroups). */
const liveGroups = new Set<number>();

/**
 * Send a signal to the process group of every job this process is running. Jobs run in
 * their own sessions, so a terminal's Ctrl-C no longer reaches them by itself: `omirr mm`
 * forwards SIGINT, SIGTERM and SIGHUP with this.
 */
export function signalJobGroups(signal: NodeJS.Signals): void {
  for (const pgid of liveGroups) signalGroup(pgid, signal);
}

/** A stopped job's group gets SIGTERM, and SIGKILL when it is still there after this long. */
const STOP_GRACE_MS = 10_000;

/** Jobs whose actor was stopped while they ran: signalled, perhaps not gone yet. */
const stopping = new Map<number, Promise<void>>();

/**
 * Resolves once every job stopped by its actor has ended, its whole process group: what a
 * program that stops a supervisor waits for before it removes the jobs' directories or
 * starts another mm on the same home.
 */
export async function stoppedJobsEnded(): Promise<void> {
  await Promise.all([...stopping.values()]);
}

/** Start the job's command, held at the gate; throws if the log cannot be opened or the shell not spawned. */
export function spawnJobProcess(home: string, command: string, logFile: string): SpawnedJob {
  const logPath = resolve(home, logFile);
  mkdirSync(dirname(logPath), { recursive: true });
  const fd = openSync(logPath, 'w');
  let child: ChildProcess;
  try {
    // stdin is /dev/null: mm's own standard input may be the mm input itself.
    // detached: setsid(), the job leads its own session and process group.
    child = spawn('/bin/sh', ['-c', GATE, 'omirr-mm-job', command], {
      cwd: home,
      stdio: ['ignore', fd, fd, 'pipe'],
      detached: true,
    });
  } finally {
    closeSync(fd); // the child has its own copy
  }
  const gate = child.stdio[3] as Writable | null;
  // The child may be gone before the gate opens (EPIPE): its exit is what counts.
  gate?.on('error', () => undefined);
  const exited = new Promise<number>((res, rej) => {
    child.once('error', rej);
    child.once('exit', (code, signal) => res(waitStatusOf(code, signal)));
  });
  return {
    child,
    exited,
    release: () => gate?.end('go\n'),
    abort: () => gate?.destroy(),
  };
}

export interface JobProcessHooks {
  /**
   * Called once the child exists, while it waits at the gate: record it (its lock must name
   * it before it may run). The gate opens when this resolves; if it rejects, the child is
   * never let go and the run ends as a spawn failure.
   */
  onSpawn?: (input: MmJobIoInput, proc: JobProcessInfo) => Promise<void> | void;
}

/**
 * The `runMirror` actor of mmJob: sends MIRROR.STARTED {pid} once the child may run, then
 * MIRROR.EXITED {waitStatus}. If the actor is stopped while the child runs (supervisor
 * stopped), the child's process group is sent SIGTERM; its lock then dies with it.
 */
export function jobProcessActor(hooks: JobProcessHooks = {}) {
  return fromCallback<EventObject, MmJobIoInput>(({ input, sendBack }) => {
    const send = (e: MmJobEvent) => sendBack(e);
    const job = spawnJobProcess(input.job.home, input.job.command, input.job.logFile);
    const pid = job.child.pid;
    const startTicks = pid !== undefined ? procInfo(pid)?.startTicks : undefined;
    // the job's process group, as its lock records it and as it is stopped
    const group: JobProcessInfo | undefined = pid === undefined ? undefined : { pid, pgid: pid, ...(startTicks !== undefined ? { startTicks } : {}) };
    let released = false;
    let running = true;
    let recorded: Promise<void> = Promise.resolve();
    if (pid !== undefined && group !== undefined) {
      liveGroups.add(pid);
      recorded = Promise.resolve()
        .then(() => hooks.onSpawn?.(input, group))
        .then(
          () => {
            if (!running) return;
            released = true;
            job.release();
            send({ type: 'MIRROR.STARTED', pid });
          },
          () => {
            // Not recorded: it must not run (a later mm could not see it). It exits 125.
            job.abort();
          },
        );
    }
    const ended = async (waitStatus: number) => {
      running = false;
      if (pid !== undefined) liveGroups.delete(pid);
      await recorded;
      // A child that never passed the gate ran nothing: as if /bin/sh could not start.
      send({ type: 'MIRROR.EXITED', waitStatus: released ? waitStatus : SPAWN_FAILED_STATUS });
    };
    // An 'error' (e.g. home vanished): /bin/sh could not be started at all.
    job.exited.then(ended, () => ended(SPAWN_FAILED_STATUS));
    return () => {
      if (!running) return;
      running = false;
      job.abort();
      if (pid !== undefined && group !== undefined) {
        liveGroups.delete(pid);
        const end = stopJobGroup(group, { graceMs: STOP_GRACE_MS })
          .catch(() => undefined)
          .finally(() => stopping.delete(pid));
        stopping.set(pid, end);
      }
    };
  });
}
