// `npm run bench:ftp`: mirroring from vsftpd on loopback, one package file, three tools:
// `omirr mirror -N PKG`, the real mirror.pl on the same package (mirror 2.9 with
// perl536.patch, copied from ../shared/reference/mirror-2.9 and patched here, or --mirror-pl
// DIR), and `lftp -c mirror --parallel=1`. All three use one control connection and passive
// data connections to the same vsftpd. Three cases per tool: the first copy, a no-op rerun,
// and a rerun after 1 % of the files changed. Beside them the server's own pace (`floor`,
// `floor-early`: ./ftpFloor.ts, a minimal client that fetches every file and writes nothing;
// first copy only). Tools interleaved in each repetition; medians
// and ratios to omirr, wall time and the tool's CPU time (user + sys); the load average is
// printed (the machine is shared). Not a test: numbers go to docs/performance.md.
// Usage: node dist/bench/ftp.js [--files 20000] [--large 3] [--large-mb 32] [--reps 3]
//        [--tools omirr,lftp,mirror.pl[,floor,floor-early]] [--mirror-pl DIR] [--root /dev/shm/omirr-bench-ftp]
//        [--pasv-ports LO-HI] [--quick] (or OMIRR_BENCH_QUICK=1: 5,000 files, 2 x 16 MiB, 2 repetitions)
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from '../src/core/random.js';
import { arg, median } from './args.js';
import { startVsftpd } from '../test/helpers/vsftpdServer.js';

const bin = fileURLToPath(new URL('../../bin/omirr.js', import.meta.url));

/** A short run while working on it; the issue's numbers are the defaults. */
const quick = process.argv.includes('--quick') || process.env.OMIRR_BENCH_QUICK === '1';
const files = Number(arg('files', quick ? '5000' : '20000'));
const large = Number(arg('large', quick ? '2' : '3'));
const largeMb = Number(arg('large-mb', quick ? '16' : '32'));
const reps = Number(arg('reps', quick ? '2' : '3'));
const tools = arg('tools', 'omirr,lftp,mirror.pl,floor,floor-early').split(',');
const root = arg('root', '/dev/shm/omirr-bench-ftp');
let mirrorPl = arg('mirror-pl', '');
/**
 * vsftpd's passive ports, `LO-HI` (pasv_min_port, pasv_max_port); '' = its default (any
 * ephemeral port). A range outside this host's ephemeral ports, as firewalled servers have,
 * lets omirr half-close data connections early on this host too (docs/sites.md).
 */
const pasvPorts = arg('pasv-ports', '');

const MIN = 60_000;
/** Listing times are to the minute: whole minutes in the past, so a rerun compares equal. */
const T_SITE = Math.floor((Date.now() - 3600_000) / MIN) * MIN;

const loads: number[] = [];

/** CPU seconds (user + sys) of the children this process has waited for. */
function childCpu(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[13]) + Number(f[14])) / 100; // cutime, cstime in clock ticks (USER_HZ 100)
}

interface Timing {
  wall: number;
  cpu: number;
}

function time(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Timing {
  loads.push(loadavg()[0]!);
  const c0 = childCpu();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: opts.cwd, env: { ...process.env, OMIRR_LOG_LEVEL: 'error', ...opts.env } });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { wall, cpu: childCpu() - c0 };
}

/** A patched, runnable mirror 2.9 under `dir` (as test/helpers/mirrorPl.ts makes it), or '' when the reference is not beside the repository. */
function prepareMirrorPl(dir: string): string {
  const repo = resolve(dirname(bin), '..');
  for (const up of ['..', '../..']) {
    const ref = resolve(repo, up, 'shared/reference/mirror-2.9');
    if (!existsSync(join(ref, 'mirror-2.9', 'mirror.pl'))) continue;
    const out = join(dir, 'mirror-2.9');
    cpSync(join(ref, 'mirror-2.9'), out, { recursive: true });
    for (const f of readdirSync(out)) chmodSync(join(out, f), 0o755);
    execFileSync('patch', ['-p1', '-s', '-i', join(ref, 'perl536.patch')], { cwd: out, stdio: 'pipe' });
    return out;
  }
  return '';
}

/** `files` small files (1-16 KiB) in directories of 100, and `large` files of `largeMb` MiB. */
function makeSite(site: string): string[] {
  const rand = rng(42);
  const paths: string[] = [];
  for (let i = 0; i < files; i++) {
    const p = `d${String(Math.floor(i / 100)).padStart(3, '0')}/f${i}.dat`;
    if (i % 100 === 0) mkdirSync(join(site, p, '..'), { recursive: true });
    const b = Buffer.allocUnsafe(1024 + Math.floor(rand() * 15 * 1024));
    b.fill(i & 0xff);
    writeFileSync(join(site, p), b);
    utimesSync(join(site, p), new Date(T_SITE), new Date(T_SITE));
    paths.push(p);
  }
  mkdirSync(join(site, 'large'), { recursive: true });
  for (let i = 0; i < large; i++) {
    const p = `large/big${i}.iso`;
    writeFileSync(join(site, p), Buffer.alloc(largeMb << 20, i + 1));
    utimesSync(join(site, p), new Date(T_SITE), new Date(T_SITE));
  }
  return paths;
}

/** Change 1 % of the small files: new content and a later minute. */
function changeSome(site: string, paths: string[], round: number): void {
  const t = T_SITE + (round + 1) * MIN;
  for (let i = round % 100; i < paths.length; i += 100) {
    writeFileSync(join(site, paths[i]!), `changed in round ${round}\n`.repeat(50));
    utimesSync(join(site, paths[i]!), new Date(t), new Date(t));
  }
}

/** One package file for omirr and mirror.pl: the whole site into `dst`, anonymous, passive. */
function packageFile(port: number, dst: string): string {
  const pkg = join(dst + '.pkg');
  writeFileSync(pkg, `package=bench\n  site=127.0.0.1\n  ftp_port=${port}\n  remote_dir=/\n  local_dir=${dst}\n  remote_user=anonymous\n  remote_password=bench@localhost\n  passive_ftp=true\n`);
  return pkg;
}

const floorJs = fileURLToPath(new URL('./ftpFloor.js', import.meta.url));

/**
 * The server's pace (./ftpFloor.ts): every file fetched by a minimal pipelined client that
 * writes nothing, data connections closed after the server's FIN (`floor`) or half-closed
 * at once (`floor-early`). First copy only: there is nothing to compare on a rerun.
 */
function runFloor(tool: string, port: number, list: string, bytes: number): Timing {
  return time(process.execPath, [floorJs, String(port), list, String(bytes), ...(tool === 'floor-early' ? ['--early'] : [])]);
}

function runTool(tool: string, port: number, dst: string): Timing {
  // -N: no mirror.defaults from the current directory or $HOME
  if (tool === 'omirr') return time(process.execPath, [bin, 'mirror', '-N', packageFile(port, dst)]);
  if (tool === 'lftp') return time('lftp', ['-c', `set ftp:passive-mode on; open ftp://127.0.0.1:${port}; mirror --parallel=1 / ${dst}`]);
  if (tool === 'mirror.pl') {
    return time('perl', [join(mirrorPl, 'mirror.pl'), '-N', packageFile(port, dst)], { cwd: mirrorPl, env: { PERL5LIB: mirrorPl, TZ: 'UTC', USER: 'bench' } });
  }
  throw new Error(`unknown tool ${tool}`);
}

/** A timing means nothing if the copy is not there: every file, at its size. */
function checkCopy(tool: string, dst: string, want: number, site: string): void {
  const list = (dir: string): string[] =>
    spawnSync('find', ['.', '-type', 'f', '-not', '-name', '.*'], { cwd: dir, encoding: 'utf8' }).stdout.split('\n').filter((l) => l !== '');
  const got = list(dst);
  if (got.length !== want) {
    const have = new Set(got);
    const missing = list(site).filter((f) => !have.has(f));
    throw new Error(`${tool}: ${got.length} files in ${dst}, expected ${want}; missing, e.g.: ${missing.slice(0, 8).join(' ')}`);
  }
}

async function main(): Promise<void> {
  rmSync(root, { recursive: true, force: true });
  const site = join(root, 'site');
  mkdirSync(site, { recursive: true });
  if (tools.includes('mirror.pl')) {
    if (mirrorPl === '') mirrorPl = prepareMirrorPl(root);
    if (!existsSync(join(mirrorPl, 'mirror.pl'))) {
      throw new Error(`mirror.pl: ${mirrorPl ? `no mirror.pl in ${mirrorPl}` : 'no ../shared/reference/mirror-2.9 beside the repository'} (give --mirror-pl DIR, or --tools omirr,lftp)`);
    }
  }
  console.log(`making the site: ${files} small files, ${large} x ${largeMb} MiB`);
  const paths = makeSite(site);
  const pasv = /^(\d+)-(\d+)$/.exec(pasvPorts);
  if (pasvPorts !== '' && !pasv) throw new Error(`--pasv-ports ${pasvPorts}: expected LO-HI`);
  const server = await startVsftpd({ root: site, extra: pasv ? [`pasv_min_port=${pasv[1]}`, `pasv_max_port=${pasv[2]}`] : [] });
  const times: Record<string, Record<string, Timing[]>> = {};
  // the floor's list: every file of the site as the server names it
  const floorList = join(root, 'floor.list');
  const all = [...paths, ...Array.from({ length: large }, (_, i) => `large/big${i}.iso`)];
  writeFileSync(floorList, all.map((p) => `/${p}`).join('\n') + '\n');
  // (counted at each run: the 1 %-changed case rewrites files)
  const floorBytes = (): number => all.reduce((n, p) => n + statSync(join(site, p)).size, 0);
  try {
    let round = 0;
    for (let r = 0; r < reps; r++) {
      for (const tool of tools) {
        if (tool === 'floor' || tool === 'floor-early') {
          const t = (times[tool] ??= { first: [], noop: [], changed: [] });
          t.first!.push(runFloor(tool, server.port, floorList, floorBytes()));
          console.log(`rep ${r + 1} ${tool}: first ${t.first!.at(-1)!.wall.toFixed(2)} s (cpu ${t.first!.at(-1)!.cpu.toFixed(2)}), load ${loadavg()[0]!.toFixed(1)}`);
          continue;
        }
        const dst = join(root, `dst-${tool}`);
        rmSync(dst, { recursive: true, force: true });
        mkdirSync(dst, { recursive: true });
        const t = (times[tool] ??= { first: [], noop: [], changed: [] });
        t.first!.push(runTool(tool, server.port, dst));
        checkCopy(tool, dst, files + large, site);
        t.noop!.push(runTool(tool, server.port, dst));
        changeSome(site, paths, round++);
        t.changed!.push(runTool(tool, server.port, dst));
        const f = (x: Timing): string => `${x.wall.toFixed(2)} s (cpu ${x.cpu.toFixed(2)})`;
        console.log(`rep ${r + 1} ${tool}: first ${f(t.first!.at(-1)!)}, no-op ${f(t.noop!.at(-1)!)}, 1% changed ${f(t.changed!.at(-1)!)}, load ${loadavg()[0]!.toFixed(1)}`);
      }
    }
  } finally {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`\n${files} files + ${large} x ${largeMb} MiB from vsftpd on loopback (passive ports: ${pasv ? pasvPorts : "vsftpd's default"}), median of ${reps}; seconds, wall (cpu = the tool's user + sys); ratio = tool / omirr (wall)`);
  console.log(['case', ...tools.flatMap((t) => (t === 'omirr' ? [t, 'cpu'] : [t, 'cpu', `${t}/omirr`]))].join('\t'));
  for (const c of ['first', 'noop', 'changed']) {
    const o = median((times.omirr?.[c] ?? []).map((x) => x.wall));
    const row = [c];
    for (const t of tools) {
      if (times[t]![c]!.length === 0) {
        row.push('-', '-', ...(t === 'omirr' ? [] : ['-']));
        continue;
      }
      const m = median(times[t]![c]!.map((x) => x.wall));
      row.push(m.toFixed(2), median(times[t]![c]!.map((x) => x.cpu)).toFixed(2));
      if (t !== 'omirr') row.push((m / o).toFixed(2));
    }
    console.log(row.join('\t'));
  }
  console.log(`load average (1 min) before the runs: median ${median(loads).toFixed(2)}, max ${Math.max(...loads).toFixed(2)}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
