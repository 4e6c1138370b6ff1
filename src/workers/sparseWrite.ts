// Writing a received file's bytes so that runs of zeros become holes, as `cp --sparse` and
// `rsync -S` do: a 256 MiB file with 4 KiB of data arrives as 4 KiB on disk, not 256 MiB.
// Used by the receivers that write into a fresh temporary file (copyTasks.ts, tarTasks.ts):
// in a file being written from scratch a block that is not written reads back as zeros, so
// skipping an all-zero block is exact; endSparse then sets the length (a trailing hole).
import { ftruncateSync, writeSync } from 'node:fs';

/** Holes are made in whole blocks of this size at block-aligned file offsets (the usual fs block). */
export const SPARSE_BLOCK = 4096;
const ZERO = Buffer.alloc(SPARSE_BLOCK);

/** buf[from, to) is all zeros (at most one block; a memcmp that stops at the first non-zero byte, no view allocated). */
function isZero(buf: Buffer, from: number, to: number): boolean {
  // a block of data mostly starts or ends with a non-zero byte: no call into compare()
  // (its argument checks cost more than the memcmp, 40,000 times for 20,000 small files)
  if (buf[from] !== 0 || buf[to - 1] !== 0) return false;
  return ZERO.compare(buf, from, to, 0, to - from) === 0;
}

function writeRange(fd: number, buf: Buffer, from: number, to: number, pos: number): void {
  while (from < to) {
    const n = writeSync(fd, buf, from, to - from, pos);
    from += n;
    pos += n;
  }
}

/**
 * `buf` at file offset `pos` of a fresh file, leaving out its all-zero blocks (and all-zero
 * pieces of blocks at its edges). The
 * non-zero runs are written one call each (data without zero blocks: one write). The file
 * may end up shorter than pos + buf.length: call endSparse once all bytes are written.
 * Returns whether the last byte of `buf` was written (false: `buf` ends in a hole), so a
 * writer whose last chunk returned true knows the file has its length already.
 */
export function writeSparse(fd: number, buf: Buffer, pos: number): boolean {
  let off = 0;
  let runStart = -1; // start (in buf) of the pending non-zero run
  while (off < buf.length) {
    // the block boundary after `pos + off`, so holes fall on whole file blocks
    const end = Math.min(buf.length, off + SPARSE_BLOCK - ((pos + off) % SPARSE_BLOCK));
    // Also a zero piece of a block cut by the chunk's edge: received chunks end anywhere, and
    // writing the zero part of a block whose data comes in the next chunk would allocate it.
    if (isZero(buf, off, end)) {
      if (runStart >= 0) {
        writeRange(fd, buf, runStart, off, pos + runStart);
        runStart = -1;
      }
    } else if (runStart < 0) runStart = off;
    off = end;
  }
  if (runStart < 0) return buf.length === 0;
  writeRange(fd, buf, runStart, buf.length, pos + runStart);
  return true;
}

/** The file's final length: zero blocks left out at the end become a hole there. */
export function endSparse(fd: number, size: number): void {
  ftruncateSync(fd, size);
}
