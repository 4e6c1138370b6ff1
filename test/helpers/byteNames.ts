// Trees whose names are raw bytes (an old site's Latin-1 names), made and compared without
// a string decoding that would blur them: paths as Buffers, listings by name bytes.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';

/** A path of raw name bytes under `root` (node:fs takes a Buffer path as the exact bytes). */
export function bytePath(root: string, ...names: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(root), ...names.flatMap((n) => [Buffer.from('/'), n])]);
}

export const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Every file under `root`: hex of its name bytes (relative, '/'-joined) -> sha256 of its content. */
export function byteTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: Buffer, rel: Buffer[]): void => {
    for (const name of readdirSync(dir, { encoding: 'buffer' })) {
      const abs = Buffer.concat([dir, Buffer.from('/'), name]);
      const r = [...rel, name];
      if (statSync(abs).isDirectory()) walk(abs, r);
      else out[r.map((n) => n.toString('hex')).join('/')] = createHash('sha256').update(readFileSync(abs)).digest('hex');
    }
  };
  walk(Buffer.from(root), []);
  return out;
}
