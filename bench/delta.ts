// `npm run bench:delta`: a large file with 1 MiB rewritten in the middle, synced to a
// receiver that has the old version: omirr over omirr:// and over ssh:// against rsync over
// the same transports (an rsync daemon on 127.0.0.1; rsync -e with the same ssh command and
// sshd). Interleaved, medians, omirr's ratio to rsync, bytes on the wire (omirr: the
// protocol bytes it reports in --json; rsync: --stats' bytes sent + received). Each result
// is checked against the source's sha256. Not a test: numbers go to docs/performance.md.
// Usage: node dist/bench/delta.js [--reps N] [--mib 256] [--tools omirr-net,omirr-ssh,rsyncd,rsync-ssh,omirr-whole,omirr-sha256,omirr-old] [--dir /dev/shm/omirr-delta]
// (omirr-whole: omirr:// with -W, the whole file as before delta transfers; omirr-sha256:
// omirr:// with the client's BLAKE3 off, so the delta is verified with sha256 as before hash-blake3;
// omirr-old: the client as the build before delta-lanes32 and hash-blake3-ranges, OMIRR_OLD_DELTA)
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeKeyFile } from '../src/net/keys.js';
import { arg, median } from './args.js';
import { servePort } from './childGroup.js';
import { startRsyncd } from './refTools.js';
import { haveSshd, startSshd } from './sshd.js';
import { cpuSeconds, cpuTreeSeconds } from './procCpu.js';

const bin = fileURLToPath(new URL('../../bin/omirr.js', import.meta.url));
// extra node flags for both omirr processes, e.g. OMIRR_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'
const nodeArgs = (process.env.OMIRR_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

const reps = Number(arg('reps', '3'));
const MiB = 1 << 20;
const size = Number(arg('mib', '256')) * MiB;
const base = arg('dir', '/dev/shm/omirr-delta');
const ALL = ['omirr-net', 'omirr-ssh', 'rsyncd', 'rsync-ssh', 'omirr-whole', 'omirr-sha256', 'omirr-old'] as const;
type Tool = (typeof ALL)[number];
const tools = arg('tools', ALL.join(',')).split(',') as Tool[];

const loads: number[] = [];

function timed(cmd: string, args: string[], env: Record<string, string> = {}): { s: number; stdout: string } {
  loads.push(loadavg()[0]!);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, maxBuffer: 64 * MiB });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  if (process.env.OMIRR_TIMING) process.stderr.write(r.stderr); // the phase timings of omirr sync
  return { s, stdout: r.stdout.toString() };
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

function writeRandom(file: string, bytes: number): void {
  const fd = openSync(file, 'w');
  for (let at = 0; at < bytes; at += 16 * MiB) writeSync(fd, randomBytes(Math.min(16 * MiB, bytes - at)));
  closeSync(fd);
}

const OLD_TIME = new Date(Date.UTC(2024, 0, 1));

rmSync(base, { recursive: true, force: true });
mkdirSync(join(base, 'src'), { recursive: true });
mkdirSync(join(base, 'dst'), { recursive: true });
const oldFile = join(base, 'old.bin');
writeRandom(oldFile, size);
utimesSync(oldFile, OLD_TIME, OLD_TIME);

// the omirr server (shared secret) and the rsync daemon, both serving base/dst
const key = join(base, 'key');
writeKeyFile(key);
writeFileSync(join(base, 'secret'), 'omirr benchmark secret, not for production\n');
writeFileSync(join(base, 'omirr.conf'), `node = bench\nlisten = 127.0.0.1:0\nkey = ${key}\nsecret = ${join(base, 'secret')}\ntree = dst ${join(base, 'dst')} rw\n`);
const serve = spawn(process.execPath, [...nodeArgs, bin, 'serve', '-c', join(base, 'omirr.conf'), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
const omirrPort = await servePort(serve);
const rsyncd = await startRsyncd(base, join(base, 'dst'));
const sshd = haveSshd() ? await startSshd() : undefined;
if (!sshd) console.error('no sshd: the ssh:// rows are skipped (apt-get install openssh-server)');

const results = new Map<string, number[]>(); // tool -> seconds
const cpus = new Map<string, number[]>(); // tool -> CPU seconds of client and server together (omirr:// and the rsync daemon)
const wire = new Map<string, number[]>(); // tool -> bytes

function runTool(tool: Tool, src: string, dst: string): { s: number; bytes: number } {
  const env = { OMIRR_LOG_LEVEL: 'warn' };
  switch (tool) {
    case 'omirr-net':
    case 'omirr-whole':
    case 'omirr-sha256':
    case 'omirr-old':
    case 'omirr-ssh': {
      // omirr-sha256: the client offers no hash-blake3 (as a build without BLAKE3): the deltas are verified with sha256
      if (tool === 'omirr-sha256') Object.assign(env, { OMIRR_NO_BLAKE3: '1' });
      if (tool === 'omirr-old') Object.assign(env, { OMIRR_OLD_DELTA: '1' });
      const url = tool !== 'omirr-ssh' ? `omirr://127.0.0.1:${omirrPort}/dst/${tool}` : `ssh://${sshd!.user}@127.0.0.1${dst}`;
      const extra = tool !== 'omirr-ssh' ? ['--secret-file', join(base, 'secret')] : ['--rsh', sshd!.rsh, '--omirr-path', `${process.execPath} ${bin}`];
      // omirr-whole: the same over omirr:// with deltas off (-W), as before delta transfers
      const r = timed(process.execPath, [...nodeArgs, bin, 'sync', src, url, '--json', ...extra, ...(tool === 'omirr-whole' ? ['-W'] : [])], env);
      const j = JSON.parse(r.stdout) as { wire?: { sent: number; received: number }; delta?: { files: number } };
      if (tool !== 'omirr-whole' && j.delta?.files !== 1) console.error(`  ${tool}: the file did not go as a delta: ${r.stdout.slice(0, 300)}`);
      return { s: r.s, bytes: (j.wire?.sent ?? 0) + (j.wire?.received ?? 0) };
    }
    case 'rsyncd':
    case 'rsync-ssh': {
      const target = tool === 'rsyncd' ? `rsync://127.0.0.1:${rsyncd.port}/dst/${tool}/` : `${sshd!.user}@127.0.0.1:${dst}/`;
      const r = timed('rsync', ['-a', '--stats', ...(tool === 'rsync-ssh' ? ['-e', sshd!.rsh] : []), `${src}/`, target]);
      const sent = Number(/Total bytes sent: ([\d,]+)/.exec(r.stdout)?.[1]?.replace(/,/g, '') ?? NaN);
      const recv = Number(/Total bytes received: ([\d,]+)/.exec(r.stdout)?.[1]?.replace(/,/g, '') ?? NaN);
      return { s: r.s, bytes: sent + recv };
    }
  }
}

try {
  const active = tools.filter((t) => sshd || !t.endsWith('ssh'));
  for (let rep = 0; rep < reps; rep++) {
    // the new version: 1 MiB rewritten in the middle (a different place each repetition), a new mtime
    const src = join(base, 'src');
    const b = readFileSync(oldFile);
    randomBytes(MiB).copy(b, Math.floor(size / 2) - 4097 * (rep + 1));
    writeFileSync(join(src, 'big.bin'), b);
    const t = new Date(Date.UTC(2024, 5, 1) + rep * 1000);
    utimesSync(join(src, 'big.bin'), t, t);
    const want = createHash('sha256').update(b).digest('hex');
    for (const tool of active) {
      // the receiver holds the old version (untimed)
      const dst = join(base, 'dst', tool);
      mkdirSync(dst, { recursive: true });
      writeFileSync(join(dst, 'big.bin'), readFileSync(oldFile));
      utimesSync(join(dst, 'big.bin'), OLD_TIME, OLD_TIME);
      spawnSync('sync');
      const server = tool === 'rsyncd' ? rsyncd.process.pid : tool.endsWith('ssh') ? undefined : serve.pid;
      const cpu0 = cpuSeconds('self', true) + (server ? cpuTreeSeconds(server) : 0);
      const r = runTool(tool, src, dst);
      const ok = sha(join(dst, 'big.bin')) === want;
      // after the check (a few hundred ms): the rsync daemon has reaped its connection's process by then
      if (server) cpus.set(tool, [...(cpus.get(tool) ?? []), cpuSeconds('self', true) + cpuTreeSeconds(server) - cpu0]);
      if (!ok) throw new Error(`${tool}: the result's sha256 differs from the source's`);
      results.set(tool, [...(results.get(tool) ?? []), r.s]);
      wire.set(tool, [...(wire.get(tool) ?? []), r.bytes]);
      console.error(`  rep ${rep} ${tool.padEnd(10)} ${r.s.toFixed(3)} s  ${(r.bytes / MiB).toFixed(2)} MiB on the wire${server ? `  CPU ${cpus.get(tool)!.at(-1)!.toFixed(2)} s` : ''}`);
    }
  }
} finally {
  serve.kill('SIGTERM');
  await Promise.all([rsyncd.stop(), sshd?.stop()]);
  if (existsSync(base)) rmSync(base, { recursive: true, force: true });
}

const m = (t: Tool): number => median(results.get(t) ?? []);
const w = (t: Tool): string => (wire.has(t) ? (median(wire.get(t)!) / MiB).toFixed(2) : '-');
const f = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(2));
console.log(`\ndelta benchmark: a ${size / MiB} MiB file, 1 MiB rewritten in the middle; medians of ${reps} (seconds), MiB on the wire`);
console.log(`load average (1 min) before each timed command: min ${Math.min(...loads).toFixed(2)}, median ${median(loads).toFixed(2)}, max ${Math.max(...loads).toFixed(2)}\n`);
console.log('| transport | omirr | rsync | omirr / rsync | omirr MiB on the wire | rsync MiB on the wire |');
console.log('|---|---|---|---|---|---|');
console.log(`| omirr:// vs rsync daemon | ${f(m('omirr-net'))} | ${f(m('rsyncd'))} | ${f(m('omirr-net') / m('rsyncd'))} | ${w('omirr-net')} | ${w('rsyncd')} |`);
if (wire.has('omirr-sha256')) console.log(`| omirr:// verified with sha256 (no hash-blake3) vs rsync daemon | ${f(m('omirr-sha256'))} | ${f(m('rsyncd'))} | ${f(m('omirr-sha256') / m('rsyncd'))} | ${w('omirr-sha256')} | ${w('rsyncd')} |`);
if (wire.has('omirr-old')) console.log(`| omirr:// as before delta-lanes32 and hash-blake3-ranges vs rsync daemon | ${f(m('omirr-old'))} | ${f(m('rsyncd'))} | ${f(m('omirr-old') / m('rsyncd'))} | ${w('omirr-old')} | ${w('rsyncd')} |`);
if (wire.has('omirr-whole')) console.log(`| omirr:// whole file (-W) vs rsync daemon | ${f(m('omirr-whole'))} | ${f(m('rsyncd'))} | ${f(m('omirr-whole') / m('rsyncd'))} | ${w('omirr-whole')} | ${w('rsyncd')} |`);
console.log(`| ssh:// vs rsync -e ssh | ${f(m('omirr-ssh'))} | ${f(m('rsync-ssh'))} | ${f(m('omirr-ssh') / m('rsync-ssh'))} | ${w('omirr-ssh')} | ${w('rsync-ssh')} |`);
const c = (t: Tool): number => median(cpus.get(t) ?? []);
console.log(`\nCPU seconds (user + system) of client and server together, medians: ${ALL.filter((t) => cpus.has(t)).map((t) => `${t} ${f(c(t))}`).join(', ')}`);
if (cpus.has('omirr-net') && cpus.has('rsyncd')) console.log(`omirr:// / rsync daemon CPU: ${f(c('omirr-net') / c('rsyncd'))}`);
