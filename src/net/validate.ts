// Shape checks for everything a peer sends us in a request or a response. The network is
// untrusted: a value of the wrong type, a path that is not canonical and relative, or a size
// out of bounds is a ProtocolError, which closes the connection (docs/security.md).
// Path rules are the engine's (src/engine/paths.ts), so one definition guards every entry.
import { MTIME_NS_MAX, MTIME_NS_MIN, type Entry } from '../core/entry.js';
import type { Expected, PackRequest, ScanOptions, ScanSkip, TreeOp } from '../core/tree.js';
import { isCanonicalName, nameByteLength } from '../core/names.js';
import { unsafeReason } from '../workers/paths.js';
import { ProtocolError } from './frames.js';

/** No single file larger than this is accepted on the wire (1 PiB: far above any real file). */
export const MAX_FILE_SIZE = 2 ** 50;
export const MAX_TARGET_BYTES = 4096;
/** mtimes on the wire are within this many ms of the epoch, either way (pre-1970 times exist on real disks). */
export const MAX_MTIME_MS = 2 ** 47;
const HASH_RE = /^[0-9a-f]{64}$/;

export function wirePath(p: unknown, what = 'path'): string {
  const why = unsafeReason(p);
  if (why !== null) throw new ProtocolError(`${what} ${JSON.stringify(p)?.slice(0, 200)}: ${why}`);
  return p as string;
}

/** A sub-path of a tree: '' (the root) or a safe relative path. */
export function wireSubPath(p: unknown): string {
  if (p === undefined || p === '') return '';
  return wirePath(p, 'sub-path');
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`${what}: expected an object`);
  return v as Record<string, unknown>;
}

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new ProtocolError(`${what}: expected a whole number in ${min}..${max}`);
  return v;
}

function optInt(v: unknown, what: string, min: number, max: number): number | undefined {
  return v === undefined || v === null ? undefined : int(v, what, min, max);
}

function mtime(v: unknown, what: string): number {
  return int(v, what, -MAX_MTIME_MS, MAX_MTIME_MS);
}

/** The optional sub-ms part of an mtime (docs/protocol.md, "Times"); older peers neither send nor read it. */
function optMtimeNs(v: unknown): number | undefined {
  return optInt(v, 'mtimeNs', MTIME_NS_MIN, MTIME_NS_MAX);
}

/** An optional flag: absent, or exactly true or false. */
export function wireOptBool(v: unknown, what: string): boolean | undefined {
  return optBool(v, what);
}

function optBool(v: unknown, what: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ProtocolError(`${what}: expected true or false`);
  return v;
}

/** A symlink target from the wire: non-empty, canonical, no NUL, at most MAX_TARGET_BYTES. */
export function wireTarget(v: unknown): string {
  // a target's bytes that are not UTF-8 travel escaped, like a path's (src/core/names.ts)
  if (typeof v !== 'string' || v === '' || v.includes('\0') || !isCanonicalName(v) || nameByteLength(v) > MAX_TARGET_BYTES) {
    throw new ProtocolError('symlink target: expected a non-empty canonical name without NUL');
  }
  return v;
}

export function wireHandle(v: unknown): number {
  return int(v, 'tree handle', 1, 2 ** 31);
}

export function wireScanOptions(v: unknown): ScanOptions {
  if (v === undefined || v === null) return {};
  const o = obj(v, 'scan options');
  const out: ScanOptions = {};
  const w = optBool(o.withHashes, 'withHashes');
  const r = optBool(o.recursive, 'recursive');
  if (w !== undefined) out.withHashes = w;
  if (r !== undefined) out.recursive = r;
  if (o.subtree !== undefined && o.subtree !== '') out.subtree = wirePath(o.subtree);
  return out;
}

/** An entry as listed by a peer's scan (what a client receives). */
export function wireEntry(v: unknown): Entry {
  const o = obj(v, 'entry');
  const kind = o.kind;
  if (kind !== 'file' && kind !== 'dir' && kind !== 'symlink') throw new ProtocolError('entry kind: expected file, dir or symlink');
  const e: Entry = {
    path: wirePath(o.path),
    kind,
    size: kind === 'file' ? int(o.size, 'size', 0, MAX_FILE_SIZE) : 0,
    mtimeMs: mtime(o.mtimeMs, 'mtimeMs'),
    mode: int(o.mode, 'mode', 0, 0o7777),
  };
  const ns = optMtimeNs(o.mtimeNs);
  if (ns !== undefined) e.mtimeNs = ns;
  if (kind === 'symlink') e.target = wireTarget(o.target);
  const uid = optInt(o.uid, 'uid', 0, 2 ** 32 - 1);
  const gid = optInt(o.gid, 'gid', 0, 2 ** 32 - 1);
  const ino = optInt(o.ino, 'ino', 0, Number.MAX_SAFE_INTEGER);
  if (uid !== undefined) e.uid = uid;
  if (gid !== undefined) e.gid = gid;
  if (ino !== undefined) e.ino = ino;
  if (o.hash !== undefined && o.hash !== null) {
    if (kind !== 'file' || typeof o.hash !== 'string' || !HASH_RE.test(o.hash)) throw new ProtocolError('hash: expected 64 hex digits');
    e.hash = o.hash;
  }
  return e;
}

export function wireExpected(v: unknown): Expected {
  const e = wireEntry(v);
  if (e.kind !== 'file') throw new ProtocolError('expected entries must be files');
  return e as Expected;
}

export function wirePackRequest(v: unknown): PackRequest {
  const o = obj(v, 'pack request');
  const r: PackRequest = { path: wirePath(o.path) };
  const off = optInt(o.offset, 'offset', 0, MAX_FILE_SIZE);
  if (off !== undefined) r.offset = off;
  const size = optInt(o.size, 'size', 0, MAX_FILE_SIZE);
  if (size !== undefined) r.size = size;
  return r;
}

export function wireOp(v: unknown): TreeOp {
  const o = obj(v, 'op');
  const path = wirePath(o.path);
  const mt = o.mtimeMs === undefined || o.mtimeMs === null ? undefined : mtime(o.mtimeMs, 'mtimeMs');
  const ns = mt === undefined ? undefined : optMtimeNs(o.mtimeNs);
  const withMtime = <T extends object>(x: T): T => (mt === undefined ? x : ns === undefined ? { ...x, mtimeMs: mt } : { ...x, mtimeMs: mt, mtimeNs: ns });
  switch (o.op) {
    case 'mkdir':
      return withMtime({ op: 'mkdir', path, mode: int(o.mode, 'mode', 0, 0o7777) });
    case 'symlink':
      return withMtime({ op: 'symlink', path, target: wireTarget(o.target) });
    case 'setattr': {
      const op: TreeOp = { op: 'setattr', path };
      const mode = optInt(o.mode, 'mode', 0, 0o7777);
      const uid = optInt(o.uid, 'uid', 0, 2 ** 32 - 1);
      const gid = optInt(o.gid, 'gid', 0, 2 ** 32 - 1);
      if (mode !== undefined) op.mode = mode;
      if (uid !== undefined) op.uid = uid;
      if (gid !== undefined) op.gid = gid;
      return withMtime(op);
    }
    case 'remove':
      return { op: 'remove', path };
    case 'save':
      return { op: 'save', path, saveDir: wirePath(o.saveDir, 'saveDir') };
    default:
      throw new ProtocolError(`unknown op ${JSON.stringify(o.op)?.slice(0, 40)}`);
  }
}

export function wireStringPair<T>(v: unknown, second: (x: unknown) => T): [string, T] {
  if (!Array.isArray(v) || v.length !== 2) throw new ProtocolError('expected a [path, value] pair');
  return [wirePath(v[0]), second(v[1])];
}

export function wireHash(v: unknown): string {
  if (typeof v !== 'string' || !HASH_RE.test(v)) throw new ProtocolError('hash: expected 64 hex digits');
  return v;
}

export function wireOffset(v: unknown): number {
  return int(v, 'offset', 0, MAX_FILE_SIZE);
}

/** `prepare`'s optional `delta`: a count of bytes (the old versions of files to be sent as deltas). */
export function wireOptByteCount(v: unknown, what: string): number | undefined {
  return optInt(v, what, 0, Number.MAX_SAFE_INTEGER);
}

/** `prepare`'s optional `receive`: a count of files (at most a request's MAX_ITEMS would carry, and then some). */
export function wireOptFileCount(v: unknown, what: string): number | undefined {
  return optInt(v, what, 0, 2 ** 31);
}

export function wireOpResult(v: unknown): { path: string; ok: boolean; error?: string } {
  const o = obj(v, 'op result');
  if (typeof o.ok !== 'boolean') throw new ProtocolError('op result: ok must be a boolean');
  const r: { path: string; ok: boolean; error?: string } = { path: wirePath(o.path), ok: o.ok };
  if (o.error !== undefined && o.error !== null) r.error = String(o.error).slice(0, 4096);
  return r;
}

/** Skipped entries a scan answer carries at most (the rest are in the server's log). */
export const MAX_SCAN_SKIPS = 10_000;

/**
 * At most MAX_SCAN_SKIPS skips fit in a scan's answer. The ones cut off still stand for
 * entries the client must not delete for being unlisted: the last place says the whole
 * tree ('.'), which shields everything (skipShadow) and fails the sync where any cut one
 * was unmirrorable.
 */
export function capScanSkips(skipped: ScanSkip[]): ScanSkip[] {
  if (skipped.length <= MAX_SCAN_SKIPS) return skipped;
  const kept = skipped.slice(0, MAX_SCAN_SKIPS - 1);
  const cut = skipped.slice(MAX_SCAN_SKIPS - 1);
  return [...kept, { path: '.', reason: `${cut.length} more entries left out (the first: ${cut[0]!.path}: ${cut[0]!.reason})`, ...(cut.some((s) => s.unmirrorable) ? { unmirrorable: true } : {}) }];
}


/** The skipped entries of a scan answer (`result.skipped`; absent from older servers). */
export function wireScanSkips(result: unknown): ScanSkip[] {
  if (result === undefined || result === null) return [];
  const o = obj(result, 'scan result');
  if (o.skipped === undefined) return [];
  if (!Array.isArray(o.skipped) || o.skipped.length > MAX_SCAN_SKIPS) throw new ProtocolError('scan result: skipped must be a list');
  return o.skipped.map((v) => {
    const s = obj(v, 'skipped entry');
    // the path is escaped for reading (not a file-system path): only its size is bounded
    if (typeof s.path !== 'string' || s.path.length > 4 * 4096 || typeof s.reason !== 'string') throw new ProtocolError('skipped entry: expected path and reason');
    const out: ScanSkip = { path: s.path, reason: s.reason.slice(0, 1024) };
    if (s.unmirrorable === true) out.unmirrorable = true;
    return out;
  });
}

/** The most bytes a tar stream carrying `expect` may have: contents, headers, padding, slack. */
export function tarBound(expect: Expected[]): number {
  let n = 1024 * 1024; // end blocks, pax records and slack
  for (const e of expect) n += Math.ceil(e.size / 512) * 512 + 8 * 1024;
  return n;
}

/** A tree root's own mode and mtime from the wire (`open`'s answer, the `rootAttrs` request): mtimeMs optional where `optionalTime`. */
export function wireRootAttrs(v: unknown, optionalTime = false): { mode: number; mtimeMs?: number; mtimeNs?: number } {
  const o = obj(v, 'root attributes');
  const mode = int(o.mode, 'mode', 0, 0o7777);
  if (optionalTime && (o.mtimeMs === undefined || o.mtimeMs === null)) return { mode };
  const mtimeMs = mtime(o.mtimeMs, 'mtimeMs');
  const mtimeNs = optMtimeNs(o.mtimeNs);
  return mtimeNs === undefined ? { mode, mtimeMs } : { mode, mtimeMs, mtimeNs };
}

