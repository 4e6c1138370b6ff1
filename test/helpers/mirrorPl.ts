// The real mirror 2.9 as a differential oracle: a scratch copy of the published
// distribution (../shared/reference/mirror-2.9, beside the repository; read-only in CI, so
// it is copied) with perl536.patch applied, run by this machine's perl against a vsftpd on
// loopback; and `omirr mirror` run on the same package file. Scenarios compare what each
// leaves in its local directory: names, types, modes, sizes and link targets.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { sourceSpec } from '../../src/core/mirrorPackage.js';
import { omirr, snapshot, tempDir, type Snap } from './mirrorFixtures.js';
import { startVsftpd, type VsftpdServer } from './vsftpdServer.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** ../shared/reference/mirror-2.9 beside the repository (or beside the worktree's parent). */
export function referenceDir(): string {
  for (const up of ['..', '../..']) {
    const d = resolve(REPO, up, 'shared/reference/mirror-2.9');
    if (existsSync(join(d, 'mirror-2.9', 'mirror.pl'))) return d;
  }
  throw new Error(`mirror 2.9 reference not found beside ${REPO} (expected ../shared/reference/mirror-2.9)`);
}

/** A patched, runnable copy of mirror 2.9 in a temp dir; returns its directory. */
export function preparedMirrorPl(t: { after(fn: () => void): void }): string {
  const ref = referenceDir();
  const dir = join(tempDir(t), 'mirror-2.9');
  cpSync(join(ref, 'mirror-2.9'), dir, { recursive: true });
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o755);
  execFileSync('patch', ['-p1', '-s', '-i', join(ref, 'perl536.patch')], { cwd: dir, stdio: 'pipe' });
  return dir;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** perl mirror.pl ARGS in `cwd` (mirror's own directory is on @INC, as it puts itself there). */
export function runMirrorPl(mirrorDir: string, args: string[], cwd: string): Promise<RunResult> {
  return new Promise((res, rej) => {
    const p = spawn('perl', [join(mirrorDir, 'mirror.pl'), ...args], {
      cwd,
      env: { ...process.env, USER: 'omirr-test', TZ: 'UTC', PERL5LIB: mirrorDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', rej);
    p.on('close', (code) => {
      clearTimeout(timer);
      res({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** What a local tree holds, as compared between the two tools: snapshot() without mtimes
 * (the tools agree on them only to the listing's minute), and without modes when asked. */
export function treeOf(root: string, opts: { modes?: boolean } = {}): Record<string, Snap> {
  if (!existsSync(root)) return {};
  const out = snapshot(root);
  for (const e of Object.values(out)) {
    delete e.mtimeMs;
    if (opts.modes === false) delete e.mode;
  }
  return out;
}

/** Does omirr read a bare host as an FTP site yet (the sites driver)? Else it is given the served path. */
export function omirrSpeaksFtp(): boolean {
  try {
    return /^ftp:\/\//.test(sourceSpec('127.0.0.1', 'x'));
  } catch {
    return false;
  }
}

export interface Oracle {
  ftp: VsftpdServer;
  mirrorDir: string;
  /** The remote tree vsftpd serves (anonymous root). */
  remote: string;
}

/**
 * A scenario's vsftpd over its own remote tree, and mirror.pl: `mirrorDir`, a copy
 * (preparedMirrorPl) the caller shares between scenarios that only run it, else a fresh one
 * (for a scenario that writes mirror.defaults beside it).
 */
export async function startOracle(t: TestContext, opts: { mirrorDir?: string } = {}): Promise<Oracle> {
  const base = tempDir(t);
  const remote = join(base, 'remote');
  mkdirSync(remote);
  const ftp = await startVsftpd({ root: remote });
  t.after(() => ftp.stop());
  return { ftp, mirrorDir: opts.mirrorDir ?? preparedMirrorPl(t), remote };
}

export interface Side {
  run: RunResult;
  /** The working directory (local_dir=local lands in <cwd>/local). */
  cwd: string;
  local: string;
}

export interface Both {
  pl: Side;
  om: Side;
}

/**
 * One scenario: `pkg` is a package file (site and ftp_port are added in front, pointing at
 * the vsftpd); each tool runs in its own directory, prepared by `prepare(cwd)`, with
 * `local_dir` usually relative (`local`). `args` go to both commands; `plOnlyArgs`/`omArgs` to one.
 */
export async function runBoth(
  t: TestContext,
  o: Oracle,
  pkg: string,
  opts: { prepare?: (cwd: string) => void; args?: string[]; files?: string[]; omArgs?: string[] } = {},
): Promise<Both> {
  const header = `site=127.0.0.1\n\tftp_port=${o.ftp.port}\n`;
  // The header goes right after each package= line, so it applies to every package.
  const text = pkg.replace(/^(\s*package=.*)$/gm, `$1\n\t${header}`);
  // The two tools run at the same time: each in its own directory, both only reading the site.
  const side = async (who: 'pl' | 'om'): Promise<Side> => {
    const cwd = join(tempDir(t), who);
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'pkg'), text);
    opts.prepare?.(cwd);
    const files = opts.files ?? ['pkg'];
    let run: RunResult;
    if (who === 'pl') run = await runMirrorPl(o.mirrorDir, [...(opts.args ?? []), ...files], cwd);
    else {
      // Until omirr speaks FTP, it reads the same tree from the directory vsftpd serves.
      const via = omirrSpeaksFtp() ? [] : ['-s', o.remote];
      const r = await omirr(['mirror', ...via, ...(opts.args ?? []), ...(opts.omArgs ?? []), ...files], { cwd });
      run = { ...r, code: r.code ?? -1 };
    }
    return { run, cwd, local: join(cwd, 'local') };
  };
  const [pl, om] = await Promise.all([side('pl'), side('om')]);
  return { pl, om };
}
