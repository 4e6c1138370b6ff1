// The daemon makes V8 optimize later (src/daemon/tiering.ts): a burst makes most of its code
// hot at once, and TurboFan compiling all of it was ~30 % of each daemon's CPU. The flag is
// set at run time, so the test checks that V8 really reads it then: a function called in a
// loop is marked for optimization after several times as many calls once tierUpLater ran,
// and a budget given on node's command line is left as it is. V8's own status (natives
// syntax) in a child process, compiling synchronously so the count is exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const tiering = fileURLToPath(new URL('../../src/daemon/tiering.js', import.meta.url));

/** Calls of a small function until V8 marks it for optimization (or optimizes it). */
function callsUntilOptimized(later: boolean, nodeFlags: string[] = []): number {
  const script = `
    const later = process.argv[1] === 'later';
    const run = async () => {
      if (later) (await import(${JSON.stringify(tiering)})).tierUpLater();
      function f(a) { let s = 0; for (let i = 0; i < 20; i++) s += (a * i) % 7; return s; }
      const status = new Function('f', 'return %GetOptimizationStatus(f)');
      // optimized, TurboFanned, marked (or marked concurrently), optimizing
      const OPT = 16 | 64 | 256 | 512 | 1024;
      let n = 0;
      while ((status(f) & OPT) === 0 && n < 10_000_000) { f(n); n++; }
      process.stdout.write(String(n));
    };
    run();`;
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', ...nodeFlags, '--input-type=module', '-e', script, later ? 'later' : 'now'], { encoding: 'utf8' });
  return Number(out);
}

test('tierUpLater: V8 waits several times longer before optimizing; a budget given to node wins', () => {
  const before = callsUntilOptimized(false);
  const after = callsUntilOptimized(true);
  assert.ok(before > 0 && after >= 3 * before, `calls until optimized: ${before} by default, ${after} after tierUpLater`);
  const given = callsUntilOptimized(true, ['--interrupt-budget=66000']);
  assert.ok(given < 2 * before, `a budget on the command line is kept: ${given} calls (default ${before})`);
});
