// How eagerly V8 optimizes the daemon's code (issue 12, the burst of 10,000 files to 4
// peers). Most of the daemon's functions run a few times per change, so a burst makes
// hundreds of them "hot" at once, and V8's optimizing compiler (TurboFan, on its helper
// threads) compiles them all: measured with perf on the writer and a receiver of the burst,
// 30 % of each daemon's CPU was that compiler (175 optimizations per daemon), as much as
// the main thread's own work; with optimization off (--no-opt) the main thread got ~50 %
// slower and the total barely moved. A larger interrupt budget (how much a function runs
// before V8 considers optimizing it) keeps what is really hot optimized and leaves the
// rest to the baseline tiers: the helper threads' CPU halves, the main thread's grows a
// little: per daemon 0.2-0.45 s less CPU in the burst, of ~1.9 s (docs/performance.md,
// "Twenty-third version").
//
// Set at run time (v8.setFlagsFromString): V8 reads the budget each time it resets a
// function's budget, so it holds for everything that runs after the daemon starts, in the
// io threads too (V8's flags are per process). A flag given on node's command line wins.
import { setFlagsFromString } from 'node:v8';

/** V8's default interrupt budget (Node 20, V8 11.3) is 66 KiB of bytecode "ticks". */
export const DAEMON_INTERRUPT_BUDGET = 400_000;

let done = false;

/** Makes V8 wait longer before optimizing a function (once per process; not over a flag given to node). */
export function tierUpLater(): void {
  if (done) return;
  done = true;
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--interrupt-budget'));
  if (!given) setFlagsFromString(`--interrupt-budget=${DAEMON_INTERRUPT_BUDGET}`);
}
