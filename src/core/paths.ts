// Path safety for everything that names a file inside a tree: paths from tar headers,
// from protocol requests and from plans. A path is accepted only when it is relative,
// POSIX, canonical (no '', '.', '..' segments), free of NUL and within length bounds;
// writes additionally never go through a symlink (assertRealDirChain, src/workers/paths.ts:
// it touches the file system, so it is not here). Also the names of omirr's temporary files,
// which scans skip and receivers clean up. Pure (no I/O): in core so that every layer can use it.
import { createHash } from 'node:crypto';
import { hasEscapedBytes, isCanonicalName, nameByteLength } from './names.js';

export { fsPath } from './names.js';

/** Linux PATH_MAX and NAME_MAX: longer names cannot be created anyway. */
export const MAX_PATH_BYTES = 4096;
export const MAX_NAME_BYTES = 255;

export class UnsafePathError extends Error {
  override name = 'UnsafePathError';
  constructor(readonly path: string, reason: string) {
    super(`unsafe path ${JSON.stringify(path)}: ${reason}`);
  }
}

/** Why `p` is not a safe tree-relative path, or null when it is. */
export function unsafeReason(p: unknown): string | null {
  if (typeof p !== 'string') return 'not a string';
  if (p === '') return 'empty';
  if (p.includes('\0')) return 'contains NUL';
  if (p.startsWith('/')) return 'absolute';
  // most paths are ASCII: one pass over them, no regex, no byte count (a listing of 20,000
  // entries from a peer spent 190 ms here, in the general checks below)
  if (isAscii(p)) return asciiSegmentsReason(p);
  // bytes that are not UTF-8 travel as U+DC80..U+DCFF (src/core/names.ts); any other lone
  // surrogate, or escapes that spell valid UTF-8, would make a second name for one file
  if (!isCanonicalName(p)) return 'not a canonical name (a lone surrogate other than an escaped byte)';
  if (nameByteLength(p) > MAX_PATH_BYTES) return 'too long';
  for (const seg of p.split('/')) {
    if (seg === '') return 'empty segment';
    if (seg === '.' || seg === '..') return `"${seg}" segment`;
    if (nameByteLength(seg) > MAX_NAME_BYTES) return 'name too long';
  }
  return null;
}

function isAscii(p: string): boolean {
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** unsafeReason's length and segment rules for a path of ASCII characters (one byte each, always canonical). */
function asciiSegmentsReason(p: string): string | null {
  if (p.length > MAX_PATH_BYTES) return 'too long';
  let start = 0;
  for (let i = 0; i <= p.length; i++) {
    if (i < p.length && p.charCodeAt(i) !== 0x2f) continue;
    const len = i - start;
    if (len === 0) return 'empty segment';
    if (len <= 2 && p.charCodeAt(start) === 0x2e && (len === 1 || p.charCodeAt(start + 1) === 0x2e)) return `"${p.slice(start, i)}" segment`;
    if (len > MAX_NAME_BYTES) return 'name too long';
    start = i + 1;
  }
  return null;
}

export function isSafeRelPath(p: unknown): p is string {
  return unsafeReason(p) === null;
}

/** Throws UnsafePathError unless `p` is a canonical relative path inside the tree. */
export function assertSafeRelPath(p: unknown): asserts p is string {
  const why = unsafeReason(p);
  if (why !== null) throw new UnsafePathError(String(p), why);
}

export function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

export function baseOf(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Prefix of every temporary file omirr writes; scans skip these names. */
export const TEMP_PREFIX = '.omirr-part.';

/**
 * Files at least this large (the smallest resume threshold in use) get a sha256 temp tag.
 * Smaller files are never resumed, so a sender need not ask about them (RemoteTree.resumeOffsets).
 */
export const RESUMABLE_MIN = 64 * 1024;
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

export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

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
