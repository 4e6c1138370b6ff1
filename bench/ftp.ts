// `npm run bench:ftp`: mirroring from vsftpd on loopback: omirr (`omirr sync ftp://...`)
// against `lftp -c mirror` and, when given (--mirror-pl DIR: a patched mirror 2.9, see
// ../shared/reference/mirror-2.9/README.md), the real mirror.pl. Three cases per tool: the
// first copy, a no-op rerun, and a rerun after 1 % of the files changed. Tools interleaved
// in each repetition; medians and ratios to omirr; the load average is printed (the
// machine is shared). Not a test: numbers go to docs/performance.md.
// Usage: node dist/bench/ftp.js [--files 20000] [--large 3] [--large-mb 32] [--reps 3]
//        [--tools omirr,lftp[,mirror.pl]] [--mirror-pl DIR] [--root /dev/shm/omirr-bench-ftp]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from '../src/core/random.js';
import { startVsftpd } from '../test/helpers/vsftpdServer.js';

const bin = fileURLToPath(new URL('../../bin/omirr.js', import.meta.url));

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
}
const files = Number(arg('files', '20000'));
const large = Number(arg('large', '3'));
const largeMb = Number(arg('large-mb', '32'));
const reps = Number(arg('reps', '3'));
const mirrorPl = arg('mirror-pl', '');
const tools = arg('tools', mirrorPl ? 'omirr,lftp,mirror.pl' : 'omirr,lftp').split(',');
const root = arg('root', '/dev/shm/omirr-bench-ftp');

const MIN = 60_000;
/** Listing times are to the minute: whole minutes in the past, so a rerun compares equal. */
const T_SITE = Math.floor((Date.now() - 3600_000) / MIN) * MIN;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
};
const loads: number[] = [];

function time(cmd: string, args: string[], opts: { cwd?: string } = {}): number {
  loads.push(loadavg()[0]!);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: opts.cwd, env: { ...process.env, OMIRR_LOG_LEVEL: 'error' } });
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return dt;
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

function runTool(tool: string, port: number, dst: string): number {
  if (tool === 'omirr') return time(process.execPath, [bin, 'sync', `ftp://127.0.0.1:${port}/`, dst]);
  if (tool === 'lftp') return time('lftp', ['-c', `set ftp:passive-mode on; open ftp://127.0.0.1:${port}; mirror --parallel=1 / ${dst}`]);
  if (tool === 'mirror.pl') {
    const pkg = join(dst + '.pkg');
    writeFileSync(pkg, `package=bench\n  site=127.0.0.1\n  ftp_port=${port}\n  remote_dir=/\n  local_dir=${dst}\n  remote_user=anonymous\n  remote_password=bench@localhost\n  passive_ftp=true\n`);
    return time('perl', ['-I.', './mirror.pl', pkg], { cwd: mirrorPl });
  }
  throw new Error(`unknown tool ${tool}`);
}

/** A timing means nothing if the copy is not there: every file, at its size. */
function checkCopy(tool: string, dst: string, want: number): void {
  const r = spawnSync('find', [dst, '-type', 'f', '-not', '-name', '.*'], { encoding: 'utf8' });
  const n = r.stdout.split('\n').filter((l) => l !== '').length;
  if (n !== want) throw new Error(`${tool}: ${n} files in ${dst}, expected ${want}`);
}

async function main(): Promise<void> {
  if (mirrorPl && !existsSync(join(mirrorPl, 'mirror.pl'))) throw new Error(`--mirror-pl ${mirrorPl}: no mirror.pl there`);
  rmSync(root, { recursive: true, force: true });
  const site = join(root, 'site');
  mkdirSync(site, { recursive: true });
  console.log(`making the site: ${files} small files, ${large} x ${largeMb} MiB`);
  const paths = makeSite(site);
  const server = await startVsftpd({ root: site });
  const times: Record<string, Record<string, number[]>> = {};
  try {
    let round = 0;
    for (let r = 0; r < reps; r++) {
      for (const tool of tools) {
        const dst = join(root, `dst-${tool}`);
        rmSync(dst, { recursive: true, force: true });
        mkdirSync(dst, { recursive: true });
        const t = (times[tool] ??= { first: [], noop: [], changed: [] });
        t.first!.push(runTool(tool, server.port, dst));
        checkCopy(tool, dst, files + large);
        t.noop!.push(runTool(tool, server.port, dst));
        changeSome(site, paths, round++);
        t.changed!.push(runTool(tool, server.port, dst));
        console.log(`rep ${r + 1} ${tool}: first ${t.first!.at(-1)!.toFixed(2)} s, no-op ${t.noop!.at(-1)!.toFixed(2)} s, 1% changed ${t.changed!.at(-1)!.toFixed(2)} s`);
      }
    }
  } finally {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`\n${files} files + ${large} x ${largeMb} MiB from vsftpd on loopback, median of ${reps} (seconds; ratio = tool / omirr)`);
  console.log(['case', ...tools.flatMap((t) => (t === 'omirr' ? [t] : [t, `${t}/omirr`]))].join('\t'));
  for (const c of ['first', 'noop', 'changed']) {
    const o = median(times.omirr?.[c] ?? []);
    const row = [c];
    for (const t of tools) {
      const m = median(times[t]![c]!);
      row.push(m.toFixed(2));
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
