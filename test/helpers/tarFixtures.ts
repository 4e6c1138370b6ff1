// Reading what LocalTree.pack makes, as tar-stream (an independent reader) sees it: the
// tests of the sender's verifying headers (packVerify, tarBlake3) share these.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { Expected, PackRequest } from '../../src/core/tree.js';
import { LocalTree } from '../../src/engine/localTree.js';

/** Deterministic bytes (an LCG, four bytes a step; `n` a multiple of 4 or not). */
export function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export async function collect(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c as Buffer));
  return Buffer.concat(parts);
}

export interface TarEntry {
  data: Buffer;
  pax: Record<string, string>;
}

/** Entries as tar-stream reads them: data and pax records. */
export async function readTar(buf: Buffer): Promise<Map<string, TarEntry>> {
  const out = new Map<string, TarEntry>();
  const ex = tar.extract();
  ex.on('entry', (h, stream, next) => {
    const cs: Buffer[] = [];
    stream.on('data', (c: unknown) => void cs.push(c as Buffer));
    stream.on('end', () => {
      out.set(h.name, { data: Buffer.concat(cs), pax: (h as { pax?: Record<string, string> }).pax ?? {} });
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return out;
}

/**
 * A source tree of `content` (paths to bytes; parent directories made) under `base`/src,
 * read in batches of `batchBytes`, and its pack requests (`offsets`: resumed files).
 */
export function packSource(base: string, content: Record<string, Buffer>, offsets: Record<string, number>, batchBytes: number): { root: string; tree: LocalTree; reqs: PackRequest[] } {
  const root = join(base, 'src');
  for (const [p, data] of Object.entries(content)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), data);
  }
  const reqs = Object.keys(content).map((path) => (offsets[path] ? { path, offset: offsets[path] } : { path }));
  return { root, tree: new LocalTree(root, { writable: false, batchBytes }), reqs };
}

/** What a receiver expects of a file of `data` (mode 0644), with its sha256 when asked. */
export function expectedFile(path: string, data: Buffer, mtimeMs: number, withHash = false): Expected {
  return { path, kind: 'file', size: data.length, mtimeMs, mode: 0o644, ...(withHash ? { hash: createHash('sha256').update(data).digest('hex') } : {}) };
}
