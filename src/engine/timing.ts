// OMIRR_TIMING=1: one stderr line per phase of a sync ("omirr timing: <phase> <ms> (at <ms
// since process start>)"), to see where a run's time goes without a profiler. Off by default:
// the variable is read once, so a disabled mark costs one branch. OMIRR_TIMING=2 adds the
// wall clock (epoch ms) to each line, to line up the two ends of an ssh:// run.
import { performance } from 'node:perf_hooks';

const enabled = process.env.OMIRR_TIMING === '1' || process.env.OMIRR_TIMING === '2';
const clock = process.env.OMIRR_TIMING === '2';

/** " (at N ms)", and the wall clock with OMIRR_TIMING=2. */
function at(ms: number): string {
  return `(at ${ms.toFixed(0)} ms)${clock ? ` wall ${(performance.timeOrigin + ms).toFixed(0)}` : ''}`;
}

/** Start a phase; the returned function ends it (and logs, when enabled). */
export function phase(name: string): () => void {
  if (!enabled) return noop;
  const t0 = performance.now();
  return () => {
    const t1 = performance.now();
    process.stderr.write(`omirr timing: ${name.padEnd(22)} ${(t1 - t0).toFixed(1).padStart(7)} ms  ${at(t1)}\n`);
  };
}

/** A point in time (e.g. "cli ready"), relative to process start. */
export function mark(name: string): void {
  if (enabled) process.stderr.write(`omirr timing: ${name.padEnd(22)}            ${at(performance.now())}\n`);
}

function noop(): void {}

/**
 * A point in time given as epoch ms (performance.timeOrigin + now, e.g. from a worker
 * thread), with the process's CPU time (user + system) at that point when known: on a shared
 * machine the wall time swings with the load, the CPU spent before it much less.
 */
export function markAt(name: string, epochMs: number, cpuMs?: number): void {
  if (!enabled) return;
  const cpu = cpuMs === undefined ? '' : ` cpu ${cpuMs.toFixed(0)} ms`;
  process.stderr.write(`omirr timing: ${name.padEnd(22)}            ${at(epochMs - performance.timeOrigin)}${cpu}\n`);
}

/** The process's CPU time so far (user + system, all threads), in ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
