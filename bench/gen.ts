// Deterministic test trees for the benchmark (fixed seed: the same bytes every run).
import { mkdirSync, writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { rng } from '../src/core/random.js';

function fill(buf: Buffer, next: () => number): void {
  for (let i = 0; i + 4 <= buf.length; i += 4) buf.writeUInt32LE((next() * 4294967296) >>> 0, i);
  for (let i = buf.length & ~3; i < buf.length; i++) buf[i] = (next() * 256) | 0;
}

export interface TreeSpec {
  smallFiles: number;
  smallDirs: number;
  largeFiles: number;
  largeBytes: number;
}

export const TREES: Record<string, TreeSpec> = {
  small: { smallFiles: 20_000, smallDirs: 200, largeFiles: 0, largeBytes: 0 },
  large: { smallFiles: 0, smallDirs: 0, largeFiles: 4, largeBytes: 256 << 20 },
  mixed: { smallFiles: 5_000, smallDirs: 50, largeFiles: 20, largeBytes: 10 << 20 },
  // issue 12's no-op sizes for a local sync: 4,000 and 200,000 files (as the small tree's)
  files4k: { smallFiles: 4_000, smallDirs: 40, largeFiles: 0, largeBytes: 0 },
  files200k: { smallFiles: 200_000, smallDirs: 2_000, largeFiles: 0, largeBytes: 0 },
};

/** Small files 1-16 KiB spread over directories; large files of a fixed size. Fixed mtimes. */
export function generateTree(root: string, spec: TreeSpec, seed = 42): { files: number; bytes: number } {
  const next = rng(seed);
  let bytes = 0;
  const mtime = new Date(Date.UTC(2024, 0, 1));
  mkdirSync(root, { recursive: true });
  for (let d = 0; d < spec.smallDirs; d++) mkdirSync(join(root, `d${String(d).padStart(3, '0')}`), { recursive: true });
  const chunk = Buffer.allocUnsafe(16 << 10);
  for (let i = 0; i < spec.smallFiles; i++) {
    const size = 1024 + Math.floor(next() * 15 * 1024);
    const buf = chunk.subarray(0, size);
    fill(buf, next);
    const p = join(root, `d${String(i % spec.smallDirs).padStart(3, '0')}`, `f${i}.dat`);
    writeFileSync(p, buf);
    utimesSync(p, mtime, mtime);
    bytes += size;
  }
  if (spec.largeFiles > 0) {
    mkdirSync(join(root, 'large'), { recursive: true });
    const piece = Buffer.allocUnsafe(1 << 20);
    for (let i = 0; i < spec.largeFiles; i++) {
      const p = join(root, 'large', `big${i}.bin`);
      fill(piece, next);
      const whole = Buffer.allocUnsafe(spec.largeBytes);
      // 1 MiB of random bytes rotated through the file: cheap to generate, not compressible by rsync's delta
      for (let off = 0; off < spec.largeBytes; off += piece.length) {
        piece.copy(whole, off);
        piece.writeUInt32LE(off >>> 0, 0);
      }
      writeFileSync(p, whole);
      utimesSync(p, mtime, mtime);
      bytes += spec.largeBytes;
    }
  }
  return { files: spec.smallFiles + spec.largeFiles, bytes };
}
