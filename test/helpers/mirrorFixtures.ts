// Fixtures for `omirr mirror` integration tests: real temp dirs, the real CLI.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mtimeMsOf } from './mtime.js';

const BIN = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));

/** A fixed, old time (2020-01-01T00:00:00Z) so that "newer" comparisons are deterministic. */
export const T0 = Date.UTC(2020, 0, 1);

export type Spec =
  | string
  | { content: string; mtimeMs?: number; mode?: number }
  | { dir: true; mode?: number; mtimeMs?: number }
  | { link: string };

export function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'omirr-mirror-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Write entries (parents made as needed). Files default to mtime T0 and mode 0644. */
export function writeTree(root: string, spec: Record<string, Spec>): void {
  mkdirSync(root, { recursive: true });
  const dirTimes: Array<[string, number]> = [];
  for (const [p, s] of Object.entries(spec)) {
    const abs = join(root, p);
    mkdirSync(dirname(abs), { recursive: true });
    if (typeof s === 'string' || 'content' in s) {
      const c = typeof s === 'string' ? { content: s } : s;
      writeFileSync(abs, c.content);
      chmodSync(abs, c.mode ?? 0o644);
      utimesSync(abs, new Date(c.mtimeMs ?? T0), new Date(c.mtimeMs ?? T0));
    } else if ('dir' in s) {
      mkdirSync(abs, { recursive: true });
      if (s.mode !== undefined) chmodSync(abs, s.mode);
      if (s.mtimeMs !== undefined) dirTimes.push([abs, s.mtimeMs]);
    } else {
      symlinkSync(s.link, abs);
    }
  }
  for (const [abs, t] of dirTimes) utimesSync(abs, new Date(t), new Date(t));
}

export interface Snap {
  kind: 'file' | 'dir' | 'symlink';
  sha256?: string;
  mode?: number;
  mtimeMs?: number;
  target?: string;
}

/** Every entry under root: files by sha256 + mode + mtime, dirs by mode, links by target. */
export function snapshot(root: string): Record<string, Snap> {
  const out: Record<string, Snap> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const abs = join(root, p);
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out[p] = { kind: 'symlink', target: readlinkSync(abs) };
      else if (st.isDirectory()) {
        out[p] = { kind: 'dir', mode: st.mode & 0o7777 };
        walk(p);
      } else {
        out[p] = {
          kind: 'file',
          sha256: createHash('sha256').update(readFileSync(abs)).digest('hex'),
          mode: st.mode & 0o7777,
          mtimeMs: mtimeMsOf(abs),
        };
      }
    }
  };
  walk('');
  return out;
}

export const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `omirr ARGS` (cwd given), feeding `input` on stdin; resolves when it exits. */
export function omirr(args: string[], opts: { cwd: string; input?: string; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`omirr ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A package file text: `package=NAME` then the keywords, one per line. */
export function pkgText(name: string, kv: Record<string, string> | string[]): string {
  const lines = Array.isArray(kv) ? kv : Object.entries(kv).map(([k, v]) => `${k}=${v}`);
  return [`package=${name}`, ...lines.map((l) => `  ${l}`)].join('\n') + '\n';
}
