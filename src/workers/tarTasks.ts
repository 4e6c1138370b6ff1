// Worker-side tar packing and extraction: the bytes of file contents never touch the
// main thread except as whole transferred buffers (PackBatch results, extract chunks).
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  unlinkSync,
} from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import type { Expected, PackRequest } from '../core/tree.js';
import { expectedAt, expectedPaths, type ExpectedColumns } from '../core/expectedColumns.js';
import { assertRealDirChain, assertSafeRelPath, fsPath, parentOf, UnsafePathError } from './paths.js';
import { tempPathFor } from '../core/tempPath.js';
import { TreeReader } from './readInTree.js';
import { moveWith } from './transfer.js';
import { finishFile, freshMode, freshModeIsFinal, openFresh } from './safeWrite.js';
import { endSparse, writeSparse } from './sparseWrite.js';
import { writeErrorMessage } from './writeErrors.js';
import { blake3Available, hashHexOnce, newHasher, tarHashFor, type ContentHasher, type HashAlg, type HexHash } from './contentHash.js';
import {
  BLAKE3_KEY,
  BLOCK,
  encodeFileHeader,
  encodeFileHeaderWithHashSlot,
  HASHED_HEADER_LENGTH,
  isHex64,
  isPlainUstarName,
  padding,
  SHA256_KEY,
  TarFormatError,
  TarParser,
  writeHashedFileHeader,
  writePlainFileHeader,
  writeUstarHashedFileHeader,
  type TarHeader,
} from './tarFormat.js';


/** A large file sent in pieces across several batches. */
export interface PackCont {
  path: string;
  pos: number;
  end: number;
  /** Where the entry's data began (its offset): the entry's size is end - dataStart. */
  dataStart: number;
}

export interface PackTask {
  root: string;
  items: PackRequest[];
  cont: PackCont | null;
  /** Bytes of tar per batch: many small files, or one chunk of a large one. */
  cap: number;
  /** A buffer of `cap` bytes to fill (reused: no page faults on fresh memory); else a new one. */
  buf?: ArrayBuffer;
  /**
   * Every file entry carries `omirr.sha256`, the sha256 of its whole content as read, so
   * that the receiver verifies it even without a hash of its own (docs/protocol.md).
   */
  verify?: boolean;
  /** (verify) Large files carry `omirr.blake3` instead (tarHashFor): the receiver can check it (`tar-blake3`). */
  blake3?: boolean;
  /** Whole-file hashes of large files, hashed ahead by the caller (verify): used instead of hashing them here first. */
  hashes?: Record<string, HexHash>;
  /** (verify) The receiver reads a hash in the ustar header (capability `tar-hash-ustar`): a plain entry is one block, no pax header. */
  hashInHeader?: boolean;
}

export interface PackResult {
  buf: ArrayBuffer;
  length: number;
  /** How many of `items` this batch started (a large one may continue in `cont`). */
  consumed: number;
  cont: PackCont | null;
  /** Requested paths that could not be sent (vanished, not a regular file). */
  errors: Array<{ path: string; error: string }>;
}

/** Read exactly n bytes at pos into out[at..]; a shorter file means it changed under us. */
function readExactly(fd: number, out: Buffer, at: number, n: number, pos: number, path: string): void {
  let got = 0;
  while (got < n) {
    const r = readSync(fd, out, at + got, n - got, pos + got);
    if (r === 0) throw new Error(`${path}: file shrank while being sent`);
    got += r;
  }
}

/** A read buffer for hashing, one per worker thread. */
let scratchBuf: Buffer | undefined;
function scratch(): Buffer {
  return (scratchBuf ??= Buffer.allocUnsafeSlow(1 << 20));
}

/** Feed bytes [pos, end) of an open file to `h`. */
function hashRange(h: ContentHasher, fd: number, pos: number, end: number, path: string): void {
  const buf = scratch();
  while (pos < end) {
    const n = Math.min(buf.length, end - pos);
    readExactly(fd, buf, 0, n, pos, path);
    h.update(buf.subarray(0, n));
    pos += n;
  }
}

/** The hash of bytes [0, size) of an open file, hex. */
function hashWhole(fd: number, size: number, path: string, alg: HashAlg): string {
  const h = newHasher(alg);
  hashRange(h, fd, 0, size, path);
  return h.digest().toString('hex');
}

export function packBatch(t: PackTask): PackResult {
  // every byte up to `len` is written below (headers, data, padding), so a reused buffer is fine
  const out = t.buf && t.buf.byteLength === t.cap ? Buffer.from(t.buf) : Buffer.allocUnsafeSlow(t.cap);
  let len = 0;
  let cont = t.cont;
  const errors: PackResult['errors'] = [];
  let consumed = 0;
  const pad = (size: number): void => {
    const p = padding(size);
    out.fill(0, len, len + p);
    len += p;
  };
  // files opened through their directory's checked descriptor (readInTree.ts): a batch
  // goes directory by directory, so the check is made once per directory, not per file
  const reader = new TreeReader(t.root, true);
  try {
    if (cont) {
      const fd = reader.open(cont.path);
      try {
        const n = Math.min(cont.end - cont.pos, t.cap - len - 512);
        readExactly(fd, out, len, n, cont.pos, cont.path);
        len += n;
        cont = cont.pos + n === cont.end ? null : { ...cont, pos: cont.pos + n };
        if (!cont) pad(t.cont!.end - t.cont!.dataStart);
      } finally {
        closeSync(fd);
      }
    }
    while (!cont && consumed < t.items.length && len < t.cap - 4096) {
      const item = t.items[consumed]!;
      let fd: number;
      try {
        fd = reader.open(item.path);
      } catch (err) {
        errors.push({ path: item.path, error: (err as Error).message });
        consumed++;
        continue;
      }
      try {
        const st = fstatSync(fd);
        if (!st.isFile()) {
          errors.push({ path: item.path, error: 'not a regular file' });
          consumed++;
          continue;
        }
        const offset = Math.min(Math.max(0, item.offset ?? 0), st.size);
        const rem = st.size - offset;
        const extra = offset > 0 ? { 'omirr.offset': String(offset) } : undefined;
        // The common header (short ASCII name, whole file) is written in place: no pax, or
        // (verify) only the hash's. Other headers are built, with room for the hash.
        const plain = offset === 0 && isPlainUstarName(item.path);
        // a hash taken ahead names its algorithm (the file's size may have moved since)
        const ahead = t.verify ? t.hashes?.[item.path] : undefined;
        const alg = ahead?.alg ?? tarHashFor(st.size, t.blake3 === true);
        const key = alg === 'blake3' ? BLAKE3_KEY : SHA256_KEY;
        const slot = t.verify && !plain ? encodeFileHeaderWithHashSlot(item.path, rem, st.mode, st.mtimeMs, extra, key) : null;
        const header = slot ? slot.header : plain ? null : encodeFileHeader(item.path, rem, st.mode, st.mtimeMs, extra);
        const headerLength = header ? header.length : t.verify && !t.hashInHeader ? HASHED_HEADER_LENGTH : BLOCK;
        const need = headerLength + rem + padding(rem);
        if (need > t.cap - len && len > 0 && rem < t.cap / 2) break; // small file: next batch
        // the header goes in front of the data once the data (and so its hash) is read
        const at = len;
        len += headerLength;
        const n = Math.min(rem, t.cap - len - 512);
        let hash = '';
        if (t.verify && n < rem) {
          // Spans batches, which may run on other threads: no hash state can travel along,
          // so the whole file is hashed here first (a second read, for large files only).
          // (Usually done already, ahead, while the batches before this one were packed.)
          hash = ahead?.hex ?? hashWhole(fd, st.size, item.path, alg);
          readExactly(fd, out, len, n, offset, item.path);
        } else {
          readExactly(fd, out, len, n, offset, item.path);
          if (t.verify) {
            // All of it in this batch: the bytes read are the bytes hashed (no second read);
            // a resumed file's hash covers the prefix the receiver has too.
            if (offset > 0) {
              const h = newHasher(alg);
              hashRange(h, fd, 0, offset, item.path);
              h.update(out.subarray(len, len + n));
              hash = h.digest().toString('hex');
            } else hash = hashHexOnce(alg, out.subarray(len, len + n));
          }
        }
        if (slot) slot.header.write(hash, slot.hashAt, 64, 'latin1');
        if (header) header.copy(out, at);
        else if (t.verify && t.hashInHeader) writeUstarHashedFileHeader(out, at, item.path, rem, st.mode, st.mtimeMs, key, hash);
        else if (t.verify) out.write(hash, writeHashedFileHeader(out, at, item.path, rem, st.mode, st.mtimeMs, key), 64, 'latin1');
        else writePlainFileHeader(out, at, item.path, rem, st.mode, st.mtimeMs);
        len += n;
        consumed++;
        if (n < rem) cont = { path: item.path, pos: offset + n, end: st.size, dataStart: offset };
        else pad(rem);
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    reader.close();
  }
  return moveWith({ buf: out.buffer as ArrayBuffer, length: len, consumed, cont, errors }, [out.buffer as ArrayBuffer]);
}

// ---- extraction ----------------------------------------------------------------------

export interface ExtractTask {
  root: string;
  /** The files expected, in columns (core/expectedColumns.ts: cheaper to clone than objects). */
  expect: ExpectedColumns;
  port: MessagePort;
  /** chown to the expected uid/gid (only when running as root). */
  chown: boolean;
  /** A broken transfer keeps the partial file of expected files at least this large. */
  resumeMin: number;
}

export interface ExtractResult {
  written: string[];
  failed: Array<{ path: string; error: string }>;
  bytes: number;
  /** Bytes of files that resumed from a partial file, not sent again. */
  resumedBytes: number;
  /** Set when the stream was refused (hostile or malformed): the connection must close. */
  fatal?: string;
  /** Set when the stream broke off (connection lost): partial large files are kept. */
  aborted?: string;
}

export type ToExtract = { chunk: ArrayBuffer; length: number } | { end: true } | { abort: string };
/** `buf`: the chunk's buffer, given back once written, for the sender to fill again. */
export type FromExtract = { ack: number; buf?: ArrayBuffer } | { fatal: string };

interface Current {
  exp: Expected;
  fd: number;
  tmpAbs: string;
  /**
   * Made at the file's first piece of data unless that piece is the whole file, which is
   * hashed in one call instead (`got`): most small files arrive in one piece.
   */
  hasher: ContentHasher | null;
  /** The content's hash, hex, when it was hashed in one call. */
  got: string | undefined;
  /** The hash the content must have: the receiver's own (sha256), else the sender's. */
  check: HexHash | undefined;
  pos: number;
  /** The temporary's length as written so far (a zero block left out at the end is not in it). */
  length: number;
}

class Fatal extends Error {}

const EMPTY = new Uint8Array(0);

/**
 * Receives one tar stream through `port` and writes its files: each to its temporary
 * name in the target directory, hashed while written, verified, mode and mtime set,
 * then renamed into place. Resolves when the stream ends, breaks, or is refused.
 */
export function extract(t: ExtractTask): Promise<ExtractResult> {
  const res: ExtractResult = { written: [], failed: [], bytes: 0, resumedBytes: 0 };
  // Each expected path's index in the columns, -1 once it has arrived: one lookup and one
  // store per file (a separate set of seen names cost two more). A file's object is made
  // only when its entry comes.
  const paths = expectedPaths(t.expect);
  const hashes = new Map(t.expect.hashes);
  const expect = new Map<string, number>();
  for (let i = 0; i < paths.length; i++) expect.set(paths[i]!, i);
  const verified = new Set<string>();
  let cur: Current | null = null;
  /** The current file was created with exactly its final mode (no fchmod needed). */
  let modeSet = false;
  let skipping: { path: string; error: string } | null = null;

  const dropCurrent = (keepPartial: boolean): void => {
    if (!cur) return;
    const c = cur;
    cur = null;
    try {
      closeSync(c.fd);
    } catch {
      /* closed */
    }
    if (!keepPartial || c.exp.size < t.resumeMin || c.pos === 0) {
      try {
        unlinkSync(fsPath(c.tmpAbs));
      } catch {
        /* gone */
      }
    }
  };

  const fail = (path: string, error: string): void => {
    res.failed.push({ path, error });
  };

  const sink = {
    entry(h: TarHeader): void {
      try {
        assertSafeRelPath(h.name);
      } catch (err) {
        throw new Fatal((err as Error).message);
      }
      const at = expect.get(h.name);
      if (at === undefined) throw new Fatal(`entry not expected: ${JSON.stringify(h.name)}`);
      if (at < 0) throw new Fatal(`entry sent twice: ${h.name}`);
      expect.set(h.name, -1);
      const exp = expectedAt(t.expect, at, h.name, hashes);
      const offsetStr = h.pax['omirr.offset'];
      const offset = offsetStr === undefined ? 0 : Number(offsetStr);
      if (!Number.isSafeInteger(offset) || offset < 0 || offset > exp.size) throw new Fatal(`bad omirr.offset for ${h.name}`);
      const sent = h.pax[SHA256_KEY];
      const sentB3 = h.pax[BLAKE3_KEY];
      if (sent !== undefined && !isHex64(sent)) throw new Fatal(`bad ${SHA256_KEY} for ${h.name}`);
      if (sentB3 !== undefined && !isHex64(sentB3)) throw new Fatal(`bad ${BLAKE3_KEY} for ${h.name}`);
      if (sent !== undefined && sentB3 !== undefined) throw new Fatal(`both ${SHA256_KEY} and ${BLAKE3_KEY} for ${h.name}`);
      // only a peer that was offered tar-blake3 sends it: this end can check it, or refuses
      if (sentB3 !== undefined && !blake3Available()) throw new Fatal(`${BLAKE3_KEY} for ${h.name}, and this end cannot check BLAKE3`);
      if (offset + h.size !== exp.size) {
        skipping = { path: h.name, error: `size changed: expected ${exp.size}, got ${offset + h.size}` };
        return;
      }
      if (exp.hash && sent !== undefined && sent !== exp.hash) {
        skipping = { path: h.name, error: `source changed since it was listed: expected sha256 ${exp.hash}, sent ${sent}` };
        return;
      }
      // the receiver's own hash (a sha256) is checked first: a BLAKE3 sent with the file
      // cannot be compared with it, and a changed source then fails at the end instead
      const check: HexHash | undefined = exp.hash
        ? { alg: 'sha256', hex: exp.hash }
        : sentB3 !== undefined
          ? { alg: 'blake3', hex: sentB3 }
          : sent !== undefined
            ? { alg: 'sha256', hex: sent }
            : undefined;
      try {
        assertRealDirChain(t.root, parentOf(h.name), verified, true);
        // no lstat of the target: rename() refuses to replace a directory (EISDIR) by itself
        const tmpAbs = `${t.root}/${tempPathFor(exp)}`;
        let hasher: ContentHasher | null = null;
        let fd: number;
        if (offset > 0) {
          fd = openSync(fsPath(tmpAbs), constants.O_RDWR | constants.O_NOFOLLOW);
          const st = fstatSync(fd);
          if (!st.isFile() || st.size < offset) {
            closeSync(fd);
            throw new Error('no partial file to resume from');
          }
          ftruncateSync(fd, offset);
          if (check) hasher = prefixedHasher(tmpAbs, offset, check.alg);
          res.resumedBytes += offset;
          modeSet = false;
        } else {
          // Created with its final permission bits (owner rw while we write), so fchmod is
          // needed only when the umask changed them or for set-id bits; O_EXCL so that a stale
          // temporary (with whatever mode it had) is replaced, never reused.
          fd = openFresh(tmpAbs, freshMode(exp));
          modeSet = freshModeIsFinal(exp);
        }
        cur = { exp, fd, tmpAbs, hasher, got: undefined, check, pos: offset, length: offset };
      } catch (err) {
        skipping = { path: h.name, error: err instanceof UnsafePathError ? err.message : writeErrorMessage(h.name, err) };
      }
    },
    data(chunk: Buffer): void {
      if (!cur) return; // skipping: drain without writing
      try {
        if (writeSparse(cur.fd, chunk, cur.pos)) cur.length = cur.pos + chunk.length;
      } catch (err) {
        // Disk full, quota, EIO: this file fails, naming its path, and its temporary goes
        // (nothing partial stays, and the space is given back); the stream goes on (drained
        // for this entry), so the other files and the connection are not lost with it.
        const path = cur.exp.path;
        dropCurrent(false);
        skipping = { path, error: writeErrorMessage(path, err) };
        return;
      }
      if (cur.check) {
        if (cur.hasher) cur.hasher.update(chunk);
        else if (cur.pos === 0 && chunk.length === cur.exp.size) cur.got = hashHexOnce(cur.check.alg, chunk);
        else (cur.hasher = newHasher(cur.check.alg)).update(chunk);
      }
      cur.pos += chunk.length;
      res.bytes += chunk.length;
    },
    entryEnd(): void {
      if (skipping) {
        fail(skipping.path, skipping.error);
        skipping = null;
        return;
      }
      if (!cur) return;
      const c = cur;
      try {
        if (c.check) {
          // (an empty file has had no data: the hash of nothing)
          const got = c.got ?? (c.hasher ? c.hasher.digest().toString('hex') : hashHexOnce(c.check.alg, EMPTY));
          if (got !== c.check.hex) throw new Error(`hash mismatch: expected ${c.check.alg} ${c.check.hex}, got ${got}`);
        }
        // only a file that ends in a hole needs its length set: one syscall less per file
        if (c.length !== c.exp.size) endSparse(c.fd, c.exp.size);
        cur = null;
        // mode, owner, mtime, close, rename; on failure it removes the temporary itself
        finishFile(t.root, c.exp, c.fd, c.tmpAbs, modeSet, t.chown);
        res.written.push(c.exp.path);
      } catch (err) {
        dropCurrent(false);
        try {
          unlinkSync(fsPath(c.tmpAbs));
        } catch {
          /* gone */
        }
        fail(c.exp.path, writeErrorMessage(c.exp.path, err));
      }
    },
  };

  const parser = new TarParser(sink);
  return new Promise<ExtractResult>((resolve) => {
    const finish = (): void => {
      t.port.removeAllListeners('message');
      t.port.close();
      resolve(res);
    };
    t.port.on('message', (msg: ToExtract) => {
      try {
        if ('chunk' in msg) {
          if (!parser.ended) parser.feed(Buffer.from(msg.chunk, 0, msg.length));
          // Written (the parser keeps no view of it): hand the buffer back for reuse, which
          // spares the sender a fresh allocation and its page faults per message.
          t.port.postMessage({ ack: msg.length, buf: msg.chunk } satisfies FromExtract, [msg.chunk]);
          return;
        }
        if ('abort' in msg) {
          res.aborted = msg.abort;
          dropCurrent(true);
        } else {
          parser.end();
        }
      } catch (err) {
        if (err instanceof Fatal || (err instanceof TarFormatError && !/truncated/.test(err.message))) {
          res.fatal = err.message;
          dropCurrent(false);
          t.port.postMessage({ fatal: err.message } satisfies FromExtract);
        } else if (err instanceof TarFormatError) {
          res.aborted = err.message;
          dropCurrent(true);
        } else {
          // an I/O error while writing (disk full...): the stream cannot go on
          res.fatal = (err as Error).message;
          dropCurrent(false);
          t.port.postMessage({ fatal: res.fatal } satisfies FromExtract);
        }
      }
      for (const [path, at] of expect) if (at >= 0) fail(path, 'not received');
      finish();
    });
  });
}

/** A hasher that has already taken the first `n` bytes of a partial file (resume). */
function prefixedHasher(abs: string, n: number, alg: HashAlg): ContentHasher {
  const h = newHasher(alg);
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(fsPath(abs), constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    let pos = 0;
    while (pos < n) {
      const r = readSync(fd, buf, 0, Math.min(buf.length, n - pos), pos);
      if (r === 0) break;
      h.update(buf.subarray(0, r));
      pos += r;
    }
  } finally {
    closeSync(fd);
  }
  return h;
}
