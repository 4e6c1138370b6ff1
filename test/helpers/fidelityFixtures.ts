// Trees that test what a copy keeps beyond content: mtimes with random nanoseconds (some a
// hair before a whole second), sparse files. Node's utimes cannot set nanoseconds, so the
// source times are set by python3's os.utime(ns=...) in one process (tests skip without it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export function havePython(): boolean {
  return spawnSync('python3', ['-c', 'import os'], { stdio: 'ignore' }).status === 0;
}

/** A deterministic generator (xorshift32) for test data. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/**
 * `n` small files under `root` (in 20 directories) with mtimes at random nanoseconds; a
 * tenth of them within a microsecond (or a ms) of the next whole second, where rounding
 * to the ms lands in another second. Returns path -> mtime in ns.
 */
export function makeNsMtimeTree(root: string, n: number, seed = 1): Map<string, bigint> {
  const r = rng(seed);
  const times = new Map<string, bigint>();
  for (let i = 0; i < n; i++) {
    const dir = join(root, `d${i % 20}`);
    if (i < 20) mkdirSync(dir, { recursive: true });
    const path = `d${i % 20}/f${i}`;
    writeFileSync(join(root, path), `file ${i}\n`);
    const sec = 1_600_000_000n + BigInt(Math.floor(r() * 100_000_000));
    let ns: bigint;
    if (i % 10 === 0) ns = 999_999_000n + BigInt(Math.floor(r() * 1000)); // last microsecond of the second
    else if (i % 10 === 1) ns = 999_500_000n + BigInt(Math.floor(r() * 500_000)); // rounds up into the next second at 1 ms
    else ns = BigInt(Math.floor(r() * 1e9));
    times.set(path, sec * 1_000_000_000n + ns);
  }
  const script = 'import sys,os\nfor line in sys.stdin:\n  p,t=line.rstrip("\\n").rsplit(" ",1)\n  os.utime(p, ns=(int(t), int(t)))\n';
  const input = [...times].map(([p, t]) => `${join(root, p)} ${t}`).join('\n') + '\n';
  const res = spawnSync('python3', ['-c', script], { input, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`python3 utime failed: ${res.stderr}`);
  return times;
}

/** Every file's mtime in ns (bigint lstat). */
export function nsMtimes(root: string, paths: Iterable<string>): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const p of paths) out.set(p, lstatSync(join(root, p), { bigint: true }).mtimeNs);
  return out;
}

/**
 * Problems of a copy's mtimes against the source's: another whole second (never allowed), or
 * another microsecond (the precision utimes can set). Empty when the copy is exact.
 */
export function mtimeMismatches(src: Map<string, bigint>, dst: Map<string, bigint>): string[] {
  const bad: string[] = [];
  for (const [p, s] of src) {
    const d = dst.get(p);
    if (d === undefined) {
      bad.push(`${p}: missing`);
      continue;
    }
    if (s / 1_000_000_000n !== d / 1_000_000_000n) bad.push(`${p}: second ${s} -> ${d}`);
    else if (s / 1000n !== d / 1000n) bad.push(`${p}: microsecond ${s} -> ${d}`);
  }
  return bad;
}

/** A file of `size` bytes with `data` at `at` and holes elsewhere (sparse where the fs allows). */
export function makeSparseFile(abs: string, size: number, data: Buffer, at: number): void {
  const fd = openSync(abs, 'w');
  try {
    writeSync(fd, data, 0, data.length, at);
    ftruncateSync(fd, size); // the rest a hole
  } finally {
    closeSync(fd);
  }
}

/**
 * The offset of the first byte where files `a` and `b` differ (the shorter one's length when one
 * is a prefix of the other), or -1 when they hold the same bytes. A byte-by-byte comparison
 * read in 4 MiB pieces: for the 256 MiB sparse files it replaced a sha256 of each (whole
 * file buffers and hashing were ~1 s of CPU per pair; reading holes and memcmp are cheap).
 */
export function firstDifference(a: string, b: string): number {
  const PIECE = 4 << 20;
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  try {
    const ba = Buffer.allocUnsafe(PIECE);
    const bb = Buffer.allocUnsafe(PIECE);
    for (let at = 0; ; ) {
      const na = readFull(fa, ba, at);
      const nb = readFull(fb, bb, at);
      const n = Math.min(na, nb);
      if (ba.compare(bb, 0, n, 0, n) !== 0) {
        let i = 0;
        while (ba[i] === bb[i]) i++;
        return at + i;
      }
      if (na !== nb) return at + n;
      if (na < PIECE) return -1;
      at += na;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

/** Reads into `buf` from `pos` until it is full or the file ends; the bytes read. */
function readFull(fd: number, buf: Buffer, pos: number): number {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** `root/rel` as bytes, `bad` (not UTF-8) appended to the name. */
export function rawPath(root: string, rel: string, bad: number[], suffix = ''): Buffer {
  return Buffer.concat([Buffer.from(`${root}/${rel}`), Buffer.from(bad), Buffer.from(suffix)]);
}

/**
 * A file at a relative path longer than `bytes` (directories of 200-byte names), made with
 * python3's dir_fd calls: no path-based call can reach it. Returns the relative path.
 */
export function makeLongPath(root: string, bytes: number): string {
  const segs: string[] = [];
  let len = 0;
  for (let i = 0; len <= bytes; i++) {
    const seg = `${String(i).padStart(3, '0')}${'L'.repeat(197)}`;
    segs.push(seg);
    len += seg.length + 1;
  }
  const script = [
    'import os, sys',
    'fd = os.open(sys.argv[1], os.O_RDONLY)',
    'for seg in sys.argv[2:]:',
    '    os.mkdir(seg, dir_fd=fd)',
    '    nfd = os.open(seg, os.O_RDONLY, dir_fd=fd)',
    '    os.close(fd)',
    '    fd = nfd',
    'f = os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)',
    'os.write(f, b"deep\\n")',
  ].join('\n');
  const res = spawnSync('python3', ['-c', script, root, ...segs], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`python3 long path failed: ${res.stderr}`);
  return [...segs, 'leaf.txt'].join('/');
}

/** rm -rf (coreutils reaches paths longer than PATH_MAX; fs.rmSync does not). */
export function rmDeep(dir: string): void {
  spawnSync('rm', ['-rf', dir]);
}

/**
 * A tree whose names and link targets are not UTF-8 (issue 9, item 10), below `root`:
 * latin-1 file names, a latin-1 directory holding files (one latin-1 too) and a
 * subdirectory, a symlink whose target is not UTF-8, a symlink whose own name is not, and
 * a bad byte beside a valid multi-byte character. Returns the raw relative names (bytes).
 */
export function makeBadNameTree(root: string): Buffer[] {
  const b = (...parts: Array<string | number[] | Buffer>): Buffer => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
  const at = (rel: Buffer): Buffer => Buffer.concat([Buffer.from(`${root}/`), rel]);
  mkdirSync(root, { recursive: true });
  const files: Array<[Buffer, string]> = [
    [b([0x66, 0xff, 0x2e, 0x74, 0x78, 0x74]), 'latin-1 f\xff.txt\n'],
    [b('bad-', [0xff, 0xfe], '.txt'), 'two bad bytes\n'],
    [b('caf', [0xe9], ' ü ', [0xc3, 0x28]), 'mixed with valid UTF-8\n'],
    [b('ok.txt'), 'fine\n'],
  ];
  const dir = b('dir-', [0xe9]);
  mkdirSync(at(dir));
  mkdirSync(at(b(dir, '/sub-', [0x80])));
  files.push([b(dir, '/inner.txt'), 'inside a bad dir\n'], [b(dir, '/in', [0xe9], 'ner'), 'latin-1 inside a bad dir\n'], [b(dir, '/sub-', [0x80], '/deep.txt'), 'x'.repeat(70_000)]);
  for (const [rel, content] of files) writeFileSync(at(rel), content);
  symlinkSync(b('t', [0xff]), at(b('badlink')));
  symlinkSync(b(dir, '/in', [0xe9], 'ner'), at(b('link-', [0xfc])));
  return [...files.map(([rel]) => rel), dir, b('badlink'), b('link-', [0xfc])];
}

/**
 * Every entry below `root` keyed by its raw relative path (hex): kind, and the sha256 of a
 * file's content or a link's target bytes (hex). Read with readdir as bytes: two trees that
 * compare equal have byte-identical names.
 */
export function byteSnapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: Buffer): void => {
    const abs = rel.length ? Buffer.concat([Buffer.from(`${root}/`), rel]) : Buffer.from(root);
    for (const name of readdirSync(abs, { encoding: 'buffer' })) {
      const r = rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
      const p = Buffer.concat([Buffer.from(`${root}/`), r]);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out.set(r.toString('hex'), 'dir');
        walk(r);
      } else if (st.isSymbolicLink()) out.set(r.toString('hex'), `link ${readlinkSync(p, { encoding: 'buffer' }).toString('hex')}`);
      else out.set(r.toString('hex'), `file ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(Buffer.alloc(0));
  return out;
}

/** A --json summary that did nothing: no file sent, no action planned. */
export function assertNoOp(summary: { filesSent: number; planned: Record<string, number> }, what: string): void {
  assert.equal(summary.filesSent, 0, `${what}: ${JSON.stringify(summary)}`);
  for (const [k, v] of Object.entries(summary.planned)) assert.equal(v, 0, `${what}: planned.${k}`);
}
