// The persisted index as bytes (format 2): the CompactIndex's columns written as they are in
// memory, read back into typed arrays with one copy each (issue 12, "Scale": a daemon on a
// million files must be live within 10 s of a restart, and the JSON document of format 1
// cost ~19 s there under load: a 160 MB string, JSON.parse, an array per record, all garbage).
//
//   "OMIRRIX\n"  u32 format version (2)  u32 header bytes  header (JSON)  pad to 8
//   columns, each padded to 8: kind u8, flags u8, mode u32, size f64, mtime f64, ino f64,
//     uid u32, gid u32, ns i32, vnode u16, vcount f64, hash 32 bytes a row,
//     paths (UTF-8, separated by NUL)
//   "OMIRREND"
//
// The header holds the counts and what the columns do not: the node table, the versions of
// several nodes, tombstones' times, records kept whole, keys that UTF-8 cannot carry exactly
// (a lone surrogate, a NUL: their row's path is empty and the key is in `keys`), and the
// tree's ledgers (failed items, mode ledgers). Numbers are little-endian (the host's order,
// checked: a big-endian host refuses rather than misreads). The length is checked exactly:
// a truncated file is reported, never half loaded. Pure (no I/O): src/actors/indexStore.ts
// reads and writes it.
import type { ColumnLists, IndexColumns } from './compactIndex.js';
import { newColumns } from './compactIndex.js';

const MAGIC = Buffer.from('OMIRRIX\n', 'latin1');
const END = Buffer.from('OMIRREND', 'latin1');
export const INDEX_FILE_VERSION = 2;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class IndexFileError extends Error {
  override name = 'IndexFileError';
}

const pad = (n: number): number => (8 - (n % 8)) % 8;

type Column = Exclude<keyof IndexColumns, 'paths' | 'nodes' | 'versions' | 'deletedAt' | 'whole'>;
/** The typed columns in file order, with their bytes a row. */
const COLUMNS: [Column, number][] = [
  ['kind', 1],
  ['flags', 1],
  ['mode', 4],
  ['size', 8],
  ['mtime', 8],
  ['ino', 8],
  ['uid', 4],
  ['gid', 4],
  ['ns', 4],
  ['vnode', 2],
  ['vcount', 8],
  ['hash', 32],
];

/** True when `buf` starts as a format-2 (binary) index file. */
export function isIndexFile(buf: Buffer): boolean {
  return buf.length >= MAGIC.length && buf.subarray(0, MAGIC.length).equals(MAGIC);
}

/**
 * The file in one buffer, allocated once its size is known, with its columns as views into
 * it for the index to fill (CompactIndex.toColumns): no column is copied twice, and no
 * transient buffer per column is allocated and freed at every save (each such free of a
 * large buffer raises glibc's mmap threshold, and with it the freed memory every malloc
 * arena keeps resident). `head`: the header's other fields.
 */
export function indexFileWriter(head: Record<string, unknown>): { columns: (n: number, pathBytes: number, lists: ColumnLists) => IndexColumns; bytes: () => Buffer } {
  if (!LITTLE_ENDIAN) throw new IndexFileError('the binary index is little-endian; this host is not');
  let file: Buffer | undefined;
  return {
    columns(n, pathBytes, lists) {
      const header = Buffer.from(
        JSON.stringify({ ...head, v: INDEX_FILE_VERSION, count: n, pathBytes, nodes: lists.nodes, versions: lists.versions, deletedAt: lists.deletedAt, whole: lists.whole, keys: lists.keys }),
        'utf8',
      );
      let off = MAGIC.length + 8 + header.length;
      off += pad(off);
      const at: number[] = [];
      for (const [, w] of COLUMNS) {
        at.push(off);
        off += n * w + pad(n * w);
      }
      const pathsAt = off;
      off += pathBytes + pad(pathBytes);
      // zeroed: the pads, and the columns of rows kept whole
      const f = (file = Buffer.alloc(off + END.length));
      MAGIC.copy(f);
      f.writeUInt32LE(INDEX_FILE_VERSION, MAGIC.length);
      f.writeUInt32LE(header.length, MAGIC.length + 4);
      header.copy(f, MAGIC.length + 8);
      END.copy(f, off);
      const view = <T>(make: new (b: ArrayBuffer, o: number, l: number) => T, i: number): T => new make(f.buffer as ArrayBuffer, f.byteOffset + at[i]!, n);
      return {
        kind: view(Uint8Array, 0),
        flags: view(Uint8Array, 1),
        mode: view(Uint32Array, 2),
        size: view(Float64Array, 3),
        mtime: view(Float64Array, 4),
        ino: view(Float64Array, 5),
        uid: view(Uint32Array, 6),
        gid: view(Uint32Array, 7),
        ns: view(Int32Array, 8),
        vnode: view(Uint16Array, 9),
        vcount: view(Float64Array, 10),
        hash: Buffer.from(f.buffer as ArrayBuffer, f.byteOffset + at[11]!, n * 32),
        paths: { bytes: new Uint8Array(f.buffer, f.byteOffset + pathsAt, pathBytes), keys: lists.keys },
        nodes: lists.nodes,
        versions: lists.versions,
        deletedAt: lists.deletedAt,
        whole: lists.whole,
      };
    },
    bytes() {
      if (!file) throw new Error('index file: columns() was not called');
      return file;
    },
  };
}

/** Reads a format-2 file back: its columns (fresh typed arrays) and its header. */
export function decodeIndexFile(buf: Buffer): { columns: IndexColumns; header: Record<string, unknown> } {
  if (!LITTLE_ENDIAN) throw new IndexFileError('the binary index is little-endian; this host is not');
  if (!isIndexFile(buf) || buf.length < MAGIC.length + 8) throw new IndexFileError('not an omirr index');
  const v = buf.readUInt32LE(MAGIC.length);
  if (v !== INDEX_FILE_VERSION) throw new IndexFileError(`unsupported index format version ${v}`);
  const headerLen = buf.readUInt32LE(MAGIC.length + 4);
  let off = MAGIC.length + 8;
  if (off + headerLen > buf.length) throw new IndexFileError('not a complete index (truncated header)');
  let header: Record<string, any>;
  try {
    header = JSON.parse(buf.toString('utf8', off, off + headerLen));
  } catch (err) {
    throw new IndexFileError(`not a complete index header: ${(err as Error).message}`);
  }
  off += headerLen;
  off += pad(off);
  const n = header.count;
  const pathBytes = header.pathBytes;
  if (!Number.isSafeInteger(n) || n < 0 || !Number.isSafeInteger(pathBytes) || pathBytes < 0) throw new IndexFileError('bad counts in the header');
  let expected = off;
  for (const [, w] of COLUMNS) expected += n * w + pad(n * w);
  expected += pathBytes + pad(pathBytes) + END.length;
  if (buf.length !== expected) throw new IndexFileError(`not a complete index (${buf.length} bytes, ${expected} expected)`);
  if (!buf.subarray(buf.length - END.length).equals(END)) throw new IndexFileError('not a complete index (no end mark)');
  for (const k of ['nodes', 'versions', 'deletedAt', 'whole', 'keys']) if (!Array.isArray(header[k])) throw new IndexFileError(`bad header field ${k}`);
  const c = newColumns(n);
  for (const [name, w] of COLUMNS) {
    const col = c[name];
    new Uint8Array(col.buffer, col.byteOffset, col.byteLength).set(buf.subarray(off, off + n * w));
    off += n * w + pad(n * w);
  }
  // the path bytes are a view into `buf`: the index copies the names into its own arena
  c.paths = { bytes: buf.subarray(off, off + pathBytes), keys: header.keys };
  c.nodes = header.nodes;
  c.versions = header.versions;
  c.deletedAt = header.deletedAt;
  c.whole = header.whole;
  for (const k of ['v', 'count', 'pathBytes', 'nodes', 'versions', 'deletedAt', 'whole', 'keys']) delete header[k];
  return { columns: c, header };
}
