// Preloaded into omirr processes by the benchmark (node --import): records the event-loop
// delay and appends its p99 (ms) to $OMIRR_BENCH_ELD when the process exits.
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const file = process.env.OMIRR_BENCH_ELD;
if (file) {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const report = (): void => {
    h.disable();
    appendFileSync(file, `${process.argv[2] ?? '?'} ${(h.percentile(99) / 1e6).toFixed(1)} ${(h.max / 1e6).toFixed(1)}\n`);
  };
  process.once('exit', report);
}
