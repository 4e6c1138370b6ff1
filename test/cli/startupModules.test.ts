// What `omirr sync` and `omirr serve --stdio` load before they read their first directory,
// and what a no-op sync loads at all, recorded by a module-load hook (not timed: which
// modules, not how long). Start-up is part of every small sync and of every ssh:// sync's far
// side (issue 12: the imports of xstate, pino and piscina must not come before the first
// directory is read); the tar, copy and delta tasks load only where a file is sent.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeTree, makeSampleTree, removeDir, tempDir } from '../helpers/engineFixtures.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) removeDir(d);
});

/**
 * A preload for every thread (workers inherit the flags): registers a load hook that
 * appends each module's URL to $OMIRR_TEST_LOADS, and marks the thread's first readdirSync
 * there as `READDIR <path>`. Both append synchronously, so the file is in the order things happened.
 */
function writeProbe(base: string): string {
  const hooks = join(base, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.OMIRR_TEST_LOADS, url + '\\n');
  return next(url, context);
}
`,
  );
  const preload = join(base, 'preload.mjs');
  writeFileSync(
    preload,
    `import fs from 'node:fs';
import { register, syncBuiltinESMExports } from 'node:module';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const readdirSync = fs.readdirSync;
let first = true;
fs.readdirSync = function (p, ...rest) {
  if (first) fs.appendFileSync(process.env.OMIRR_TEST_LOADS, 'READDIR ' + String(p) + '\\n');
  first = false;
  return readdirSync.call(this, p, ...rest);
};
syncBuiltinESMExports();
`,
  );
  return preload;
}

function run(base: string, args: string[], input?: string): { status: number | null; stderr: string; loads: string[] } {
  const log = join(base, `loads-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(writeProbe(base)).href, bin, ...args], {
    encoding: 'utf8',
    input: input ?? '',
    env: { ...process.env, OMIRR_LOG_LEVEL: 'warn', OMIRR_TEST_LOADS: log },
  });
  return { status: r.status, stderr: r.stderr, loads: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

/** The lines before the first READDIR (what loaded before any directory was read). */
function beforeFirstReaddir(loads: string[]): string[] {
  const i = loads.findIndex((l) => l.startsWith('READDIR '));
  assert.ok(i >= 0, `no directory was read:\n${loads.join('\n')}`);
  return loads.slice(0, i);
}

/** Modules a command must not need before its first directory is read. */
const HEAVY = [/node_modules\/xstate\//, /node_modules\/pino\//, /node_modules\/piscina\//, /node_modules\/commander\//, /\/src\/inspect\//, /\/src\/engine\/executePlan\.js/, /\/src\/net\/connection\.js/];

function assertNone(loads: string[], patterns: RegExp[], what: string): void {
  for (const p of patterns) {
    const hit = loads.filter((l) => p.test(l));
    assert.deepEqual(hit, [], `${what}: ${p} loaded`);
  }
}

describe('start-up: what loads before the first directory is read', () => {
  test('omirr sync SRC DST lists its roots before loading commander, pino, xstate, piscina or the engine; the copy is whole', () => {
    const base = tempDir('startup');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    const r = run(base, ['sync', src, dst]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(describeTree(dst), describeTree(src));
    const first = r.loads.find((l) => l.startsWith('READDIR '));
    assert.ok(first === `READDIR ${src}` || first === `READDIR ${dst}`, `first directory read: ${first}`);
    assertNone(beforeFirstReaddir(r.loads), HEAVY, 'before the first readdir');
    // ...and they do load afterwards: the sync runs as a machine, logs with pino, copies in the pool
    for (const p of [/node_modules\/xstate\//, /node_modules\/pino\//, /node_modules\/piscina\//, /\/src\/workers\/copyTasks\.js/]) {
      assert.ok(r.loads.some((l) => p.test(l)), `${p} never loaded`);
    }
  });

  test('a no-op omirr sync loads no tar, copy or delta task, no inspector, and no commander, pino, xstate or piscina in any thread', () => {
    const base = tempDir('startup');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    assert.equal(run(base, ['sync', src, dst]).status, 0);
    const r = run(base, ['sync', src, dst]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assertNone(r.loads, [/\/src\/workers\/(tarTasks|copyTasks|deltaTasks)\.js/, /\/src\/inspect\/server\.js/, /\/src\/net\/connection\.js/], 'a local no-op');
    // the quick no-op check (src/engine/quickLocal.ts): no commander, logger, machines or pool at all
    assertNone(r.loads, [/node_modules\/xstate\//, /node_modules\/pino\//, /node_modules\/piscina\//, /node_modules\/commander\//, /\/src\/engine\/executePlan\.js/], 'a local no-op');
  });

  test('omirr serve --stdio PATH lists PATH before loading commander, pino, xstate, piscina or the protocol', () => {
    const base = tempDir('startup');
    dirs.push(base);
    const root = join(base, 'export');
    makeSampleTree(root);
    // no peer: stdin ends at once, the server reads EOF and exits
    const r = run(base, ['serve', '--stdio', '--log-level', 'silent', root]);
    const first = r.loads.find((l) => l.startsWith('READDIR '));
    assert.equal(first, `READDIR ${realpathSync(root)}`, r.stderr);
    assertNone(beforeFirstReaddir(r.loads), HEAVY, 'serve --stdio before the first readdir');
    // the usual arguments (what an ssh:// peer runs) are served without commander
    assertNone(r.loads, [/node_modules\/commander\//], 'serve --stdio with no peer');
  });
});
