// A job's command as a child process: `/bin/sh -c <expanded template>` in the job's home,
// stdout and stderr into logs/<site>:<pkg> (truncated each run, logs/ created if missing:
// the original required it to exist). The result is the raw wait status mm recorded:
// exit code * 256, or the signal number when killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fromCallback, type EventObject } from 'xstate';
import type { MmJobIoInput, MmJobEvent } from '../machines/mmJob.js';

/** exit(code) / killed by signal -> the wait status the original stored in mm.status. */
export function waitStatusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return constants.signals[signal] ?? 255;
  return (code ?? 255) * 256;
}

export interface SpawnedJob {
  child: ChildProcess;
  /** Resolves to the wait status when the process has exited. */
  exited: Promise<number>;
}

/** Start the job's command; throws if the log cannot be opened or the shell not spawned. */
export function spawnJobProcess(home: string, command: string, logFile: string): SpawnedJob {
  const logPath = resolve(home, logFile);
  mkdirSync(dirname(logPath), { recursive: true });
  const fd = openSync(logPath, 'w');
  let child: ChildProcess;
  try {
    // stdin is /dev/null: mm's own standard input may be the mm input itself.
    child = spawn('/bin/sh', ['-c', command], { cwd: home, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd); // the child has its own copy
  }
  const exited = new Promise<number>((res, rej) => {
    child.once('error', rej);
    child.once('exit', (code, signal) => res(waitStatusOf(code, signal)));
  });
  return { child, exited };
}

export interface JobProcessHooks {
  /** Called as soon as the child exists, before MIRROR.STARTED is sent (e.g. to record its pid). */
  onSpawn?: (input: MmJobIoInput, pid: number) => Promise<void> | void;
}

/**
 * The `runMirror` actor of mmJob: sends MIRROR.STARTED {pid}, then MIRROR.EXITED
 * {waitStatus}. If the actor is stopped while the child runs (supervisor stopped), the
 * child is sent SIGTERM; its lock then dies with it.
 */
export function jobProcessActor(hooks: JobProcessHooks = {}) {
  return fromCallback<EventObject, MmJobIoInput>(({ input, sendBack }) => {
    const send = (e: MmJobEvent) => sendBack(e);
    const { child, exited } = spawnJobProcess(input.job.home, input.job.command, input.job.logFile);
    let running = true;
    const pid = child.pid;
    // The pid must be recorded before the end is: the status store serialises both in order.
    const recorded = pid !== undefined ? Promise.resolve(hooks.onSpawn?.(input, pid)).catch(() => undefined) : Promise.resolve();
    if (pid !== undefined) send({ type: 'MIRROR.STARTED', pid });
    exited.then(
      async (waitStatus) => {
        running = false;
        await recorded;
        send({ type: 'MIRROR.EXITED', waitStatus });
      },
      async (err: Error) => {
        running = false;
        await recorded;
        // /bin/sh could not be started at all (e.g. home vanished): as if it exited 255.
        send({ type: 'MIRROR.EXITED', waitStatus: 255 * 256 });
        void err;
      },
    );
    return () => {
      if (running) child.kill('SIGTERM');
    };
  });
}
