// A site driver's pack(): the files it downloads (FTP RETR, HTTP GET, SFTP read), one after
// another, as the tar stream the sync engine unpacks (docs/protocol.md, "Tar streams").
// The engine's receiver then writes each file safely (temporary name, size and hash checked,
// renamed into place), so a driver only has to say where the bytes come from.
//
// A small file is read whole before its entry is written: its entry then has its true size
// (a file that changed since it was listed fails at the receiver as "size changed", and the
// stream goes on) and, with `verify`, its sha256. A large file streams: its entry declares
// the listed size, and a source that gives more or fewer bytes breaks the stream off before
// the entry's last bytes (the receiver keeps the prefix for a resume; the sync reports the
// failure). A file the site refuses (gone, no permission) is left out and logged: the
// receiver reports it "not received".
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { PackOptions, PackRequest } from '../core/tree.js';
import { silentLogger, type Logger } from '../log.js';
import { END_OF_ARCHIVE, SHA256_KEY, encodeFileHeader, padding } from '../workers/tarFormat.js';

/** Files up to this size are read whole before their tar entry is written. */
export const WHOLE_FILE_MAX = 4 << 20;

export interface SiteFileSource {
  /** What the last scan said about the file (size for the header; mode and mtime are informative). */
  listed(path: string): { size: number; mode: number; mtimeMs: number } | undefined;
  /** The file's bytes from `offset` (the driver's download: REST, Range, an offset read). */
  open(path: string, offset: number): Promise<Readable>;
  label: string;
  log?: Logger;
  /**
   * Files asked for ahead of the one being read (default 1): a driver that pipelines its
   * requests on one connection (FTP) keeps that many queued, so the server never waits.
   */
  ahead?: number;
}

export function siteTarStream(files: PackRequest[], src: SiteFileSource, opts: PackOptions = {}): Readable {
  return Readable.from(entries(files, src, opts), { objectMode: false, highWaterMark: 1 << 20 });
}

async function* entries(files: PackRequest[], src: SiteFileSource, opts: PackOptions): AsyncGenerator<Buffer> {
  const log = src.log ?? silentLogger;
  // Files ahead (one by default): their requests are queued as soon as the current one has
  // started, so a single connection goes straight on to the next file while this one is
  // read and packed.
  const ahead = Math.max(1, src.ahead ?? 1);
  const opened = new Map<number, Promise<Readable>>();
  const start = (i: number): void => {
    const r = files[i];
    if (r === undefined || opened.has(i)) return;
    const p = src.open(r.path, Math.max(0, r.offset ?? 0));
    p.catch(() => {}); // seen when awaited
    opened.set(i, p);
  };
  try {
    for (let i = 0; i < files.length; i++) yield* entry(i);
  } finally {
    // a stream given up early: nothing left holding a connection
    for (const p of opened.values()) p.then((b) => b.destroy(), () => {});
  }
  yield END_OF_ARCHIVE;

  async function* entry(i: number): AsyncGenerator<Buffer> {
    const req = files[i]!;
    const listed = src.listed(req.path);
    const size = listed?.size ?? req.size;
    const mode = listed?.mode ?? 0o644;
    const mtimeMs = listed?.mtimeMs ?? Date.now();
    const offset = Math.max(0, req.offset ?? 0);
    if (size === undefined || offset > size) {
      log.warn({ site: src.label, path: req.path }, 'not sent: size unknown (not in the listing)');
      return;
    }
    const want = size - offset;
    const extra: Record<string, string> = offset > 0 ? { 'omirr.offset': String(offset) } : {};
    let body: Readable;
    start(i);
    try {
      body = await opened.get(i)!;
    } catch (err) {
      log.warn({ site: src.label, path: req.path, err: (err as Error).message }, 'not sent: the site refused the file');
      return;
    } finally {
      opened.delete(i);
      for (let k = 1; k <= ahead; k++) start(i + k);
    }
    if (want <= WHOLE_FILE_MAX) {
      const chunks: Buffer[] = [];
      let n = 0;
      try {
        for await (const c of body as AsyncIterable<Buffer>) {
          chunks.push(c);
          n += c.length;
          // a file grown far past its listed size is not worth buffering: fail it at the receiver
          if (n > want + WHOLE_FILE_MAX) break;
        }
      } catch (err) {
        log.warn({ site: src.label, path: req.path, err: (err as Error).message }, 'not sent: download failed');
        return;
      } finally {
        body.destroy();
      }
      // one read is the common case for a small file: no second copy
      const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n);
      if (opts.verify && offset === 0) extra[SHA256_KEY] = createHash('sha256').update(data).digest('hex');
      // the receiver may take (transfer) a yielded buffer: nothing reads `data` after its yield
      const len = data.length;
      yield encodeFileHeader(req.path, len, mode, mtimeMs, extra);
      if (len > 0) yield data;
      const pad = padding(len);
      if (pad > 0) yield Buffer.alloc(pad);
      return;
    }
    // Large: the header declares the listed size; the last chunk is held back until the
    // source has ended at exactly that size, so a changed file never completes its entry.
    yield encodeFileHeader(req.path, want, mode, mtimeMs, extra);
    let got = 0;
    let held: Buffer | undefined;
    try {
      for await (const c of body as AsyncIterable<Buffer>) {
        got += c.length; // before `held` is yielded (and maybe transferred)
        if (got > want) throw new Error(`${req.path}: longer than the listed ${size} bytes (changed since listed)`);
        if (held) yield held;
        held = c;
      }
    } finally {
      body.destroy();
    }
    if (got !== want) throw new Error(`${req.path}: ${offset + got} bytes where ${size} were listed (changed since listed, or cut off)`);
    if (held) yield held;
    const pad = padding(want);
    if (pad > 0) yield Buffer.alloc(pad);
  }
}

/** sha256 of each file by downloading it (sites have no hash command; sync --checksum only). Files the site refuses get none. */
export async function hashByDownload(paths: string[], open: (path: string) => Promise<Readable>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of paths) {
    let body: Readable;
    try {
      body = await open(p);
    } catch {
      continue;
    }
    const h = createHash('sha256');
    try {
      for await (const c of body as AsyncIterable<Buffer>) h.update(c);
      out.set(p, h.digest('hex'));
    } catch {
      // refused or cut off: no hash (the comparison then goes by size and time)
    }
  }
  return out;
}
