// Preloaded (--import) into every test file's process by `scripts/test.mjs --timings`: appends the
// file's wall time, from process start to exit, and the CPU time of the file's process and of the
// child processes it waited for (daemons, CLIs, servers), to the file named by OMIRR_TEST_TIMINGS.
import { appendFileSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const out = process.env.OMIRR_TEST_TIMINGS;
const file = process.argv[1];
// Worker threads (piscina inherits execArgv) load this too; only the test file's main thread counts.
if (out && isMainThread && file && file.endsWith('.test.js')) {
  process.on('exit', () => {
    appendFileSync(out, `${JSON.stringify({ file, ms: Math.round(performance.now()), cpuMs: cpuMs() })}\n`);
  });
}

/** utime + stime + cutime + cstime of /proc/self/stat (Linux; clock ticks of 10 ms), else own CPU only. */
function cpuMs() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // fields after the parenthesised command name; utime is field 14 of the whole line
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
  } catch {
    const u = process.cpuUsage();
    return Math.round((u.user + u.system) / 1000);
  }
}
