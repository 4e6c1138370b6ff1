// Runs the test files named on the command line with node's test runner, in the order given
// (`node --test FILES` sorts them by name; scripts/test.mjs puts the slowest first, see there).
// Usage: node scripts/testRun.mjs FILE...   (OMIRR_TEST_CONCURRENCY: files at a time, default 3)
// Exit 1 if any test failed, was cancelled (timeout) or a file's process failed.
import { run } from 'node:test';
import { spec } from 'node:test/reporters';

const files = process.argv.slice(2);
const concurrency = Number(process.env.OMIRR_TEST_CONCURRENCY ?? '3');
let failed = false;
// the files' processes inherit this process's execArgv (scripts/testTimer.mjs with --timings)
const stream = run({ files, concurrency, timeout: 180_000 });
stream.on('test:fail', () => {
  failed = true;
});
stream.on('end', () => {
  process.exitCode = failed ? 1 : 0;
});
stream.compose(spec).pipe(process.stdout);
