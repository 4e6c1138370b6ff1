// `omirr serve` serves from a child node started with --single-threaded-gc (src/cli/serveGc.ts):
// the decision, the child's flags, a sync through it, and the child's end with its launcher's
// (a stop signal passed on; a kill -9 of the launcher ends the child too, no orphan).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVE_GC_FLAG, serveRelaunchFlags } from '../../src/cli/serveGc.js';
import { makeKey, omirrBin, rmTemp, snapshot, startServe, tempDir, waitFor, writeConfig } from '../helpers/netFixtures.js';

let base: string;
let config: string;
let client: ReturnType<typeof makeKey>;

before(() => {
  base = tempDir('servegc');
  makeKey(base, 'alpha');
  client = makeKey(base, 'beta');
  mkdirSync(join(base, 'src', 'd'), { recursive: true });
  mkdirSync(join(base, 'dst'));
  for (let i = 0; i < 40; i++) writeFileSync(join(base, 'src', 'd', `f${i}`), `file ${i}\n`.repeat(i + 1));
  config = writeConfig(base, ['node = alpha', 'key = alpha.key', `peer = beta - ${client.fingerprint}`, 'tree = dst dst beta rw']);
});

after(() => rmTemp(base));

test('serveRelaunchFlags: the flag unless node has it or its negation, in either spelling', () => {
  assert.deepEqual(serveRelaunchFlags([]), [SERVE_GC_FLAG]);
  assert.deepEqual(serveRelaunchFlags(['--import', 'x.js', '--max-semi-space-size=16']), [SERVE_GC_FLAG]);
  assert.equal(serveRelaunchFlags(['--single-threaded-gc']), undefined);
  assert.equal(serveRelaunchFlags(['--single_threaded_gc']), undefined);
  assert.equal(serveRelaunchFlags(['--no-single-threaded-gc']), undefined);
  assert.deepEqual(serveRelaunchFlags(['--single-threaded']), [SERVE_GC_FLAG]);
});

/** The live processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid && f[0] !== 'Z') out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Whether `pid` still runs (a zombie, exited but not reaped, does not). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false; // gone
  }
}

test('omirr serve serves from a child with --single-threaded-gc; SIGTERM to the launcher ends both with 0', async () => {
  const s = await startServe(config);
  try {
    const kids = childrenOf(s.proc.pid!);
    assert.equal(kids.length, 1, 'one child node');
    const argv = readFileSync(`/proc/${kids[0]}/cmdline`, 'utf8').split('\0');
    assert.ok(argv.includes(SERVE_GC_FLAG), argv.join(' '));
    assert.ok(argv.includes('serve'), argv.join(' '));
    const r = spawnSync(process.execPath, [omirrBin, 'sync', join(base, 'src'), `omirr://127.0.0.1:${s.port}/dst`], {
      encoding: 'utf8',
      env: { ...process.env, OMIRR_KEY: client.file, OMIRR_PIN: s.fingerprint, OMIRR_LOG_LEVEL: 'warn' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(snapshot(join(base, 'dst')), snapshot(join(base, 'src')));
    const exited = new Promise<number | null>((res) => s.proc.once('exit', (code) => res(code)));
    s.proc.kill('SIGTERM');
    assert.equal(await exited, 0, s.stderr());
    assert.equal(running(kids[0]!), false, 'the child ended with its launcher');
  } finally {
    await s.stop();
  }
});

test('a kill -9 of the launcher ends the serving child too (no orphan holding the port)', async () => {
  const s = await startServe(config);
  try {
    const [kid] = childrenOf(s.proc.pid!);
    assert.ok(kid !== undefined, 'a child node');
    await s.kill9();
    await waitFor(() => !running(kid), 10_000, 'the child to end');
  } finally {
    await s.stop();
  }
});

test('node given --no-single-threaded-gc: omirr serve serves from its own process', async () => {
  const proc = spawn(process.execPath, ['--no-single-threaded-gc', omirrBin, 'serve', '-c', config, '--listen', '127.0.0.1:0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  try {
    let out = '';
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error('serve did not start')), 20_000);
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/listening on /.test(out)) {
          clearTimeout(timer);
          res();
        }
      });
      proc.once('exit', (code) => rej(new Error(`serve exited ${code}`)));
    });
    assert.deepEqual(childrenOf(proc.pid!), []);
  } finally {
    proc.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
});
