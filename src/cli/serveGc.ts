// `omirr serve` (over TLS, or --socket) runs in a child node started with V8's
// `--single-threaded-gc`: each isolate (the main thread, the extract and io threads)
// collects on its own thread instead of with V8's parallel and concurrent GC helpers.
// A first copy is CPU-bound on both ends (docs/performance.md, "The omirr:// first copy,
// second pass"): with the helpers the serve spent 8-16 % more CPU on the same push in
// alternating pairs. The flag is V8's and process-wide, and cannot be set once the heap is
// up (v8.setFlagsFromString with it aborts in the next collection), hence the child; node
// refuses it in NODE_OPTIONS. The launcher only waits: it passes the stop signals on, and
// ends with the child's exit status. Not for `serve --stdio` (every ssh:// sync starts one:
// a second node start would cost each run ~50 ms) nor for the client (the same).
import type { ChildProcess } from 'node:child_process';

export const SERVE_GC_FLAG = '--single-threaded-gc';

/** Signals a service manager or a terminal sends to stop the server: passed on to the child. */
const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * The node flags to start `omirr serve` again with, or undefined: serve from this process.
 * Undefined when node already has the flag, or `--no-single-threaded-gc` (an operator's
 * choice of V8's parallel GC), in either spelling.
 */
export function serveRelaunchFlags(execArgv: readonly string[]): string[] | undefined {
  const given = execArgv.some((a) => /^--(no-)?single[-_]threaded[-_]gc$/.test(a));
  return given ? undefined : [SERVE_GC_FLAG];
}

/**
 * Start this same command in a child node with `flags` added, and wait for it: the exit
 * status it ends with (a signal's as 128 + its number). stdin, stdout and stderr are the
 * child's; an IPC channel lets it notice this process end (serveChildWatch).
 */
export async function relaunchServe(flags: readonly string[]): Promise<number> {
  const [{ spawn }, { constants }] = await Promise.all([import('node:child_process'), import('node:os')]);
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, ...flags, ...process.argv.slice(1)], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  const pass = (sig: NodeJS.Signals): void => void child.kill(sig);
  for (const s of FORWARDED) process.on(s, pass);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
    });
  } finally {
    for (const s of FORWARDED) process.off(s, pass);
  }
}

/**
 * In a serve started by relaunchServe: when the launcher ends without passing a signal on
 * (kill -9, a crash), the server ends too, at once, as it would have with it: no orphan
 * holding the port. The channel does not keep the process alive.
 */
export function serveChildWatch(): void {
  if (!process.channel) return;
  process.channel.unref();
  process.once('disconnect', () => {
    process.stderr.write('omirr serve: the process that started this server ended; exiting\n');
    process.exit(1);
  });
}
