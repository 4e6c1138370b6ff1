// Reading what LocalTree.pack makes, as tar-stream (an independent reader) sees it: the
// tests of the sender's verifying headers (packVerify, tarBlake3) share these.
import type { Readable } from 'node:stream';
import tar from 'tar-stream';

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
