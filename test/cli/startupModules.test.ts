// What `omirr sync` and `omirr serve --stdio` load before they read their first directory,
// and what a no-op sync loads at all, recorded by a module-load hook (not timed: which
// modules, not how long). Start-up is part of every small sync and of every ssh:// sync's far
// side (issue 12: the imports of xstate, pino and piscina must not come before the first
// directory is read); the tar, copy and delta tasks load only where a file is sent.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeTree, localRsh, madePairCopy, makeSampleTree, removeDir, tempDir } from '../helpers/engineFixtures.js';
import { startVsftpd, VSFTPD } from '../helpers/vsftpdServer.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) removeDir(d);
});

/**
 * A preload for every thread (workers inherit the flags): registers a load hook that
 * appends each module's URL to $OMIRR_TEST_LOADS, marks the thread's first readdirSync
 * there as `READDIR <path>`, every CommonJS file compiled by require() as `CJS <path>` and
 * every native addon loaded as `DLOPEN <path>` (which the load hook does not see). All append synchronously, so the file is in
 * the order things happened.
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
import Module, { register, syncBuiltinESMExports } from 'node:module';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const readdirSync = fs.readdirSync;
let first = true;
// CommonJS files loaded with require() (pino's, from src/log.ts) do not pass the load hook
const compile = Module.prototype._compile;
Module.prototype._compile = function (content, filename, ...rest) {
  fs.appendFileSync(process.env.OMIRR_TEST_LOADS, 'CJS ' + filename + '\\n');
  return compile.call(this, content, filename, ...rest);
};
const dlopen = process.dlopen;
process.dlopen = function (m, file, ...rest) {
  fs.appendFileSync(process.env.OMIRR_TEST_LOADS, 'DLOPEN ' + String(file) + '\\n');
  return dlopen.call(this, m, file, ...rest);
};
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

/** The probed command line of omirr (for --omirr-path: the far side of an ssh:// end is probed too). */
function probedOmirr(base: string): string[] {
  return [process.execPath, '--import', pathToFileURL(writeProbe(base)).href, bin];
}

function run(base: string, args: string[], input?: string, logLevel: string | undefined = 'warn'): { status: number | null; stderr: string; loads: string[] } {
  const log = join(base, `loads-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(log, '');
  const [node, ...probe] = probedOmirr(base);
  // (logLevel undefined: the default level, whatever this process's environment says)
  const env: NodeJS.ProcessEnv = { ...process.env, OMIRR_TEST_LOADS: log };
  if (logLevel === undefined) delete env.OMIRR_LOG_LEVEL;
  else env.OMIRR_LOG_LEVEL = logLevel;
  const r = spawnSync(node!, [...probe, ...args], {
    encoding: 'utf8',
    input: input ?? '',
    env,
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

/** Io threads started: each loads the task module once (the load hook runs in every thread). */
function ioThreadsStarted(loads: string[]): number {
  return loads.filter((l) => /\/src\/workers\/tasks\.js$/.test(l)).length;
}

function assertNone(loads: string[], patterns: RegExp[], what: string): void {
  for (const p of patterns) {
    const hit = loads.filter((l) => p.test(l));
    assert.deepEqual(hit, [], `${what}: ${p} loaded`);
  }
}

/** What a thread or a pool loads (piscina, its task module, the plain threads' modules): none of it in a small mirror no-op. */
const NO_THREAD = [/node_modules\/piscina\//, /\/src\/workers\/tasks\.js$/, /\/src\/workers\/[a-zA-Z]*Thread\.js$/];

/**
 * The sample tree and its copy, made by one (unprobed) sync once in this file, and copied with
 * `cp -a` for each test that needs it (madePairCopy): a probed first sync per test cost more.
 * `base` is the copy's own directory (probes and load logs go there).
 */
function syncedSample(tag: string): { base: string; src: string; dst: string } {
  const pair = madePairCopy('sample', tag, dirs, (src, dst) => {
    makeSampleTree(src);
    const r = spawnSync(process.execPath, [bin, 'sync', src, dst], { encoding: 'utf8', env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' } });
    assert.equal(r.status, 0, r.stderr);
  });
  return { base: join(pair.src, '..'), ...pair };
}

describe('start-up: what loads before the first directory is read', () => {
  test('omirr sync SRC DST lists its roots before loading commander, pino, xstate, piscina or the engine; the copy is whole, on one io thread', () => {
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
    // A small tree is walked whole on the main thread at start (localScan.ts startScans): its
    // first copy's one batch needs one io thread; the copy's warm-up (warmIoTasks) must not
    // make piscina start a second for the batch queued behind it, nor the destination's few
    // mkdirs and links another beside the copy. Each thread started was 50-100 ms of CPU
    // (docs/performance.md, "Worker threads' start").
    assert.equal(ioThreadsStarted(r.loads), 1, 'io threads started for a small first copy');
    assertNone(beforeFirstReaddir(r.loads), HEAVY, 'before the first readdir');
    // ...and the pool loads afterwards, for the copies (pino only when a record is written:
    // src/log.ts, tested below); the transfer machine and xstate only when the run is watched
    // (src/engine/syncTrees.ts, tested below)
    for (const p of [/node_modules\/piscina\//, /\/src\/workers\/copyTasks\.js/]) {
      assert.ok(r.loads.some((l) => p.test(l)), `${p} never loaded`);
    }
    assertNone(r.loads, [/node_modules\/xstate\//, /\/src\/machines\/transferSession\.js/], 'an unwatched first copy');
  });

  test('a no-op omirr sync loads no tar, copy or delta task, no inspector, and no commander, pino, xstate or piscina in any thread', () => {
    const { base, src, dst } = syncedSample('startup');
    const r = run(base, ['sync', src, dst]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assertNone(r.loads, [/\/src\/workers\/(tarTasks|copyTasks|deltaTasks)\.js/, /\/src\/inspect\/server\.js/, /\/src\/net\/connection\.js/], 'a local no-op');
    // the quick no-op check (src/engine/quickLocal.ts): no commander, logger, machines or pool at all
    assertNone(r.loads, [/node_modules\/xstate\//, /node_modules\/pino\//, /node_modules\/piscina\//, /node_modules\/commander\//, /\/src\/engine\/executePlan\.js/], 'a local no-op');
    // nor what only a rerun with changes uses: the planner and the quick copy, the scan
    // hand-over (localScan.ts), the daemon's index (once loaded by the scan columns for two
    // helpers), node:crypto (only a temporary's name needs it, core/tempPath.ts): ~15 ms of a
    // 4,000-file no-op's start
    assertNone(r.loads, [/\/src\/core\/plan\.js/, /\/src\/engine\/quickCopy\.js/, /\/src\/engine\/localScan\.js/, /\/src\/core\/compactIndex\.js/, /\/src\/core\/pathTable\.js/, /^node:crypto$/], 'a local no-op');
  });

  test('a local rerun of a few rewritten small files copies them with no commander, pino, xstate, piscina or executor (quickCopy.ts)', () => {
    const { base, src, dst } = syncedSample('startup');
    writeFileSync(join(src, 'many/f3'), 'rewritten');
    utimesSync(join(src, 'many/f3'), 1_700_000_000, 1_700_000_000);
    const r = run(base, ['sync', src, dst]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assertNone(r.loads, [/node_modules\/xstate\//, /node_modules\/pino\//, /node_modules\/piscina\//, /node_modules\/commander\//, /\/src\/engine\/executePlan\.js/, /\/src\/workers\/tarTasks\.js/], 'a small local rerun');
    assert.ok(r.loads.some((l) => /\/src\/workers\/copyTasks\.js/.test(l)), 'the copy task never loaded');
    // a tree small enough for the main thread's walk alone is copied there too: no thread
    // booted for a few files (its boot took longer than their copy)
    assertNone(r.loads, [/\/src\/workers\/\w+Thread\.js/], 'a small local rerun');
  });

  // A three-file tree is walked whole on the main thread at start too (the sample tree's
  // first copy above is checked alike): one io thread for the copy, however it goes.
  test('a first copy of a tree of three files, and its rerun with one changed, start one io thread', () => {
    const base = tempDir('startup');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    mkdirSync(src);
    for (const n of ['a', 'b', 'c']) writeFileSync(join(src, n), `file ${n}\n`.repeat(300));
    const first = run(base, ['sync', src, dst]);
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assert.equal(ioThreadsStarted(first.loads), 1, 'io threads started for a first copy of three files');
    writeFileSync(join(src, 'b'), 'rewritten\n');
    utimesSync(join(src, 'b'), 1_700_000_000, 1_700_000_000);
    const rerun = run(base, ['sync', src, dst]);
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assert.ok(ioThreadsStarted(rerun.loads) <= 1, `io threads started for a rerun with one file changed: ${ioThreadsStarted(rerun.loads)}`);
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
    // nor `serve`'s config paths (and the daemon's control socket behind them), nor the delta
    // wire before a delta call: their loading was on every ssh:// sync's critical path
    assertNone(r.loads, [/\/src\/api\/configPath\.js/, /\/src\/daemon\//, /\/src\/net\/deltaWire\.js/], 'serve --stdio with no peer');
    assert.ok(r.loads.some((l) => /\/src\/net\/treeService\.js/.test(l)), 'the server never loaded');
  });

  test('an ssh:// no-op loads neither the BLAKE3 binding (still offered as hash-blake3) nor xstate on either end; a delta loads both', () => {
    // a synced pair with a large file in it (synced locally, unprobed: what an ssh:// first
    // sync would leave, for less than a probed ssh:// run with its far side)
    const { base, src, dst } = syncedSample('startup');
    const big = join(src, 'big.bin');
    writeFileSync(big, Buffer.alloc(1 << 20, 7));
    const first = spawnSync(process.execPath, [bin, 'sync', src, dst], { encoding: 'utf8', env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' } });
    assert.equal(first.status, 0, first.stderr);
    const ssh = ['--rsh', localRsh(base), '--omirr-path', probedOmirr(base).join(' ')];
    const url = `ssh://localhost${dst}`;
    const r = run(base, ['sync', src, url, ...ssh]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(describeTree(dst), describeTree(src));
    const blake = /^DLOPEN .*blake/;
    assert.deepEqual(r.loads.filter((l) => blake.test(l)), [], 'a no-op loaded the BLAKE3 binding');
    // nothing to do: no transfer machine, no xstate, no executor (src/engine/syncTrees.ts)
    assertNone(r.loads, [/node_modules\/xstate\//, /\/src\/machines\/transferSession\.js/, /\/src\/engine\/executePlan\.js/], 'an ssh:// no-op');
    // nothing to log at the default levels: pino stays unloaded on both ends (src/log.ts)
    assertNone(r.loads, [/node_modules\/pino\//], 'an ssh:// no-op');
    // a small tree is walked on the main thread at both ends: no scan thread boots (the far
    // side's took 75-125 ms before its first readdir, docs/performance.md)
    assertNone(r.loads, [/\/src\/workers\/scanThread\.js/], 'an ssh:// no-op of a small tree');
    // the far side ran: it read its root (a run whose far side never started would pass the above)
    assert.ok(r.loads.some((l) => l === `READDIR ${realpathSync(dst)}`), 'the far side never listed its root');
    // a changed large file goes as a delta verified with BLAKE3: the capability was still offered by both
    const bytes = Buffer.alloc(1 << 20, 7);
    bytes.fill(9, 300_000, 310_000);
    writeFileSync(big, bytes);
    const d = run(base, ['sync', src, url, ...ssh]);
    assert.equal(d.status, 0, d.stderr);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assert.ok(d.loads.some((l) => blake.test(l)), 'a delta run never loaded the BLAKE3 binding: was hash-blake3 offered?');
    // ...and a run with work that nobody watches runs the plan's steps without the actor:
    // no transfer machine, no xstate, on either end (src/engine/syncTrees.ts)
    assertNone(d.loads, [/node_modules\/xstate\//, /\/src\/machines\/transferSession\.js/], 'an unwatched delta');
    assert.ok(d.loads.some((l) => /\/src\/engine\/executePlan\.js/.test(l)), 'a run with work never loaded the executor');
    // a no-op watched at debug level still runs as the actor, every transition a log line
    const w = run(base, ['sync', '--log-level', 'debug', src, url, ...ssh]);
    assert.equal(w.status, 0, w.stderr);
    for (const state of ['scanning', 'planning', 'done']) assert.match(w.stderr, new RegExp(`transition .*state=${state}`), `no transition to ${state} at debug level`);
    assert.ok(w.loads.some((l) => /node_modules\/pino\//.test(l)), 'records were written without pino?');
    // ...and so does a run with work: its transfer and apply are the actor's states
    writeFileSync(join(src, 'many/f3'), 'rewritten, watched');
    const ww = run(base, ['sync', '--log-level', 'debug', src, url, ...ssh]);
    assert.equal(ww.status, 0, ww.stderr);
    assert.deepEqual(describeTree(dst), describeTree(src));
    for (const state of ['transferring', 'applying', 'done']) assert.match(ww.stderr, new RegExp(`transition .*state=${state}`), `no transition to ${state} at debug level`);
    assert.ok(ww.loads.some((l) => /\/src\/machines\/transferSession\.js/.test(l)), 'a watched run with work never loaded the transfer machine');
  });

  test('an ssh:// no-op loads node:crypto only for its listing\'s digest, and its far side no pack runners, tar format or delta core; a changed file loads them there', () => {
    // a synced pair (a copy of the one made locally: what an ssh:// first sync would leave)
    const { base, src, dst } = syncedSample('startup');
    // the far side's loads in a file of their own (the stand-in runs the command with sh)
    const far = join(base, 'far.txt');
    const ssh = ['--rsh', localRsh(base), '--omirr-path', `OMIRR_TEST_LOADS=${far} ${probedOmirr(base).join(' ')}`];
    const url = `ssh://localhost${dst}`;
    writeFileSync(far, '');
    // at the default log level (info), which the far side's own environment does not change
    const r = run(base, ['sync', src, url, ...ssh], undefined, undefined);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(describeTree(dst), describeTree(src));
    const farLoads = readFileSync(far, 'utf8').split('\n').filter(Boolean);
    assert.ok(farLoads.includes(`READDIR ${realpathSync(dst)}`), 'the far side never listed its root');
    assert.ok(farLoads.some((l) => /\/src\/engine\/localTree\.js/.test(l)), 'the far side never opened its tree');
    // node:crypto only where something is hashed, signed or named for a temporary
    // (workers/nodeCrypto.ts): the handshake, TLS keys and content hashes imported it. A
    // no-op hashes one thing: its listing's like form (capability listing-same,
    // workers/likeDigest.ts), here after the walk while ssh logs in, there at the scan
    // request; never before either end's first directory is read
    assertNone(beforeFirstReaddir(r.loads), [/^node:crypto$/], 'an ssh:// no-op before its first readdir');
    assertNone(beforeFirstReaddir(farLoads), [/^node:crypto$/], 'the far side of an ssh:// no-op before its first readdir');
    // the far side's `open` made a LocalTree, which loaded these for its LocalDelta and
    // packs (engine/localTree.ts, engine/lazyDelta.ts): ~9 ms before its answer
    const transfer = [/\/src\/workers\/packer\.js/, /\/src\/workers\/tarFormat\.js/, /\/src\/engine\/localDelta\.js/, /\/src\/core\/delta\.js/, /^node:zlib$/];
    assertNone(farLoads, transfer, 'the far side of an ssh:// no-op');
    // nor pino: the far side logs at warn (its info records loaded it between the handshake
    // and `open`; this end shows them only at debug: net/sshSpawn.ts farLogLevel)
    assertNone(farLoads, [/node_modules\/pino\//], 'the far side of an ssh:// no-op');
    // a rewritten small file: the far side unpacks it (loaded at `prepare`, or at the unpack)
    writeFileSync(join(src, 'many/f3'), 'rewritten over ssh');
    utimesSync(join(src, 'many/f3'), 1_700_000_000, 1_700_000_000);
    writeFileSync(far, '');
    const c = run(base, ['sync', src, url, ...ssh]);
    assert.equal(c.status, 0, c.stderr);
    assert.deepEqual(describeTree(dst), describeTree(src));
    const farChanged = readFileSync(far, 'utf8').split('\n').filter(Boolean);
    for (const p of transfer.slice(0, 2)) assert.ok(farChanged.some((l) => p.test(l)), `${p} never loaded by the far side of a push with work`);
  });

  test('a no-op omirr mirror of an FTP site loads no xstate, transfer machine, executor or pino, and no piscina or thread; a changed file loads the machine, and its bytes are written on a thread', async (t) => {
    if (!existsSync(VSFTPD)) return t.skip('vsftpd not installed');
    const base = tempDir('startup');
    dirs.push(base);
    const site = join(base, 'site');
    mkdirSync(join(site, 'pub'), { recursive: true });
    // times to the minute (what LIST gives), so that the re-run compares equal
    const minute = Math.floor((Date.now() - 3 * 3600_000) / 60_000) * 60_000;
    const put = (name: string, text: string, at = minute): void => {
      writeFileSync(join(site, name), text);
      utimesSync(join(site, name), new Date(at), new Date(at));
    };
    put('readme', 'read me\n');
    put('pub/a', 'a\n'.repeat(100));
    const ftp = await startVsftpd({ root: site });
    try {
      const dst = join(base, 'mirror');
      const pkg = join(base, 'site.pkg');
      writeFileSync(pkg, `package=p\n  site=127.0.0.1\n  ftp_port=${ftp.port}\n  remote_dir=/\n  local_dir=${dst}\n  remote_user=anonymous\n  remote_password=t@localhost\n  passive_ftp=true\n`);
      const first = run(base, ['mirror', '-N', pkg]);
      assert.equal(first.status, 0, first.stderr);
      assert.equal(readFileSync(join(dst, 'pub/a'), 'utf8'), 'a\n'.repeat(100));
      const r = run(base, ['mirror', '-N', pkg]);
      assert.equal(r.status, 0, r.stderr);
      assertNone(r.loads, [/node_modules\/xstate\//, /\/src\/machines\/transferSession\.js/, /\/src\/engine\/executePlan\.js/, /node_modules\/pino\//], 'a no-op mirror');
      // no thread at all: the small local tree is walked on the main thread (localScan.ts
      // scanOneThread), and nothing is written
      assertNone(r.loads, NO_THREAD, 'a no-op mirror of a small tree');
      put('pub/a', 'b\n'.repeat(150), minute + 60_000);
      const c = run(base, ['mirror', '-N', pkg]);
      assert.equal(c.status, 0, c.stderr);
      assert.equal(readFileSync(join(dst, 'pub/a'), 'utf8'), 'b\n'.repeat(150));
      assert.ok(c.loads.some((l) => /\/src\/machines\/transferSession\.js/.test(l)), 'a mirror with work never loaded the transfer machine');
      // its one small file's bytes are written on a thread, never the main one (however small)
      assert.ok(c.loads.some((l) => NO_THREAD.some((re) => re.test(l))), 'a fetched file was written on a thread');
      // a new directory (mkdir, its attributes) and its file: the file on a thread too
      mkdirSync(join(site, 'pub/sub'));
      put('pub/sub/c', 'c\n');
      const d = run(base, ['mirror', '-N', pkg]);
      assert.equal(d.status, 0, d.stderr);
      assert.equal(readFileSync(join(dst, 'pub/sub/c'), 'utf8'), 'c\n');
      assert.ok(d.loads.some((l) => NO_THREAD.some((re) => re.test(l))), 'a fetched file was written on a thread');
    } finally {
      await ftp.stop();
    }
  });

  test('omirr mirror of a small local-directory site walks both trees on the main thread and copies on a thread; its no-op starts no thread', () => {
    const base = tempDir('startup');
    dirs.push(base);
    const site = join(base, 'up');
    makeSampleTree(join(site, 'pub'));
    const dst = join(base, 'mirror');
    const pkg = join(base, 'local.pkg');
    writeFileSync(pkg, `package=p\n  site=${site}\n  remote_dir=/pub\n  local_dir=${dst}\n`);
    const first = run(base, ['mirror', '-N', pkg]);
    assert.equal(first.status, 0, first.stderr);
    // (mirror's modes: 0444 files, 0755 directories; contents, kinds, links and file times as the site's)
    const what = (root: string): Array<[string, string, string | undefined, number]> =>
      Object.entries(describeTree(root)).map(([p, d]) => [p, d.kind, d.sha256 ?? d.target, d.kind === 'file' ? d.mtimeMs : 0]);
    // (its dangling link is skipped: make_bad_symlinks is off)
    assert.deepEqual(what(dst), what(join(site, 'pub')).filter(([p]) => p !== 'dangling'));
    assert.ok(first.loads.some((l) => NO_THREAD.some((re) => re.test(l))), "a local site's files are copied on a thread");
    const again = run(base, ['mirror', '-N', pkg]);
    assert.equal(again.status, 0, again.stderr);
    assertNone(again.loads, NO_THREAD, 'a no-op mirror of a small local site');
  });
});
