// Runs every compiled test file with node's test runner (through scripts/testRun.mjs).
// Node 20's runner neither expands quoted globs nor finds .ts files, so the list is explicit.
// Usage: node scripts/test.mjs [--timings] [substring...]
//   substring: only files whose path contains one of them
//   --timings: print each file's wall time, slowest first, after the run
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testDir = join(root, 'dist', 'test');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const timings = args.includes('--timings');
const filters = args.filter((a) => a !== '--timings');
// The files that take longest start first, so the run does not end with one of them alone on
// the machine while the short files are long done (measured with --timings; a file not listed
// runs after these, in name order, so a new file needs no entry; a renamed one is flagged below).
const SLOW_FIRST = [
  'integration/syncQuick', 'integration/ftpSite', 'integration/daemonStress', 'integration/mirrorKeywords',
  'integration/serveHarden', 'sim/sim', 'integration/mirrorOracle', 'integration/syncDelta', 'api/pack',
  'engine/quickLocal', 'net/listingStream', 'integration/connectionLost', 'integration/firstHour',
  'integration/mmOrphans', 'integration/docsWalkthrough', 'integration/sshSocket', 'integration/daemonHeldOpen',
  'cli/startupModules', 'integration/daemonNames', 'integration/mirrorCli',
].map((n) => join('dist', 'test', `${n}.test.js`));
const all = walk(testDir).map((f) => relative(root, f));
const stale = SLOW_FIRST.filter((f) => !all.includes(f));
if (stale.length > 0) console.error(`scripts/test.mjs: SLOW_FIRST names files that do not exist (update the list): ${stale.join(', ')}`);
const files = [...SLOW_FIRST.filter((f) => all.includes(f)), ...all.filter((f) => !SLOW_FIRST.includes(f))]
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
// Most of a file's time is waiting on child processes, sockets and the disk, not CPU: three
// files at a time keep two cores busy (OMIRR_TEST_CONCURRENCY overrides).
const concurrency = process.env.OMIRR_TEST_CONCURRENCY ?? '3';
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

const timingDir = timings ? mkdtempSync(join(tmpdir(), 'omirr-test-timings-')) : undefined;
const timingLog = timingDir && join(timingDir, 'files.jsonl');
const started = Date.now();
const res = spawnSync(
  process.execPath,
  [
    ...(timingLog ? ['--import', pathToFileURL(join(root, 'scripts', 'testTimer.mjs')).href] : []),
    join(root, 'scripts', 'testRun.mjs'),
    ...files,
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, OMIRR_TEST_CONCURRENCY: concurrency, ...(timingLog ? { OMIRR_TEST_TIMINGS: timingLog } : {}) },
  },
);
if (timingDir) {
  printTimings(timingLog, Date.now() - started);
  rmSync(timingDir, { recursive: true, force: true });
}
process.exit(res.status ?? 1);

function printTimings(log, wallMs) {
  let lines = [];
  try {
    lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  } catch {
    // no file finished
  }
  const rows = lines.map((l) => JSON.parse(l)).sort((a, b) => b.ms - a.ms);
  const total = rows.reduce((s, r) => s + r.ms, 0);
  const cpu = rows.reduce((s, r) => s + r.cpuMs, 0);
  const sec = (ms) => `${(ms / 1000).toFixed(1).padStart(7)} s`;
  console.log(`\nfiles by wall time (concurrency ${concurrency}; whole run ${(wallMs / 1000).toFixed(1)} s; sum of files: wall ${(total / 1000).toFixed(1)} s, CPU ${(cpu / 1000).toFixed(1)} s)`);
  console.log('   wall       CPU (with children)  file');
  for (const r of rows) console.log(`${sec(r.ms)} ${sec(r.cpuMs)}  ${relative(root, r.file)}`);
}
