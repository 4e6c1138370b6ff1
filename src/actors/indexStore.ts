// Persistence of a tree's index (src/core/treeIndex.ts) under the daemon's state
// directory: <state>/trees/<tree>.index. A restart loads it and rescans by size, mtime
// and inode, so unchanged files are neither rehashed nor sent again.
//
// Format (docs/daemon-internals.md, "The persisted index"): format 2, the CompactIndex's
// columns as bytes with a JSON header (src/core/indexFile.ts), loaded with one copy per
// column; format 1, the JSON document of earlier versions, is still read.
// Writes are atomic: a temporary file in the same directory is written, fsync'ed and
// renamed over the index, then the directory is fsync'ed; a crash at any point leaves
// either the old index or the new one, never a truncated one.
import { mkdir, open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fromPromise } from 'xstate';
import { ENTRY_KINDS, type Entry } from '../core/entry.js';
import type { IndexRecord, TreeIndex } from '../core/treeIndex.js';
import { CompactIndex, IndexColumnsError } from '../core/compactIndex.js';
import { decodeIndexFile, indexFileWriter, IndexFileError, INDEX_FILE_VERSION, isIndexFile } from '../core/indexFile.js';
import { isVersion, type Version } from '../core/version.js';

export const INDEX_FORMAT = 'omirr-index';
export const INDEX_FORMAT_VERSION = INDEX_FILE_VERSION;

export interface IndexMeta {
  tree: string;
  /** The node that wrote the index (a state dir copied to another node is detected). */
  node?: string;
  savedAtMs?: number;
  /**
   * The tree's out-of-sync items (src/replica/failures.ts): records acknowledged to a peer
   * but not applied yet. Saved in the same document as the index, so both are durable
   * together before the acknowledgement.
   */
  failed?: unknown[];
  /** The tree mode's ledgers (src/replica/modes.ts): remote changes a send-only tree ignored, local changes of a receive-only one. */
  modes?: { ignored: unknown[]; local: unknown[] };
  /** The device (st_dev) of the tree's root when it was saved (src/replica/rootGuard.ts). */
  rootDev?: number;
}

/** The file holding `tree`'s index; tree names are encoded so any name is one safe file name. */
export function indexPath(stateDir: string, tree: string): string {
  return join(stateDir, 'trees', `${encodeURIComponent(tree)}.index`);
}

/**
 * The index file's bytes (format 2, src/core/indexFile.ts: the columns as they are in
 * memory), as pieces to write one after the other (one: the file is filled in one buffer).
 */
export function encodeIndexParts(index: TreeIndex, meta: IndexMeta): Buffer[] {
  const compact = index instanceof CompactIndex ? index : new CompactIndex(index);
  const file = indexFileWriter({
    format: INDEX_FORMAT,
    tree: meta.tree,
    node: meta.node ?? null,
    savedAtMs: meta.savedAtMs ?? Date.now(),
    ...(meta.failed && meta.failed.length > 0 ? { failed: meta.failed } : {}),
    ...(meta.modes && meta.modes.ignored.length + meta.modes.local.length > 0 ? { modes: meta.modes } : {}),
    ...(meta.rootDev !== undefined ? { rootDev: meta.rootDev } : {}),
  });
  compact.toColumns(file.columns);
  return [file.bytes()];
}

/** The index file's bytes in one buffer. */
export function encodeIndex(index: TreeIndex, meta: IndexMeta): Buffer {
  return encodeIndexParts(index, meta)[0]!;
}

export class IndexFormatError extends Error {
  override name = 'IndexFormatError';
}

/**
 * An index file back: format 2 (binary), or format 1 (the JSON document daemons wrote
 * before; read so that an upgrade keeps its index, written as format 2 at the next save).
 */
export function decodeIndex(data: Buffer | string): { index: TreeIndex; meta: IndexMeta } {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (!isIndexFile(buf)) return decodeJsonIndex(buf.toString('utf8'));
  let index: CompactIndex;
  let header: Record<string, unknown>;
  try {
    const f = decodeIndexFile(buf);
    header = f.header;
    if (header.format !== INDEX_FORMAT) throw new IndexFormatError('not an omirr index');
    index = CompactIndex.fromColumns(f.columns);
  } catch (err) {
    if (err instanceof IndexFormatError) throw err;
    throw new IndexFormatError(err instanceof IndexFileError || err instanceof IndexColumnsError ? err.message : `not a complete index: ${(err as Error).message}`);
  }
  return { index, meta: metaOf(header) };
}

function metaOf(doc: Record<string, any>): IndexMeta {
  const meta: IndexMeta = { tree: String(doc.tree) };
  if (typeof doc.node === 'string') meta.node = doc.node;
  if (typeof doc.savedAtMs === 'number') meta.savedAtMs = doc.savedAtMs;
  if (Array.isArray(doc.failed)) meta.failed = doc.failed;
  if (doc.modes && typeof doc.modes === 'object') meta.modes = doc.modes;
  if (typeof doc.rootDev === 'number') meta.rootDev = doc.rootDev;
  return meta;
}

// format 1 record layout: [path, kind, size, mtimeMs, mode, ino, hash, target, uid, gid, deletedAtMs, n0, c0, n1, c1, ...]
type Row = [string, number, number, number, number, number | null, string | null, string | null, number | null, number | null, number | null, ...number[]];

/** Format 1: one JSON document, the records as flat arrays. */
function decodeJsonIndex(text: string): { index: TreeIndex; meta: IndexMeta } {
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new IndexFormatError(`not a complete index document: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || doc.format !== INDEX_FORMAT) throw new IndexFormatError('not an omirr index');
  if (doc.v !== 1) throw new IndexFormatError(`unsupported index format version ${doc.v}`);
  const rows = doc.records;
  const nodes = doc.nodes;
  if (!Array.isArray(rows) || !Array.isArray(nodes) || rows.length !== doc.count) throw new IndexFormatError('record count mismatch');
  const index = new CompactIndex();
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    const bad = (why: string) => new IndexFormatError(`record ${r}: ${why}`);
    if (!Array.isArray(row) || row.length < 11 || (row.length - 11) % 2 !== 0) throw bad('malformed');
    const [path, kind, size, mtimeMs, mode, ino, hash, target, uid, gid, deletedAtMs] = row as Row;
    if (typeof path !== 'string' || path === '' || ENTRY_KINDS[kind] === undefined) throw bad('bad path or kind');
    if (typeof size !== 'number' || typeof mtimeMs !== 'number' || typeof mode !== 'number') throw bad('bad stat fields');
    const version: Record<string, number> = {};
    for (let i = 11; i < row.length; i += 2) {
      const n = nodes[row[i] as number];
      if (typeof n !== 'string') throw bad('bad node reference');
      version[n] = row[i + 1] as number;
    }
    if (!isVersion(version)) throw bad('bad version');
    // the common record goes straight into the index's columns, no objects made
    const plain = target === null && (ino === null || typeof ino === 'number') && (hash === null || typeof hash === 'string') && (deletedAtMs === null || typeof deletedAtMs === 'number');
    if (plain && index.setFields(path, ENTRY_KINDS[kind]!, size, mtimeMs, mode, ino ?? undefined, uid ?? undefined, gid ?? undefined, hash ?? undefined, version, deletedAtMs ?? undefined)) continue;
    const entry: Entry = { path, kind: ENTRY_KINDS[kind]!, size, mtimeMs, mode };
    if (ino !== null) entry.ino = ino;
    if (hash !== null) entry.hash = hash;
    if (target !== null) entry.target = target;
    if (uid !== null) entry.uid = uid;
    if (gid !== null) entry.gid = gid;
    const rec: IndexRecord = { entry, version: version as Version };
    if (deletedAtMs !== null) rec.deleted = { atMs: deletedAtMs };
    index.set(path, rec);
  }
  return { index, meta: metaOf(doc) };
}

export interface SaveResult {
  path: string;
  bytes: number;
  records: number;
  ms: number;
}

/**
 * Writes the index atomically (temp file, fsync, rename, fsync of the directory).
 * Callers serialise saves of one tree (the daemon's tree actor saves from one place);
 * concurrent saves are still safe, the last rename wins.
 */
export async function saveIndex(stateDir: string, index: TreeIndex, meta: IndexMeta): Promise<SaveResult> {
  const t0 = performance.now();
  const file = indexPath(stateDir, meta.tree);
  const dir = join(stateDir, 'trees');
  // encoded before the first await: the file is the index as it is at the call (a copy),
  // so a caller may go on changing the index while it is written (TreeReplica.save)
  const parts = encodeIndexParts(index, meta);
  await mkdir(dir, { recursive: true });
  let bytes = 0;
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    for (const p of parts) {
      for (let off = 0; off < p.length; ) off += (await fh.write(p, off, p.length - off, bytes + off)).bytesWritten;
      bytes += p.length;
    }
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await syncDir(dir);
  return { path: file, bytes, records: index.size, ms: performance.now() - t0 };
}

async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } catch {
    // some file systems refuse fsync on a directory; the rename is still atomic
  } finally {
    await dh.close();
  }
}

export type LoadStatus = 'loaded' | 'missing' | 'corrupt';

export interface LoadResult {
  status: LoadStatus;
  index: TreeIndex;
  meta?: IndexMeta;
  /** Why a corrupt index was not used (the daemon then rescans and rehashes everything). */
  error?: string;
  path: string;
  ms: number;
  /** The file's format (1: the JSON document of earlier versions, rewritten as 2 at the next save). */
  format?: number;
  /** Temporary files of interrupted saves that were removed. */
  removedTemps: number;
}

/**
 * Loads a tree's index. A missing index is an empty one; an unreadable or corrupt one
 * is reported (status 'corrupt') and an empty index returned, never half of one.
 * Leftover temporary files from saves interrupted by a crash are removed.
 */
export async function loadIndex(stateDir: string, tree: string): Promise<LoadResult> {
  const t0 = performance.now();
  const file = indexPath(stateDir, tree);
  const removedTemps = await removeStaleTemps(stateDir, tree);
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const status: LoadStatus = code === 'ENOENT' ? 'missing' : 'corrupt';
    return { status, index: new CompactIndex(), path: file, ms: performance.now() - t0, removedTemps, ...(status === 'corrupt' ? { error: String(err) } : {}) };
  }
  try {
    const { index, meta } = decodeIndex(data);
    return { status: 'loaded', index, meta, path: file, ms: performance.now() - t0, removedTemps, format: isIndexFile(data) ? INDEX_FILE_VERSION : 1 };
  } catch (err) {
    return { status: 'corrupt', index: new CompactIndex(), error: (err as Error).message, path: file, ms: performance.now() - t0, removedTemps };
  }
}

async function removeStaleTemps(stateDir: string, tree: string): Promise<number> {
  const prefix = `${encodeURIComponent(tree)}.index.tmp-`;
  let names: string[];
  try {
    names = await readdir(join(stateDir, 'trees'));
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    await unlink(join(stateDir, 'trees', name)).then(() => n++, () => {});
  }
  return n;
}

/** xstate actor logic: load a tree's index (input: stateDir, tree). */
export const loadIndexLogic = fromPromise<LoadResult, { stateDir: string; tree: string }>(({ input }) =>
  loadIndex(input.stateDir, input.tree),
);

/** xstate actor logic: save a tree's index atomically. */
export const saveIndexLogic = fromPromise<SaveResult, { stateDir: string; index: TreeIndex; meta: IndexMeta }>(({ input }) =>
  saveIndex(input.stateDir, input.index, input.meta),
);
