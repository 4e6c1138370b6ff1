// What an `omirr daemon` with one peer, one tree, no site:package jobs and no --inspect loads
// (issue 12: ~3 daemons start per daemon test case, and each start paid for modules an idle
// daemon never runs): not mm's machines and job processes, not the inspector's server, not
// the delta engine (block sums, loaded at the first delta). Recorded by a module-load hook,
// not timed. The daemon still answers `status`, and stops cleanly on SIGTERM.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';
import { freePort } from '../helpers/loopback.js';
import { writeKeyFile } from '../../src/net/keys.js';
import { controlRequest, controlSocketPath } from '../../src/daemon/controlSocket.js';
import type { DaemonStatus } from '../../src/daemon/status.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
const dirs: string[] = [];
const procs: ChildProcess[] = [];
after(() => {
  // a failed test's daemon too: stopped before its directory goes
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of dirs) removeDir(d);
});

/** A preload that appends every module's URL (and every CommonJS file) to $OMIRR_TEST_LOADS, and `THREAD n` when a worker thread starts (they inherit the --import). */
function writeProbe(base: string): string {
  const hooks = join(base, 'hooks.mjs');
  writeFileSync(hooks, `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.OMIRR_TEST_LOADS, url + '\\n');
  return next(url, context);
}
`);
  const preload = join(base, 'preload.mjs');
  writeFileSync(preload, `import fs from 'node:fs';
import Module, { register } from 'node:module';
import { threadId } from 'node:worker_threads';
if (threadId !== 0) fs.appendFileSync(process.env.OMIRR_TEST_LOADS, 'THREAD ' + threadId + '\\n');
register(${JSON.stringify(pathToFileURL(hooks).href)});
const compile = Module.prototype._compile;
Module.prototype._compile = function (content, filename, ...rest) {
  fs.appendFileSync(process.env.OMIRR_TEST_LOADS, 'CJS ' + filename + '\\n');
  return compile.call(this, content, filename, ...rest);
};
`);
  return preload;
}

async function until<T>(f: () => Promise<T | undefined>, what: string, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Probed {
  base: string;
  tree: string;
  state: string;
  status(): Promise<DaemonStatus>;
  /** Everything loaded so far, in order. */
  loads(): string[];
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** `omirr daemon` with one tree (`files` in it), one peer that is not running and `extra` lines in its configuration, probed. */
async function startProbed(files: Record<string, string>, extra: string[] = []): Promise<Probed> {
  const base = tempDir('daemonstart');
  dirs.push(base);
  const tree = join(base, 'tree');
  mkdirSync(tree);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(tree, name), text);
  const key = join(base, 'a.key');
  writeKeyFile(key);
  const peerFp = writeKeyFile(join(base, 'b.key'));
  const [port, peerPort] = [await freePort(), await freePort()];
  const conf = join(base, 'a.conf');
  writeFileSync(conf, [`node = alpha`, `listen = 127.0.0.1:${port}`, `key = ${key}`, `peer = beta 127.0.0.1:${peerPort} ${peerFp}`, `tree = data ${tree} beta`, ...extra, ''].join('\n'));
  const state = join(base, 'state');
  const loads = join(base, 'loads.txt');
  writeFileSync(loads, '');
  const proc = spawn(process.execPath, ['--import', pathToFileURL(writeProbe(base)).href, bin, 'daemon', '-c', conf], {
    env: { ...process.env, OMIRR_STATE_DIR: state, OMIRR_LOG_LEVEL: 'warn', OMIRR_TEST_LOADS: loads },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  procs.push(proc);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    base,
    tree,
    state,
    status: async () => {
      if (proc.exitCode !== null) throw new Error(`daemon exited: ${err}`);
      return controlRequest<DaemonStatus>(controlSocketPath(state), 'status', {}, { timeoutMs: 3000 });
    },
    loads: () => readFileSync(loads, 'utf8').split('\n').filter(Boolean),
    stop: async () => {
      proc.kill('SIGTERM');
      const code = await exited;
      assert.equal(code, 0, err);
      return code;
    },
  };
}

/** Waits until the tree's index holds `files` live files (the scan, or the watcher's batch, is in). */
function indexed(d: Probed, files: number): Promise<DaemonStatus> {
  return until(async () => {
    const s = await d.status();
    return s.trees[0]?.files === files ? s : undefined;
  }, `the tree to hold ${files} files`, 20_000);
}

describe('omirr daemon start-up: what loads', () => {
  test('an idle daemon with a peer, no jobs and no --inspect loads no mm, no inspector server and no delta engine; it answers status and stops on SIGTERM', async () => {
    const d = await startProbed({ 'a.txt': 'hello\n' });
    const st = await indexed(d, 1);
    assert.equal(st.node, 'alpha');
    assert.deepEqual(st.peers.map((p) => p.name), ['beta']);
    await d.stop();
    const lines = d.loads();
    assert.ok(lines.some((l) => /\/src\/daemon\/daemon\.js$/.test(l)), 'the probe saw the daemon load');
    for (const p of [/\/src\/mm\//, /\/src\/machines\/mm/, /\/src\/inspect\/server\.js$/, /\/src\/engine\/localDelta\.js$/, /\/src\/engine\/executePlan\.js$/]) {
      assert.deepEqual(lines.filter((l) => p.test(l)), [], `${p} loaded by an idle daemon`);
    }
  });

  test("a small tree's scan starts no thread and loads no pool; a file written later is hashed on a thread", async () => {
    const d = await startProbed({});
    mkdirSync(join(d.tree, 'sub'));
    await until(async () => ((await d.status()).trees[0]?.state.includes('live') ? true : undefined), 'the tree to be live', 20_000);
    const atLive = d.loads();
    assert.deepEqual(atLive.filter((l) => l.startsWith('THREAD ')), [], 'a thread started for the scan of a small tree');
    assert.deepEqual(atLive.filter((l) => /node_modules\/piscina\//.test(l)), [], 'the pool loaded for the scan of a small tree');
    // a file's bytes are still hashed on an io thread, never here
    writeFileSync(join(d.tree, 'sub', 'b.txt'), 'some bytes\n');
    await indexed(d, 1);
    await d.stop();
    const after = d.loads().slice(atLive.length);
    assert.ok(after.some((l) => l.startsWith('THREAD ')), `no thread hashed the new file:\n${after.join('\n')}`);
    assert.ok(after.some((l) => /\/src\/workers\/tasks\.js$/.test(l)), 'the io tasks loaded');
  });

  test('a daemon whose configuration has a site:package job loads mm and runs the job', async () => {
    const d = await startProbed({}, ['mirror = /bin/true', 'site1:pkg1 1 1']);
    const st = await until(async () => {
      const s = await d.status();
      return s.actors.some((a) => a.machine === 'mmJob' && a.state === 'succeeded') ? s : undefined;
    }, 'the job to succeed', 20_000);
    assert.ok(st.actors.some((a) => a.machine === 'mmSupervisor'), JSON.stringify(st.actors));
    await d.stop();
    assert.ok(d.loads().some((l) => /\/src\/mm\/runMm\.js$/.test(l)), 'mm loaded');
  });
});
