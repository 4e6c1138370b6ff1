// The temporary name of a file being received (core/paths.ts has the rest of the path
// rules). Alone in its module because of node:crypto (the sha256 tag of a resumable file):
// ~4-5 ms of loading that a scan, and so a local no-op, never needs.
import { createHash } from 'node:crypto';
import { hasEscapedBytes, nameByteLength } from './names.js';
import { MAX_NAME_BYTES, RESUMABLE_MIN, TEMP_PREFIX } from './paths.js';

const SHA_TAG_MIN = RESUMABLE_MIN;

/** Well-formed names of at most this many UTF-16 units are at most MAX_NAME_BYTES - 30 bytes (3 per unit at most). */
const SHORT_NAME = Math.floor((MAX_NAME_BYTES - 30) / 3);

/** 48 bits of two FNV-1a 32 hashes (different offset bases) of `s`, as 12 hex digits. */
function fnvTag(s: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  // a's 8 hex digits and b's first 4, two digits per table look-up: the halves' toString(16)
  // and padStart were ~0.3 us of each small file's temporary name (a copy of 20,000 files)
  return HEX2[a >>> 24]! + HEX2[(a >>> 16) & 0xff]! + HEX2[(a >>> 8) & 0xff]! + HEX2[a & 0xff]! + HEX2[b >>> 24]! + HEX2[(b >>> 16) & 0xff]!;
}

/** Two lower-case hex digits of each byte value. */
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * The temporary name of a file being received, in the same directory as the target so
 * that the final rename is atomic. The name is fixed for a given (path, size, mtime, hash)
 * so that a transfer broken at any point finds its prefix again and resumes; a changed
 * source file gets a different name and starts over.
 */
export function tempPathFor(e: { path: string; size: number; mtimeMs: number; hash?: string }): string {
  const key = `${e.path}\0${e.size}\0${e.mtimeMs}\0${e.hash ?? ''}`;
  // Files that can be resumed keep the sha256 tag (partial files of earlier versions are
  // found again). A small file's temporary only has to be stable within a run: a cheap tag
  // (a sha256 per file was 50 ms of 20,000 small files' receive).
  const tag = e.size >= SHA_TAG_MIN ? createHash('sha256').update(key).digest('hex').slice(0, 12) : fnvTag(key);
  // keep the whole name under NAME_MAX: prefix (12) + name + '.' + tag (13)
  const slash = e.path.lastIndexOf('/');
  let base = slash < 0 ? e.path : e.path.slice(slash + 1);
  // a well-formed name of at most SHORT_NAME UTF-16 units has at most 3 bytes per unit (a
  // pair: 4 for 2), so it fits without counting its bytes (most names: no byte count); a
  // name with escaped bytes is counted (and one with another lone surrogate refused) as before
  if (base.length > SHORT_NAME || hasEscapedBytes(base)) {
    while (nameByteLength(base) > MAX_NAME_BYTES - 30) {
      base = base.slice(0, -1);
      // a pair is cut whole: half of one is a lone surrogate, which no name may hold (and
      // which nameByteLength refuses: a long name of 4-byte characters had no temporary)
      const end = base.charCodeAt(base.length - 1);
      if (end >= 0xd800 && end <= 0xdbff) base = base.slice(0, -1);
    }
  }
  // never half a surrogate pair (slice is by UTF-16 unit): an escape stays whole
  const last = base.charCodeAt(base.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) base = base.slice(0, -1);
  return slash <= 0 ? `${TEMP_PREFIX}${base}.${tag}` : `${e.path.slice(0, slash)}/${TEMP_PREFIX}${base}.${tag}`;
}
