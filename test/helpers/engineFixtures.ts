// Trees for engine tests: build one with files of many sizes, modes, mtimes, symlinks and
// empty directories; describe one by content hash, mode, mtime and link target.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mtimeMsOf } from './mtime.js';

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `omirr-${tag}-`));
}

const madePairs = new Map<string, { src: string; dst: string }>();
/**
 * A source and destination pair that `make(src, dst)` makes (a tree and its first copy by
 * `omirr sync`, say) once per `key` in this test file's process, then copied for each caller
 * into a new temp dir (under `dirs`, for the caller to remove) with `cp -a`: contents, modes,
 * owners and the times of files, directories and symlinks kept, so every test starts from the
 * pair as `make` left it without making it again. For a small tree that saves an `omirr sync`
 * process per test; for trees of thousands of files `cp -a` costs about what omirr's first copy
 * does (measured: no gain), so those are still made per test.
 */
export function madePairCopy(key: string, tag: string, dirs: string[], make: (src: string, dst: string) => void): { src: string; dst: string } {
  let made = madePairs.get(key);
  if (!made) {
    const base = tempDir(`${tag}-made`);
    dirs.push(base);
    made = { src: join(base, 'src'), dst: join(base, 'dst') };
    make(made.src, made.dst);
    madePairs.set(key, made);
  }
  const base = tempDir(tag);
  dirs.push(base);
  const pair = { src: join(base, 'src'), dst: join(base, 'dst') };
  execFileSync('cp', ['-a', made.src, pair.src]);
  execFileSync('cp', ['-a', made.dst, pair.dst]);
  return pair;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** `n` pseudo-random bytes, the same for the same seed. */
export function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const T0 = Date.UTC(2023, 4, 6, 7, 8, 9) + 123; // a whole-ms mtime with a fraction of a second

/** A tree with: 0-byte and >1 MiB files, many sizes, modes 0600/0755/0444, nested empty dirs, symlinks (relative, absolute, dangling). */
export function makeSampleTree(root: string): void {
  mkdirSync(root, { recursive: true });
  const files: Array<[string, number, number]> = [
    ['empty.txt', 0, 0o644],
    ['one', 1, 0o600],
    ['exec.sh', 300, 0o755],
    ['readonly', 4096, 0o444],
    ['a/b/c/deep.bin', 513, 0o640],
    ['a/big.bin', (1 << 20) + 4321, 0o644],
    ['a/huge.bin', 3 * (1 << 20) + 7, 0o600],
    ['name with spaces/é ünïcødé.txt', 77, 0o644],
    [`long/${'x'.repeat(120)}/${'y'.repeat(110)}.txt`, 1000, 0o644],
  ];
  for (let i = 0; i < 40; i++) files.push([`many/f${i}`, i * 37, 0o644]);
  files.forEach(([p, size, mode], i) => {
    const abs = join(root, p);
    mkdirSync(join(abs, '..'), { recursive: true });
    writeFileSync(abs, bytes(size, i + 1));
    chmodSync(abs, mode);
    utimesSync(abs, new Date(T0 + i * 1000), new Date(T0 + i * 1000));
  });
  mkdirSync(join(root, 'empty/nested/deeper'), { recursive: true });
  mkdirSync(join(root, 'private'), { mode: 0o700 });
  chmodSync(join(root, 'private'), 0o700);
  symlinkSync('../one', join(root, 'a/link-rel'));
  symlinkSync('/etc/hostname', join(root, 'abs-link'));
  symlinkSync('does/not/exist', join(root, 'dangling'));
  lutimesSync(join(root, 'dangling'), new Date(T0), new Date(T0));
  // directory mtimes last (writing inside changes them)
  for (const d of ['empty/nested/deeper', 'empty/nested', 'empty', 'a/b/c', 'a/b', 'a', 'many', 'private']) {
    utimesSync(join(root, d), new Date(T0 - 5000), new Date(T0 - 5000));
  }
}

export interface Described {
  kind: 'file' | 'dir' | 'symlink';
  mode: number;
  mtimeMs: number;
  sha256?: string;
  target?: string;
}

/** Every entry under root (temp files included, so tests see leftovers), by relative path. */
export function describeTree(root: string, opts: { dirMtimes?: boolean } = {}): Record<string, Described> {
  const out: Record<string, Described> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const abs = join(root, p);
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out[p] = { kind: 'symlink', mode: 0, mtimeMs: 0, target: readlinkSync(abs) };
      else if (st.isDirectory()) {
        out[p] = { kind: 'dir', mode: st.mode & 0o7777, mtimeMs: opts.dirMtimes === false ? 0 : mtimeMsOf(abs) };
        walk(p);
      } else {
        out[p] = {
          kind: 'file',
          mode: st.mode & 0o7777,
          mtimeMs: mtimeMsOf(abs),
          sha256: createHash('sha256').update(readFileSync(abs)).digest('hex'),
        };
      }
    }
  };
  walk('');
  return out;
}

/** Paths of omirr temporary files anywhere under root. */
export function tempFiles(root: string): string[] {
  return Object.keys(describeTree(root)).filter((p) => p.split('/').pop()!.startsWith('.omirr-'));
}

/**
 * An ssh stand-in for --rsh: runs the remote command here (ssh's own start is not what is
 * tested; the far side is a real `omirr serve --stdio` on the other end of the pipes).
 */
export function localRsh(base: string): string {
  const p = join(base, 'rsh.sh');
  writeFileSync(p, '#!/bin/sh\n# skip the options up to --, then the host; run the command\nwhile [ "$1" != "--" ]; do shift; done\nshift; shift\nexec sh -c "$1"\n');
  chmodSync(p, 0o755);
  return p;
}
