// A site driver's pack(): the files it downloads (FTP RETR, HTTP GET, SFTP read), one after
// another, as the tar stream the sync engine unpacks (docs/protocol.md, "Tar streams").
// The engine's receiver then writes each file safely (temporary name, size checked,
// renamed into place), so a driver only has to say where the bytes come from.
//
// A small file is read whole before its entry is written: its entry then has its true size
// (a file that changed since it was listed fails at the receiver as "size changed", and the
// stream goes on). A large file streams: its entry declares the listed size, and a source
// that gives more or fewer bytes breaks the stream off before the entry's last bytes (the
// receiver keeps the prefix for a resume; the sync reports the failure). A file the site
// refuses (gone, no permission) is left out and logged: the receiver reports it "not received".
//
// No `omirr.sha256` (PackOptions.verify): the bytes hashed would be the bytes the receiver
// gets in this same process, so the hash would check nothing the size does not (a site has
// no hash of its own to compare with); between omirr nodes the hash spans the network, here
// it spanned only a MessagePort, and cost a sha256 per file twice (here and in the receiver).
//
// Small files whose bytes are all in (a driver that pipelines its requests finishes several
// while one is packed) go out together as one chunk: one push, one message to the receiver's
// thread for many files instead of three pushes and a message each.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { PackOptions, PackRequest } from '../core/tree.js';
import { silentLogger, type Logger } from '../log.js';
import { isSiteReply, keepRefusals } from '../core/refusedFiles.js';
import { END_OF_ARCHIVE, encodeFileHeader, isPlainUstarName, padding, writePlainFileHeader } from '../workers/tarFormat.js';

/** Files up to this size are read whole before their tar entry is written. */
export const WHOLE_FILE_MAX = 4 << 20;
/** Ready small files are gathered into chunks of up to this many bytes. */
const BATCH_BYTES = 1 << 20;
/** How long gathered files wait for more before they go (ms), counted from the batch's first wait. */
const BATCH_WAIT_MS = 5;

/** Resolves after `ms`. */
function delay(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}

export interface SiteFileSource {
  /** What the last scan said about the file (size for the header; mode and mtime are informative). */
  listed(path: string): { size: number; mode: number; mtimeMs: number } | undefined;
  /** The file's bytes from `offset` (the driver's download: REST, Range, an offset read). */
  open(path: string, offset: number): Promise<Readable>;
  /**
   * A small file's bytes from `offset`, whole, without a stream (a driver that can collect
   * them cheaper than through one, e.g. FTP's pipelined RETR); undefined: use `open`. At
   * most `limit` bytes are kept: a file grown past them resolves with its first `limit`
   * (the receiver then refuses it by its size). `cancel`: the stream was given up, let go.
   */
  openWhole?(path: string, offset: number, expect: number, limit: number): { data: Promise<WholeFile>; cancel(): void } | undefined;
  label: string;
  log?: Logger;
  /**
   * Files asked for ahead of the one being read (default 1): a driver that pipelines its
   * requests on one connection (FTP) keeps that many queued, so the server never waits.
   */
  ahead?: number;
}

/** A small file's bytes, whole (SiteFileSource.openWhole). */
export interface WholeFile {
  data: Buffer;
  /**
   * `data` framed for its tar entry, when the driver made room: BLOCK bytes free in front
   * (the header is written there), `data`, then its zero padding. Frames that follow each
   * other in memory go out as one chunk.
   */
  framed?: Buffer;
}

/** A file asked for: its bytes whole (openWhole) or a stream; `done` once a whole one is in. */
interface Opened {
  whole: boolean;
  /** What the listing said of the file (looked up once: a Map lookup by a path string per use). */
  listed: ReturnType<SiteFileSource['listed']>;
  p: Promise<Readable | WholeFile>;
  done?: { file: WholeFile } | { err: Error };
  cancel?: () => void;
}

function noop(): void {}

export function siteTarStream(files: PackRequest[], src: SiteFileSource, _opts: PackOptions = {}): Readable {
  const refused = new Map<string, string>();
  const stream = Readable.from(entries(files, src, refused), { objectMode: false, highWaterMark: 1 << 20 });
  // (a file the site refused is named with its reply by the sync: core/refusedFiles.ts)
  keepRefusals(stream, refused);
  return stream;
}

async function* entries(files: PackRequest[], src: SiteFileSource, refused: Map<string, string>): AsyncGenerator<Buffer> {
  const log = src.log ?? silentLogger;
  /** Left out, logged; its reply kept when the site gave one (not when the connection broke). */
  const notSent = (path: string, err: Error, why: string): void => {
    log.warn({ site: src.label, path, err: err.message }, why);
    if (isSiteReply(err)) refused.set(path, `the site refused it: ${err.message}`);
  };
  // Files ahead (one by default): their requests are queued as soon as the current one has
  // started, so a single connection goes straight on to the next file while this one is
  // read and packed.
  const ahead = Math.max(1, src.ahead ?? 1);
  const opened = new Map<number, Opened>();
  const sizeOf = (r: PackRequest): number | undefined => src.listed(r.path)?.size ?? r.size;
  const start = (i: number): void => {
    const r = files[i];
    if (r === undefined || opened.has(i)) return;
    const listed = src.listed(r.path);
    const size = listed?.size ?? r.size;
    const offset = Math.max(0, r.offset ?? 0);
    if (size === undefined || offset > size) return; // not sent (entry() says why)
    const want = size - offset;
    const whole = want <= WHOLE_FILE_MAX ? src.openWhole?.(r.path, offset, want, want + WHOLE_FILE_MAX) : undefined;
    if (whole) {
      const o: Opened = { whole: true, listed, p: whole.data, cancel: () => whole.cancel() };
      whole.data.then(
        (file) => (o.done = { file }),
        (err: Error) => (o.done = { err }),
      );
      opened.set(i, o);
      return;
    }
    const p = src.open(r.path, offset);
    p.catch(() => {}); // seen when awaited
    opened.set(i, { whole: false, listed, p });
  };
  /** Files before this one have been started (each once: the ones ahead, as the stream moves on). */
  let started = 0;
  const startUpTo = (last: number): void => {
    for (const end = Math.min(last, files.length - 1); started <= end; started++) start(started);
  };
  // entries of small files whose bytes are in, not yet pushed
  const batch: Buffer[] = [];
  let batchBytes = 0;
  /**
   * When the gathered files stop waiting for more: BATCH_WAIT_MS after the batch's first
   * file. One timer per batch (a timer per file waited for was a timer-list insert and
   * removal for each of 20,000 small files).
   */
  let batchDeadline: Promise<void> | undefined;
  /**
   * The frames that follow each other in one slab, as numbers until they go: one Buffer per
   * run of frames rather than a new view for every file added to it.
   */
  let run: { buf: ArrayBufferLike; start: number; end: number } | undefined;
  const endRun = (): void => {
    if (run === undefined) return;
    batch.push(Buffer.from(run.buf, run.start, run.end - run.start));
    run = undefined;
  };
  const add = (b: Buffer, framed = false): void => {
    if (batchBytes === 0) batchDeadline = undefined;
    batchBytes += b.length;
    // the next frame in the same slab: the same chunk
    if (framed && run !== undefined && run.buf === b.buffer && run.end === b.byteOffset) {
      run.end += b.length;
      return;
    }
    endRun();
    if (framed) run = { buf: b.buffer, start: b.byteOffset, end: b.byteOffset + b.length };
    else batch.push(b);
  };
  function* flush(): Generator<Buffer> {
    if (batchBytes === 0) return;
    endRun();
    // the receiver copies these views (or takes one that is a whole buffer of its own)
    const out = batch.splice(0);
    batchBytes = 0;
    yield* out;
  }
  try {
    for (let i = 0; i < files.length; i++) {
      // A file collected whole is packed here, without an async generator of its own (a
      // generator, its promises and the delegation of every chunk through it were a
      // measurable part of a 20,000-file copy); streams and refusals go through entry().
      startUpTo(i);
      const o = opened.get(i);
      if (o === undefined || !o.whole) {
        yield* entry(i);
        continue;
      }
      opened.delete(i);
      // whole-file downloads queue on the driver's own connection(s): ask for the next ones now
      startUpTo(i + ahead);
      if (!o.done) {
        // Not in yet. What is ready waits for it a little (files finish one per event-loop
        // turn, so pushing each at once sent every file alone), then goes on without it.
        if (batchBytes > 0 && batchBytes < BATCH_BYTES / 4) {
          batchDeadline ??= delay(BATCH_WAIT_MS);
          await Promise.race([o.p.then(noop, noop), batchDeadline]);
        }
        if (!o.done) {
          yield* flush();
          await o.p.catch(() => {});
        }
      }
      addWhole(files[i]!, o.listed, o.done!);
      if (batchBytes >= BATCH_BYTES) yield* flush();
    }
    yield* flush();
  } finally {
    // a stream given up early: nothing left holding a connection
    for (const o of opened.values()) {
      if (o.cancel) o.cancel();
      else o.p.then((b) => (b as Readable).destroy(), () => {});
    }
  }
  yield END_OF_ARCHIVE;

  /** A small file's entry, its bytes all in (or its failure logged), into the batch. */
  function addWhole(req: PackRequest, listed: Opened['listed'], done: NonNullable<Opened['done']>): void {
    if ('err' in done) {
      notSent(req.path, done.err, 'not sent: the site refused the file or its download failed');
      return;
    }
    const mode = listed?.mode ?? 0o644;
    const mtimeMs = listed?.mtimeMs ?? Date.now();
    const offset = Math.max(0, req.offset ?? 0);
    const { data, framed } = done.file;
    if (framed && offset === 0 && isPlainUstarName(req.path)) {
      writePlainFileHeader(framed, 0, req.path, data.length, mode, mtimeMs);
      add(framed, true);
      return;
    }
    add(encodeFileHeader(req.path, data.length, mode, mtimeMs, offset > 0 ? { 'omirr.offset': String(offset) } : undefined));
    if (data.length > 0) add(data);
    const pad = padding(data.length);
    if (pad > 0) add(Buffer.alloc(pad));
  }

  async function* entry(i: number): AsyncGenerator<Buffer> {
    const req = files[i]!;
    const listed = src.listed(req.path);
    const size = sizeOf(req);
    const mode = listed?.mode ?? 0o644;
    const mtimeMs = listed?.mtimeMs ?? Date.now();
    const offset = Math.max(0, req.offset ?? 0);
    if (size === undefined || offset > size) {
      log.warn({ site: src.label, path: req.path }, 'not sent: size unknown (not in the listing)');
      return;
    }
    const want = size - offset;
    const extra: Record<string, string> | undefined = offset > 0 ? { 'omirr.offset': String(offset) } : undefined;
    startUpTo(i);
    const o = opened.get(i)!;
    yield* flush();
    let body: Readable;
    try {
      body = (await o.p) as Readable;
    } catch (err) {
      notSent(req.path, err as Error, 'not sent: the site refused the file');
      return;
    } finally {
      opened.delete(i);
      startUpTo(i + ahead);
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
        notSent(req.path, err as Error, 'not sent: download failed');
        return;
      } finally {
        body.destroy();
      }
      // one read is the common case for a small file: no second copy
      const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n);
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
