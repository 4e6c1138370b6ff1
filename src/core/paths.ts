// Path safety for everything that names a file inside a tree: paths from tar headers,
// from protocol requests and from plans. A path is accepted only when it is relative,
// POSIX, canonical (no '', '.', '..' segments), free of NUL and within length bounds;
// writes additionally never go through a symlink (assertRealDirChain, src/workers/paths.ts:
// it touches the file system, so it is not here). Also the names of omirr's temporary files,
// which scans skip and receivers clean up (their names: tempPath.ts). Pure (no I/O): in core so
// that every layer can use it.
import { isCanonicalName, nameByteLength } from './names.js';

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
export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

