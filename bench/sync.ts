// `npm run bench`: omirr sync against tar and rsync on the same trees, interleaved, on
// tmpfs and on disk, several repetitions; prints medians, omirr's ratios and the
// event-loop delay (p99) of the omirr processes. Not a test: numbers go to docs/performance.md.
// Usage: node dist/bench/sync.js [--reps N] [--trees small,large,mixed,files4k,files200k] [--fs tmpfs,disk] [--tools ...] [--tag NAME]
//        Tools ending in -pull copy the other way: the far side (omirr serve, sshd, the rsync
//        daemon) serves the generated tree and the command writes a local copy, as a mirror
//        job pulls; the 1 % change is made to the tree the far side serves.
//        [--base DIR]: also run the omirr of another checkout (DIR/bin/omirr.js, built), interleaved,
//        as the tools base-net, base-ssh, base-local, base-net-pull and base-ssh-pull (before/after
//        comparisons in one run; base-net and base-net-pull talk to this build's omirr serve).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeKeyFile } from '../src/net/keys.js';
import { generateTree, TREES } from './gen.js';
import { rng } from '../src/core/random.js';
import { arg, median } from './args.js';
import { servePort } from './childGroup.js';
import { rsyncFromDaemon, rsyncLocal, rsyncToDaemon, startRsyncd, tarPipe } from './refTools.js';
import { haveSshd, startSshd, type Sshd } from './sshd.js';

const bin = fileURLToPath(new URL('../../bin/omirr.js', import.meta.url));
const eldModule = new URL('./eld.js', import.meta.url).href;

const reps = Number(arg('reps', '3'));
const treeNames = arg('trees', 'small,large,mixed').split(',');
const fsNames = arg('fs', 'tmpfs,disk').split(',');
// --tag NAME: a directory of its own (omirr-bench-NAME), so two runs on one machine never share (or delete) one
const tag = arg('tag', '');
const FS_ROOT: Record<string, string> = { tmpfs: `/dev/shm/omirr-bench${tag ? `-${tag}` : ''}`, disk: `/var/tmp/omirr-bench${tag ? `-${tag}` : ''}` };
const ALL_TOOLS = [
  'omirr-net',
  'omirr-ssh',
  'omirr-sshsock',
  'omirr-local',
  'tar',
  'rsyncd',
  'rsync-ssh',
  'rsync-local',
  'omirr-net-pull',
  'omirr-ssh-pull',
  'rsyncd-pull',
  'rsync-ssh-pull',
  'base-net',
  'base-ssh',
  'base-local',
  'base-net-pull',
  'base-ssh-pull',
] as const;
type Tool = (typeof ALL_TOOLS)[number];
const baseDir = arg('base', '');
const baseBin = baseDir ? join(baseDir, 'bin', 'omirr.js') : '';
const tools = arg('tools', ALL_TOOLS.filter((t) => baseBin || !t.startsWith('base-')).join(',')).split(',') as Tool[];
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`usage: node dist/bench/sync.js [--reps N] [--trees ${Object.keys(TREES).join(',')}] [--fs tmpfs,disk] [--tools LIST] [--base DIR] [--tag NAME]\ntools: ${ALL_TOOLS.join(', ')}`);
  process.exit(0);
}
const unknown = [...tools.filter((t) => !(ALL_TOOLS as readonly string[]).includes(t)), ...treeNames.filter((t) => !TREES[t]), ...fsNames.filter((n) => !FS_ROOT[n])];
if (unknown.length) {
  console.error(`unknown tool, tree or fs: ${unknown.join(', ')} (--help lists them)`);
  process.exit(2);
}
if (tools.some((t) => t.startsWith('base-')) && !baseBin) {
  console.error('base-* tools need --base DIR');
  process.exit(2);
}


/** 1-minute load average before every timed command (the machine is shared). */
const loads: number[] = [];

function run(cmd: string, args: string[], env: Record<string, string> = {}): number {
  loads.push(loadavg()[0]!);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return dt;
}

async function startDaemons(base: string): Promise<{ omirrPort: number; rsyncPort: number; sshd?: Sshd; socket?: string; stop: () => Promise<void> }> {
  mkdirSync(join(base, 'srv'), { recursive: true });
  const key = join(base, 'srv', 'key');
  if (!existsSync(key)) writeKeyFile(key);
  writeFileSync(join(base, 'srv', 'secret'), 'omirr benchmark secret, not for production\n');
  // dst: where pushes go; src (read-only): the generated trees, for the -pull tools
  writeFileSync(join(base, 'srv', 'omirr.conf'), `node = bench\nlisten = 127.0.0.1:0\nkey = ${key}\nsecret = ${join(base, 'srv', 'secret')}\ntree = dst ${join(base, 'dst')} rw\ntree = src ${join(base, 'src')}\n`);
  mkdirSync(join(base, 'src'), { recursive: true });
  mkdirSync(join(base, 'dst'), { recursive: true });
  const serve = spawn(process.execPath, ['--import', eldModule, bin, 'serve', '-c', join(base, 'srv', 'omirr.conf'), '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, OMIRR_BENCH_ELD: join(base, 'eld.txt') },
  });
  const omirrPort = await servePort(serve);
  const rsyncd = await startRsyncd(join(base, 'srv'), join(base, 'dst'), join(base, 'src'));
  // ssh:// and rsync -e ssh: one sshd on a loopback port, the same ssh command for both
  const sshd = haveSshd() && tools.some((t) => t.includes('-ssh') || t === 'omirr-sshsock') ? await startSshd() : undefined;
  // ssh:// through a running `omirr serve --socket` on the "far side" (started once, not timed)
  const socket = join(base, 'run', 'serve.sock');
  const sockServe = tools.includes('omirr-sshsock') ? await startSocketServe(socket) : undefined;
  return {
    omirrPort,
    rsyncPort: rsyncd.port,
    ...(sshd ? { sshd } : {}),
    ...(sockServe ? { socket } : {}),
    stop: async () => {
      const done = new Promise((r) => serve.once('exit', r));
      const sockDone = sockServe && new Promise((r) => sockServe.once('exit', r));
      serve.kill('SIGTERM');
      sockServe?.kill('SIGTERM');
      await Promise.all([done, sockDone, rsyncd.stop(), sshd?.stop()]);
    },
  };
}

async function startSocketServe(socket: string): Promise<ChildProcess> {
  mkdirSync(dirname(socket), { recursive: true, mode: 0o700 });
  const p = spawn(process.execPath, [bin, 'serve', '--socket', socket, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    p.stdout!.once('data', () => resolve());
    p.once('exit', (code) => reject(new Error(`omirr serve --socket exited ${code}`)));
  });
  return p;
}

interface Ctx {
  base: string;
  src: string;
  /** The tree's name (its directory under the served src/). */
  tree: string;
  omirrPort: number;
  rsyncPort: number;
  sshd?: Sshd;
  socket?: string;
}

function copyCmd(tool: Tool, c: Ctx, sub: string, first: boolean): number | null {
  const dst = join(c.base, 'dst', sub);
  const eld = { OMIRR_BENCH_ELD: join(c.base, 'eld.txt'), OMIRR_LOG_LEVEL: 'warn' };
  if (tool.startsWith('base-')) {
    // the other checkout, without the event-loop probe (its processes are not in the eld figures)
    const omirrBase = (args: string[]): number => run(process.execPath, [baseBin, 'sync', c.src, ...args], { OMIRR_LOG_LEVEL: 'warn' });
    const pullBase = (from: string, args: string[]): number => run(process.execPath, [baseBin, 'sync', from, dst, ...args], { OMIRR_LOG_LEVEL: 'warn' });
    if (tool === 'base-net-pull') return pullBase(`omirr://127.0.0.1:${c.omirrPort}/src/${c.tree}`, ['--secret-file', join(c.base, 'srv', 'secret')]);
    if (tool === 'base-net') return omirrBase([`omirr://127.0.0.1:${c.omirrPort}/dst/${sub}`, '--secret-file', join(c.base, 'srv', 'secret')]);
    if (tool === 'base-local') return omirrBase([dst]);
    if (!c.sshd) return null;
    if (tool === 'base-ssh-pull') return pullBase(`ssh://${c.sshd.user}@127.0.0.1${c.src}`, ['--rsh', c.sshd.rsh, '--omirr-path', `${process.execPath} ${baseBin}`]);
    return omirrBase([`ssh://${c.sshd.user}@127.0.0.1${dst}`, '--rsh', c.sshd.rsh, '--omirr-path', `${process.execPath} ${baseBin}`]);
  }
  switch (tool) {
    case 'omirr-net':
      return run(process.execPath, ['--import', eldModule, bin, 'sync', c.src, `omirr://127.0.0.1:${c.omirrPort}/dst/${sub}`, '--secret-file', join(c.base, 'srv', 'secret')], eld);
    case 'omirr-ssh':
      if (!c.sshd) return null;
      // the far side runs `omirr serve --stdio` with the same node and the same eld preload
      return run(
        process.execPath,
        ['--import', eldModule, bin, 'sync', c.src, `ssh://${c.sshd.user}@127.0.0.1${dst}`, '--rsh', c.sshd.rsh, '--omirr-path', `OMIRR_BENCH_ELD=${eld.OMIRR_BENCH_ELD} ${process.execPath} --import ${eldModule} ${bin}`],
        eld,
      );
    case 'omirr-sshsock':
      if (!c.sshd || !c.socket) return null;
      return run(process.execPath, ['--import', eldModule, bin, 'sync', c.src, `ssh://${c.sshd.user}@127.0.0.1${dst}?socket=${c.socket}`, '--rsh', c.sshd.rsh], eld);
    case 'omirr-local':
      return run(process.execPath, ['--import', eldModule, bin, 'sync', c.src, dst], eld);
    case 'tar':
      if (!first) return null; // a tar pipe has no incremental mode
      mkdirSync(dst, { recursive: true });
      return run(...tarPipe(c.src, dst));
    case 'rsyncd':
      return run(...rsyncToDaemon(c.src, c.rsyncPort, sub));
    case 'rsync-ssh':
      if (!c.sshd) return null;
      return run('rsync', ['-a', '-e', c.sshd.rsh, `${c.src}/`, `${c.sshd.user}@127.0.0.1:${dst}/`]);
    case 'rsync-local':
      return run(...rsyncLocal(c.src, dst));
    case 'omirr-net-pull':
      return run(process.execPath, ['--import', eldModule, bin, 'sync', `omirr://127.0.0.1:${c.omirrPort}/src/${c.tree}`, dst, '--secret-file', join(c.base, 'srv', 'secret')], eld);
    case 'omirr-ssh-pull':
      if (!c.sshd) return null;
      return run(
        process.execPath,
        ['--import', eldModule, bin, 'sync', `ssh://${c.sshd.user}@127.0.0.1${c.src}`, dst, '--rsh', c.sshd.rsh, '--omirr-path', `OMIRR_BENCH_ELD=${eld.OMIRR_BENCH_ELD} ${process.execPath} --import ${eldModule} ${bin}`],
        eld,
      );
    case 'rsyncd-pull':
      return run(...rsyncFromDaemon(c.rsyncPort, c.tree, dst));
    case 'rsync-ssh-pull':
      if (!c.sshd) return null;
      return run('rsync', ['-a', '-e', c.sshd.rsh, `${c.sshd.user}@127.0.0.1:${c.src}/`, `${dst}/`]);
    default:
      return null;
  }
}

/** Rewrite 1 % of the small files (same size, new content, new mtime). */
function change1pc(src: string, tree: string, rep: number): void {
  const spec = TREES[tree]!;
  if (spec.smallFiles === 0) return;
  const next = rng(1000 + rep);
  for (let k = 0; k < Math.ceil(spec.smallFiles / 100); k++) {
    const i = Math.floor(next() * spec.smallFiles);
    const p = join(src, `d${String(i % spec.smallDirs).padStart(3, '0')}`, `f${i}.dat`);
    const b = readFileSync(p);
    b[0] = b[0]! ^ 0xff;
    writeFileSync(p, b);
    const t = new Date(Date.UTC(2024, 1, 1) + rep * 1000);
    utimesSync(p, t, t);
  }
}

type Results = Map<string, number[]>; // "fs tree scenario tool" -> seconds

/**
 * Start-up: ms from process start to the first directory read (OMIRR_TIMING's "first
 * readdir") of a no-op `omirr sync SRC DST`, against bare node's ms to its first line of user
 * code (`node -e`), interleaved. Issue 12's target: the difference (omirr's imports before it
 * reads) at most 80 ms. Without the event-loop probe preloaded (it is not part of omirr).
 */
function startupRuns(src: string, dst: string, runs: number, results: Results, key: string): void {
  run(process.execPath, [bin, 'sync', src, dst], { OMIRR_LOG_LEVEL: 'warn' });
  for (let i = 0; i < runs; i++) {
    loads.push(loadavg()[0]!);
    const bare = spawnSync(process.execPath, ['-e', 'const u = process.cpuUsage(); process.stdout.write(`${performance.now()} ${(u.user + u.system) / 1000}`)'], { encoding: 'utf8' });
    const [bareAt, bareCpu] = bare.stdout.split(' ').map(Number);
    results.set(`${key} node`, [...(results.get(`${key} node`) ?? []), bareAt!]);
    results.set(`${key} node cpu`, [...(results.get(`${key} node cpu`) ?? []), bareCpu!]);
    const r = spawnSync(process.execPath, [bin, 'sync', src, dst], { encoding: 'utf8', env: { ...process.env, OMIRR_TIMING: '1', OMIRR_LOG_LEVEL: 'warn' } });
    const at = [...r.stderr.matchAll(/first readdir\s+\(at (\d+) ms\)(?: cpu (\d+) ms)?/g)].map((m) => [Number(m[1]), Number(m[2] ?? NaN)] as const);
    if (r.status !== 0 || at.length === 0) throw new Error(`omirr sync (start-up) failed: ${r.stderr}`);
    const first = at.reduce((a, b) => (b[0] < a[0] ? b : a));
    results.set(`${key} omirr`, [...(results.get(`${key} omirr`) ?? []), first[0]]);
    results.set(`${key} omirr cpu`, [...(results.get(`${key} omirr cpu`) ?? []), first[1]]);
  }
}

async function benchFs(fsName: string, results: Results): Promise<void> {
  const base = FS_ROOT[fsName]!;
  rmSync(base, { recursive: true, force: true });
  mkdirSync(base, { recursive: true });
  const d = await startDaemons(base);
  try {
    for (const tree of treeNames) {
      const src = join(base, 'src', tree);
      const g = generateTree(src, TREES[tree]!);
      console.error(`${fsName} ${tree}: ${g.files} files, ${(g.bytes / 2 ** 20).toFixed(0)} MiB`);
      const c: Ctx = { base, src, tree, omirrPort: d.omirrPort, rsyncPort: d.rsyncPort, ...(d.sshd ? { sshd: d.sshd } : {}), ...(d.socket ? { socket: d.socket } : {}) };
      for (let rep = 0; rep < reps; rep++) {
        spawnSync('sh', ['-c', `tar -C '${src}' -cf - . > /dev/null`]); // warm the page cache
        for (const scenario of ['first', 'noop', 'change'] as const) {
          if (scenario === 'change') change1pc(src, tree, rep);
          for (const tool of tools) {
            const sub = `${tree}-${tool}-${rep}`;
            // On disk, write back the previous commands' dirty pages first (not timed): else the
            // tool that runs next pays for the writeback (and dirty-page throttling) of the others.
            if (fsName === 'disk') spawnSync('sync');
            const t = copyCmd(tool, c, sub, scenario === 'first');
            if (t === null) continue;
            const k = `${fsName} ${tree} ${scenario} ${tool}`;
            results.set(k, [...(results.get(k) ?? []), t]);
            console.error(`  rep ${rep} ${scenario.padEnd(6)} ${tool.padEnd(12)} ${t.toFixed(3)} s`);
          }
        }
        // move the copies aside (deleting many files right before the next copy would slow it: PRODUCT.md)
        mkdirSync(join(base, 'trash'), { recursive: true });
        renameSync(join(base, 'dst'), join(base, 'trash', `${tree}-${rep}`));
        mkdirSync(join(base, 'dst'));
        // tmpfs copies live in RAM: five 1 GiB copies per repetition kept until the end made
        // the later repetitions run under memory pressure (the tar pipe took 0.6 s in the
        // first repetition, 3.4 s in the next ones). Deleting there costs the next copy nothing.
        if (fsName === 'tmpfs') rmSync(join(base, 'trash'), { recursive: true, force: true });
      }
      rmSync(join(base, 'trash'), { recursive: true, force: true });
      if (tools.includes('omirr-local')) startupRuns(src, join(base, 'dst', `${tree}-startup`), 3 * reps, results, `${fsName} ${tree} startup`);
    }
  } finally {
    await d.stop();
  }
  const eld = existsSync(join(base, 'eld.txt')) ? readFileSync(join(base, 'eld.txt'), 'utf8').trim().split('\n') : [];
  const byCmd = new Map<string, number[]>();
  for (const line of eld) {
    const [, p99] = line.split(' ');
    const cmd = line.includes('serve') ? 'serve' : 'sync';
    byCmd.set(cmd, [...(byCmd.get(cmd) ?? []), Number(p99)]);
  }
  for (const [cmd, xs] of byCmd) results.set(`${fsName} eld-p99-ms ${cmd}`, xs);
  rmSync(base, { recursive: true, force: true });
}

const results: Results = new Map();
for (const f of fsNames) await benchFs(f, results);

console.log(`\nomirr sync benchmark: medians of ${reps} (seconds); ratio = omirr / reference (< 1: omirr faster)`);
console.log(`load average (1 min) before each timed command: min ${Math.min(...loads).toFixed(2)}, median ${median(loads).toFixed(2)}, max ${Math.max(...loads).toFixed(2)}\n`);
console.log('| fs | tree | run | omirr:// | ssh:// | omirr local | tar pipe | rsync daemon | rsync -e ssh | rsync local | omirr:// / rsyncd | ssh:// / rsync ssh | omirr:// / rsync ssh | local / rsync | omirr:// / tar |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
const m = (k: string): number => median(results.get(k) ?? []);
const f = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(2));
for (const fsName of fsNames) {
  for (const tree of treeNames) {
    for (const sc of ['first', 'noop', 'change']) {
      const v = (t: Tool): number => m(`${fsName} ${tree} ${sc} ${t}`);
      console.log(
        `| ${fsName} | ${tree} | ${sc} | ${f(v('omirr-net'))} | ${f(v('omirr-ssh'))} | ${f(v('omirr-local'))} | ${f(v('tar'))} | ${f(v('rsyncd'))} | ${f(v('rsync-ssh'))} | ${f(v('rsync-local'))} | ${f(v('omirr-net') / v('rsyncd'))} | ${f(v('omirr-ssh') / v('rsync-ssh'))} | ${f(v('omirr-net') / v('rsync-ssh'))} | ${f(v('omirr-local') / v('rsync-local'))} | ${f(v('omirr-net') / v('tar'))} |`,
      );
    }
  }
  if (tools.some((t) => t.endsWith('-pull'))) {
    console.log(`\n${fsName}: pulls (the far side serves the tree, the command writes a local copy)`);
    console.log('| tree | run | omirr:// pull | ssh:// pull | rsync daemon pull | rsync -e ssh pull | omirr:// / rsyncd | ssh:// / rsync ssh |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const tree of treeNames) {
      for (const sc of ['first', 'noop', 'change']) {
        const v = (t: Tool): number => m(`${fsName} ${tree} ${sc} ${t}`);
        console.log(
          `| ${tree} | ${sc} | ${f(v('omirr-net-pull'))} | ${f(v('omirr-ssh-pull'))} | ${f(v('rsyncd-pull'))} | ${f(v('rsync-ssh-pull'))} | ${f(v('omirr-net-pull') / v('rsyncd-pull'))} | ${f(v('omirr-ssh-pull') / v('rsync-ssh-pull'))} |`,
        );
      }
    }
  }
  if (tools.includes('omirr-sshsock')) {
    console.log(`\n${fsName}: ssh:// through a running \`omirr serve --socket\` (ssh -N -L to it; nothing started on the far side)`);
    console.log('| tree | run | ssh:// socket | ssh:// stdio | rsync -e ssh | socket / rsync ssh | socket / stdio |');
    console.log('|---|---|---|---|---|---|---|');
    for (const tree of treeNames) {
      for (const sc of ['first', 'noop', 'change']) {
        const v = (t: Tool): number => m(`${fsName} ${tree} ${sc} ${t}`);
        console.log(`| ${tree} | ${sc} | ${f(v('omirr-sshsock'))} | ${f(v('omirr-ssh'))} | ${f(v('rsync-ssh'))} | ${f(v('omirr-sshsock') / v('rsync-ssh'))} | ${f(v('omirr-sshsock') / v('omirr-ssh'))} |`);
      }
    }
  }
  if (baseBin) {
    console.log(`\n${fsName}: this build against --base ${baseDir} (interleaved in the same run); ratio = this / base`);
    console.log('| tree | run | omirr:// | base omirr:// | ssh:// | base ssh:// | local | base local | omirr:// ratio | ssh:// ratio | local ratio |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const tree of treeNames) {
      for (const sc of ['first', 'noop', 'change']) {
        const v = (t: Tool): number => m(`${fsName} ${tree} ${sc} ${t}`);
        console.log(
          `| ${tree} | ${sc} | ${f(v('omirr-net'))} | ${f(v('base-net'))} | ${f(v('omirr-ssh'))} | ${f(v('base-ssh'))} | ${f(v('omirr-local'))} | ${f(v('base-local'))} | ${f(v('omirr-net') / v('base-net'))} | ${f(v('omirr-ssh') / v('base-ssh'))} | ${f(v('omirr-local') / v('base-local'))} |`,
        );
      }
    }
    if (tools.some((t) => t.startsWith('base-') && t.endsWith('-pull'))) {
      console.log(`\n${fsName}: pulls, this build against --base ${baseDir}; ratio = this / base`);
      console.log('| tree | run | omirr:// pull | base omirr:// pull | ssh:// pull | base ssh:// pull | omirr:// ratio | ssh:// ratio |');
      console.log('|---|---|---|---|---|---|---|---|');
      for (const tree of treeNames) {
        for (const sc of ['first', 'noop', 'change']) {
          const v = (t: Tool): number => m(`${fsName} ${tree} ${sc} ${t}`);
          console.log(
            `| ${tree} | ${sc} | ${f(v('omirr-net-pull'))} | ${f(v('base-net-pull'))} | ${f(v('omirr-ssh-pull'))} | ${f(v('base-ssh-pull'))} | ${f(v('omirr-net-pull') / v('base-net-pull'))} | ${f(v('omirr-ssh-pull') / v('base-ssh-pull'))} |`,
          );
        }
      }
    }
  }
  for (const tree of treeNames) {
    const k = `${fsName} ${tree} startup`;
    const node = results.get(`${k} node`);
    const om = results.get(`${k} omirr`);
    if (!node || !om) continue;
    const diffs = om.map((x, i) => x - node[i]!);
    const cpu = results.get(`${k} omirr cpu`) ?? [];
    const nodeCpu = results.get(`${k} node cpu`) ?? [];
    console.log(
      `\n${fsName} ${tree}: start-up, ms from process start (medians of ${om.length}): omirr sync's first readdir ${median(om).toFixed(0)}, node -e's first line ${median(node).toFixed(0)}; difference ${median(diffs).toFixed(0)} (min ${Math.min(...diffs).toFixed(0)}, target <= 80)` +
        `; CPU time (all threads) by then: omirr ${median(cpu).toFixed(0)} ms, node -e ${median(nodeCpu).toFixed(0)} ms, difference ${(median(cpu) - median(nodeCpu)).toFixed(0)} ms`,
    );
  }
  for (const cmd of ['sync', 'serve']) {
    const xs = results.get(`${fsName} eld-p99-ms ${cmd}`) ?? [];
    if (xs.length) console.log(`\n${fsName}: event-loop delay p99 of omirr ${cmd} processes: median ${median(xs).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (${xs.length} processes)`);
  }
}
