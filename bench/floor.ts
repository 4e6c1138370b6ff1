// `npm run bench:floor`: where the floor is for omirr's first copy on this machine. In one
// run, on tmpfs, with the benchmark's trees (bench/gen.ts): the reference tools (tar pipe,
// rsync local, rsync daemon) and, each alone, the pieces any omirr design must pay (node
// start, scan, reading the files, sha256, TLS 1.3 between two processes, the safe write:
// temporary name + rename), wall and CPU time, medians of several repetitions; then a
// budget that sets the targets of issue 3 against the lower bound those pieces give on
// this many cores. Not a test: numbers go to docs/performance.md.
// Usage: node dist/bench/floor.js [--reps N]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { arg, median } from './args.js';
import { generateTree, TREES } from './gen.js';
import { rsyncLocal, rsyncToDaemon, startRsyncd, tarPipe, type Command, type Rsyncd } from './refTools.js';
import type { FileRef, Piece, WorkerJob } from './floorWorker.js';

const bin = fileURLToPath(new URL('../../bin/omirr.js', import.meta.url));
const workerFile = fileURLToPath(new URL('./floorWorker.js', import.meta.url));
const netFile = fileURLToPath(new URL('./floorNet.js', import.meta.url));

const reps = Number(arg('reps', '3'));
const CORES = availableParallelism();

// ---------------------------------------------------------------- cleanup, also on error or Ctrl-C
const base = mkdtempSync('/dev/shm/omirr-floor-');
const children = new Set<ChildProcess>();
let rsyncd: Rsyncd | undefined;
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rsyncd?.process.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

// ---------------------------------------------------------------- measurement records
interface Sample {
  wall: number; // s
  cpu: number; // s, every process and thread the measurement covers
  cpu2?: number; // s, the other end's process where there is one (receiver, rsync daemon)
}
const samples = new Map<string, Sample[]>();
const info = new Map<string, string>();
const loads: number[] = [];
const record = (key: string, s: Sample): void => {
  samples.set(key, [...(samples.get(key) ?? []), s]);
  const other = s.cpu2 === undefined ? '' : `, other end ${s.cpu2.toFixed(3)}`;
  console.error(`  ${key.padEnd(34)} wall ${s.wall.toFixed(3)} s, cpu ${s.cpu.toFixed(3)} s${other}`);
};
const med = (key: string, f: (s: Sample) => number | undefined): number => median((samples.get(key) ?? []).map(f).filter((x): x is number => x !== undefined));
const wall = (key: string): number => med(key, (s) => s.wall);
const cpu = (key: string): number => med(key, (s) => s.cpu);
const cpu2 = (key: string): number => med(key, (s) => s.cpu2);
const wallMin = (key: string): number => Math.min(...(samples.get(key) ?? []).map((s) => s.wall));

// ---------------------------------------------------------------- external commands, CPU from /usr/bin/time
function timeCmd(cmd: Command): Sample {
  loads.push(loadavg()[0]!);
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'FLOORTIME %U %S', cmd[0], ...cmd[1]], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  const m = /FLOORTIME ([\d.]+) ([\d.]+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${cmd[0]} ${cmd[1].join(' ')} failed: ${r.stderr}`);
  return { wall: dt, cpu: Number(m[1]) + Number(m[2]) };
}

/** utime+stime of the waited-for children of `pid` (clock ticks of 10 ms). */
function childrenCpu(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}
function hasChildren(pid: number): boolean {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(pid)) return true;
    } catch {
      /* gone */
    }
  }
  return false;
}

/** rsync to the daemon: the client's CPU from /usr/bin/time, the daemon's forked receiver's
 *  from the daemon's children CPU once it has reaped them. */
async function timeRsyncd(src: string, sub: string): Promise<Sample> {
  const pid = rsyncd!.process.pid!;
  const c0 = childrenCpu(pid);
  const s = timeCmd(rsyncToDaemon(src, rsyncd!.port, sub));
  const deadline = Date.now() + 5000;
  while (hasChildren(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return { ...s, cpu2: childrenCpu(pid) - c0 };
}

// ---------------------------------------------------------------- pieces in worker threads
function listFiles(root: string, rel = ''): FileRef[] {
  const out: FileRef[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(root, r));
    else out.push({ rel: r, size: statSync(join(root, r)).size });
  }
  return out;
}

/** Files split into `n` shares by directory (no two threads in one directory: the best case
 *  for parallel creates), or file by file when there are fewer directories than threads. */
function shares(files: FileRef[], n: number): FileRef[][] {
  const dirOf = (f: FileRef): string => f.rel.slice(0, f.rel.lastIndexOf('/'));
  const dirs = [...new Set(files.map(dirOf))];
  const out: FileRef[][] = Array.from({ length: n }, () => []);
  if (dirs.length >= n) {
    const idx = new Map(dirs.map((d, i) => [d, i % n]));
    for (const f of files) out[idx.get(dirOf(f))!]!.push(f);
  } else files.forEach((f, i) => out[i % n]!.push(f));
  return out;
}

const once = (w: Worker, what: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const onMsg = (m: unknown): void => {
      if (m !== what) return;
      w.off('message', onMsg);
      w.off('error', reject);
      resolve();
    };
    w.on('message', onMsg);
    w.once('error', reject);
  });

/** Start one worker per share, let each load, then time from 'go' to the last 'done'. CPU is
 *  the whole process's (the main thread only waits), so GC helper threads count too. */
async function runWorkers(piece: Piece, srcRoot: string, dstRoot: string, parts: FileRef[][]): Promise<Sample> {
  const ws = parts.map((files) => new Worker(workerFile, { workerData: { piece, srcRoot, dstRoot, files } satisfies WorkerJob }));
  try {
    await Promise.all(ws.map((w) => once(w, 'ready')));
    loads.push(loadavg()[0]!);
    const done = Promise.all(ws.map((w) => once(w, 'done')));
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (const w of ws) w.postMessage('go');
    await done;
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    return { wall: dt, cpu: (c.user + c.system) / 1e6 };
  } finally {
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

async function writePiece(piece: 'write-safe' | 'write-inplace', srcRoot: string, files: FileRef[], threads: number): Promise<Sample> {
  const dst = join(base, 'w');
  rmSync(dst, { recursive: true, force: true });
  for (const d of new Set(files.map((f) => f.rel.slice(0, f.rel.lastIndexOf('/'))))) mkdirSync(join(dst, d), { recursive: true });
  try {
    return await runWorkers(piece, srcRoot, dst, shares(files, threads));
  } finally {
    rmSync(dst, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- transport: two processes
function spawnNet(args: string[]): { child: ChildProcess; lines: AsyncIterator<string> } {
  const child = spawn(process.execPath, [netFile, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator]() };
}
const nextJson = async (it: AsyncIterator<string>): Promise<Record<string, unknown>> => {
  const r = await it.next();
  if (r.done) throw new Error('floorNet ended early');
  return JSON.parse(r.value) as Record<string, unknown>;
};
const exited = (c: ChildProcess): Promise<void> => (c.exitCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r())));

async function netPiece(transport: 'tls' | 'tcp', bytes: number): Promise<Sample> {
  const recv = spawnNet(['recv', transport, String(bytes)]);
  const { port } = (await nextJson(recv.lines)) as { port: number };
  loads.push(loadavg()[0]!);
  const send = spawnNet(['send', transport, String(bytes), String(port)]);
  const [s, r] = await Promise.all([nextJson(send.lines), nextJson(recv.lines)]);
  await Promise.all([exited(send.child), exited(recv.child)]);
  info.set(`${transport} cipher`, String(s.cipher));
  return { wall: Number(s.wallMs) / 1000, cpu: Number(s.cpuMs) / 1000, cpu2: Number(r.cpuMs) / 1000 };
}

// ---------------------------------------------------------------- the run
const sizes: Record<string, number> = {};
const fileLists: Record<string, FileRef[]> = {};
const srcOf = (tree: string): string => join(base, 'src', tree);
for (const tree of ['small', 'large']) {
  const g = generateTree(srcOf(tree), TREES[tree]!);
  sizes[tree] = g.bytes;
  fileLists[tree] = listFiles(srcOf(tree));
  console.error(`${tree}: ${g.files} files, ${(g.bytes / 2 ** 20).toFixed(0)} MiB in ${srcOf(tree)}`);
}
mkdirSync(join(base, 'srv'));
mkdirSync(join(base, 'rsyncd-dst'));
rsyncd = await startRsyncd(join(base, 'srv'), join(base, 'rsyncd-dst'));

try {
  for (let rep = 0; rep < reps; rep++) {
    console.error(`rep ${rep + 1}/${reps}`);
    record('start node -e 0', timeCmd([process.execPath, ['-e', '0']]));
    record('start omirr --version', timeCmd([process.execPath, [bin, '--version']]));
    for (const tree of ['small', 'large']) {
      const src = srcOf(tree);
      const files = fileLists[tree]!;
      const ref = join(base, 'ref');
      mkdirSync(ref, { recursive: true });
      record(`${tree} ref tar pipe`, timeCmd(tarPipe(src, ref)));
      rmSync(ref, { recursive: true, force: true });
      record(`${tree} ref rsync local`, timeCmd(rsyncLocal(src, ref)));
      rmSync(ref, { recursive: true, force: true });
      record(`${tree} ref rsync daemon`, await timeRsyncd(src, tree));
      rmSync(join(base, 'rsyncd-dst', tree), { recursive: true, force: true });
      for (const threads of [1, 2]) {
        record(`${tree} scan x${threads}`, await runWorkers('scan', src, '', shares(files, threads)));
        record(`${tree} read x${threads}`, await runWorkers('read', src, '', shares(files, threads)));
        record(`${tree} write safe x${threads}`, await writePiece('write-safe', src, files, threads));
        if (tree === 'small') record(`${tree} write in place x${threads}`, await writePiece('write-inplace', src, files, threads));
      }
      record(`${tree} sha256 x1`, await runWorkers('hash', src, '', [files]));
      for (const t of ['tls', 'tcp'] as const) record(`${tree} ${t} x1`, await netPiece(t, sizes[tree]!));
    }
  }
} finally {
  await rsyncd.stop();
}

// ---------------------------------------------------------------- report
const f2 = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(2));
const f3 = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(3));
const mib = (tree: string): string => `${(sizes[tree]! / 2 ** 20).toFixed(0)} MiB`;
const what: Record<string, string> = {
  'start node -e 0': 'node -e 0',
  'start omirr --version': 'node bin/omirr.js --version',
};
console.log(`\nomirr floor benchmark: medians of ${reps}, tmpfs (${base.replace(/-[^-]+$/, '-*')}), ${CORES} cores`);
console.log(`load average (1 min) before each timed piece: min ${Math.min(...loads).toFixed(2)}, median ${median(loads).toFixed(2)}, max ${Math.max(...loads).toFixed(2)}`);
console.log(`TLS: ${info.get('tls cipher')}, Ed25519 certificates, 256 KiB writes, both ends in their own process\n`);
console.log('| piece | data | wall (s) | wall, fastest run (s) | CPU (s) | CPU other end (s) |');
console.log('|---|---|---|---|---|---|');
const row = (key: string, label: string, data: string): void => {
  const o = cpu2(key);
  console.log(`| ${label} | ${data} | ${f3(wall(key))} | ${f3(wallMin(key))} | ${f3(cpu(key))} | ${Number.isNaN(o) ? '' : f3(o)} |`);
};
for (const k of Object.keys(what)) row(k, what[k]!, '-');
for (const tree of ['small', 'large']) {
  const d = `${tree} (${fileLists[tree]!.length} files, ${mib(tree)})`;
  row(`${tree} ref tar pipe`, 'ref: tar -cf - \\| tar -xf -', d);
  row(`${tree} ref rsync local`, 'ref: rsync -a (local)', d);
  row(`${tree} ref rsync daemon`, 'ref: rsync -a to rsyncd on 127.0.0.1 (other end: the daemon)', d);
  for (const n of [1, 2]) row(`${tree} scan x${n}`, `scan (readdir + lstat of every entry), ${n} thread${n > 1 ? 's' : ''}`, d);
  for (const n of [1, 2]) row(`${tree} read x${n}`, `read (open, read, close), ${n} thread${n > 1 ? 's' : ''}`, d);
  for (const n of [1, 2]) row(`${tree} write safe x${n}`, `safe write from RAM (O_EXCL tmp, write, futimes, close, rename), ${n} thread${n > 1 ? 's' : ''}`, d);
  if (tree === 'small') for (const n of [1, 2]) row(`${tree} write in place x${n}`, `write in place from RAM (no tmp, no rename), ${n} thread${n > 1 ? 's' : ''}`, d);
  row(`${tree} sha256 x1`, 'sha256 per file, content in RAM, 1 thread', d);
  row(`${tree} tls x1`, 'TLS 1.3 over 127.0.0.1, RAM to RAM (other end: receiver)', mib(tree));
  row(`${tree} tcp x1`, 'plain TCP over 127.0.0.1, RAM to RAM (other end: receiver)', mib(tree));
}

// The budget. The CPU that must be spent, spread over every core, bounds the wall time from
// below; the client's start comes first (nothing of the copy runs before it), so the floor is
// start + (the rest of the CPU) / cores. It is built from CPU times, not wall times: on a
// shared machine a piece's wall time includes waiting for other people's work, its CPU time
// hardly does. Each piece's CPU is its 1-thread form (no contention). With one TLS
// connection (omirr's default) one thread per end does all the decryption: that end's CPU
// cannot be spread, which gives a second bound. A floor assumes perfect overlap and nothing
// else (no plan, no protocol, no tar framing, no copies between threads, no destination
// scan): a lower bound for the design on this machine, not a plan.
interface Part {
  name: string;
  cpu: number; // s
  hash?: boolean; // a sha256 share (the "without sha256" columns leave it out)
  tls?: 'sender' | 'receiver'; // a TLS end (the "plain TCP" column puts plain TCP's in its place)
}
interface Budget {
  name: string;
  tree: string;
  net: boolean;
  target: number;
  /** the same from the reference's fastest run (less disturbed by the machine's load) */
  targetFast: number;
  targetWhy: string;
  parts: Part[];
}
const startWall = wall('start node -e 0');
const startCpu = cpu('start node -e 0');
const budgets: Budget[] = [];
for (const tree of ['small', 'large']) {
  const tarT = wall(`${tree} ref tar pipe`);
  const common: Part[] = [
    { name: 'start (node -e 0)', cpu: startCpu },
    { name: 'scan', cpu: cpu(`${tree} scan x1`) },
    { name: 'read', cpu: cpu(`${tree} read x1`) },
  ];
  const write: Part = { name: 'safe write', cpu: cpu(`${tree} write safe x1`) };
  const hash = cpu(`${tree} sha256 x1`);
  budgets.push({
    name: `${tree}, omirr://`,
    tree,
    net: true,
    target: tree === 'small' ? 0.5 * wall(`${tree} ref rsync daemon`) : tarT / 0.9,
    targetFast: tree === 'small' ? 0.5 * wallMin(`${tree} ref rsync daemon`) : wallMin(`${tree} ref tar pipe`) / 0.9,
    targetWhy: tree === 'small' ? `0.5 x rsync daemon ${f2(wall(`${tree} ref rsync daemon`))}` : `tar pipe ${f2(tarT)} / 0.9`,
    parts: [
      ...common,
      { name: 'sha256 sender', cpu: hash, hash: true },
      { name: 'TLS sender', cpu: cpu(`${tree} tls x1`), tls: 'sender' },
      { name: 'TLS receiver', cpu: cpu2(`${tree} tls x1`), tls: 'receiver' },
      { name: 'sha256 receiver', cpu: hash, hash: true },
      write,
    ],
  });
  budgets.push({
    name: `${tree}, local`,
    tree,
    net: false,
    target: tree === 'small' ? 0.5 * wall(`${tree} ref rsync local`) : tarT / 0.9,
    targetFast: tree === 'small' ? 0.5 * wallMin(`${tree} ref rsync local`) : wallMin(`${tree} ref tar pipe`) / 0.9,
    targetWhy: tree === 'small' ? `0.5 x rsync local ${f2(wall(`${tree} ref rsync local`))}` : `tar pipe ${f2(tarT)} / 0.9`,
    parts: [...common, write],
  });
}

console.log(`\n## Budget: first copy, targets against the floor (${CORES} cores; seconds)\n`);
console.log('| copy | target (from medians) | target from the fastest runs | CPU that must be spent | CPU / cores | floor = start + rest CPU / cores | floor without sha256 | floor without sha256, plain TCP | floor with one TLS connection | target below floor? |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
const floorOf = (parts: Part[]): number => startCpu + (parts.reduce((a, p) => a + p.cpu, 0) - startCpu) / CORES;
const notes: string[] = [];
for (const b of budgets) {
  const sum = b.parts.reduce((a, p) => a + p.cpu, 0);
  const floor = floorOf(b.parts);
  const noHash = floorOf(b.parts.filter((p) => !p.hash));
  // not omirr's design (TLS is mandatory): shows which requirement the target collides with
  const tcp = (p: Part): Part => (p.tls ? { ...p, cpu: p.tls === 'sender' ? cpu(`${b.tree} tcp x1`) : cpu2(`${b.tree} tcp x1`) } : p);
  const noHashTcp = floorOf(b.parts.filter((p) => !p.hash).map(tcp));
  const oneConn = Math.max(floor, startCpu + Math.max(cpu(`${b.tree} tls x1`), cpu2(`${b.tree} tls x1`)));
  const below = b.target < floor;
  console.log(
    `| ${b.name} | ${f2(b.target)} (${b.targetWhy}) | ${f2(b.targetFast)} | ${f2(sum)} | ${f2(sum / CORES)} | **${f2(floor)}** | ${b.net ? f2(noHash) : '-'} | ${b.net ? f2(noHashTcp) : '-'} | ${b.net ? f2(oneConn) : '-'} | ${below ? `yes: target = ${f2(b.target / floor)} x floor` : `no: ${f2(b.target - floor)} s left for everything else`} |`,
  );
  notes.push(`- ${b.name}: ${b.parts.map((p) => `${p.name} ${f2(p.cpu)}`).join(' + ')} = ${f2(sum)} s of CPU`);
}
console.log('\nCPU that must be spent, piece by piece (seconds):');
for (const n of notes) console.log(n);
const refCpu = (k: string): string => f2(cpu(k) + (Number.isNaN(cpu2(k)) ? 0 : cpu2(k)));
console.log(`\nThe references' own CPU (all their processes): small: tar pipe ${refCpu('small ref tar pipe')}, rsync local ${refCpu('small ref rsync local')}, rsync daemon ${refCpu('small ref rsync daemon')}; large: tar pipe ${refCpu('large ref tar pipe')}, rsync local ${refCpu('large ref rsync local')}, rsync daemon ${refCpu('large ref rsync daemon')}`);
console.log(`node start through the current CLI (node bin/omirr.js --version): ${f3(wall('start omirr --version'))} s wall, ${f3(cpu('start omirr --version'))} s CPU (node -e 0: ${f3(startWall)} s wall, ${f3(startCpu)} s CPU)`);
