// Runs every compiled test file with node's test runner.
// Node 20's runner neither expands quoted globs nor finds .ts files, so the list is explicit.
// Usage: node scripts/test.mjs [substring...]  (only files whose path contains one of them)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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

const filters = process.argv.slice(2);
const files = walk(testDir)
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
// Most of a file's time is waiting on child processes, sockets and the disk, not CPU: three
// files at a time keep two cores busy (OMIRR_TEST_CONCURRENCY overrides).
const concurrency = process.env.OMIRR_TEST_CONCURRENCY ?? '3';
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const res = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, '--test-timeout=180000', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(res.status ?? 1);
