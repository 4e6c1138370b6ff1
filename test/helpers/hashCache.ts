// The sha256 of a file for snapshots taken over and over (daemonFixtures' convergence wait polls
// both trees every 50 ms; hashing 20,000 files or a 160 MiB file on every poll was most of
// daemonStress's CPU). A hash is reused only while the file's identity, size, mtime and change
// time are what they were when it was read, and only for a file whose change time was over a
// second old by then: a write after that lstat stamps a new change time (the kernel's clock for
// it is coarse to a few ms at most, never a second behind), so a reused hash is always the
// hash of the bytes there now.
import { createHash } from 'node:crypto';
import { readFileSync, type BigIntStats } from 'node:fs';

/** Older than this (ms) when read, a file's change time is past the kernel's timestamp granularity. */
const SETTLED_MS = 1000;

const hashes = new Map<string, { id: string; sha256: string }>();

/**
 * sha256 (hex) of the file at `path`, read after `st` (its lstat, with bigint times) was taken; `notAfter`: a
 * Date.now() from before that lstat. Throws if it cannot be read.
 */
export function sha256OfFile(path: string, st: BigIntStats, notAfter: number): string {
  const id = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  const known = hashes.get(path);
  if (known?.id === id) return known.sha256;
  const sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (notAfter - Number(st.ctimeNs / 1_000_000n) > SETTLED_MS) hashes.set(path, { id, sha256 });
  else hashes.delete(path);
  return sha256;
}
