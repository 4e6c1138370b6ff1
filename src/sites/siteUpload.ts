// A writable site's unpack(): the engine's tar stream stored file by file on the site, each
// under a temporary name in its target directory (tempPathFor), its size and sha256 checked
// while it streams, and only then moved into place; a file that fails leaves no temporary
// behind and the rest go on. The driver says how bytes are stored, moved and discarded.
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import type { Expected, OpResult, TreeOp, UnpackResult } from '../core/tree.js';
import { encodeName, hasEscapedBytes } from '../core/names.js';
import { assertSafeRelPath, parentOf, tempPathFor } from '../engine/paths.js';
import { siteTarStream } from './siteTar.js';

/** Writing to a site opened read-only is a programming error of the caller: say which call. */
export function assertSiteWritable(site: { label: string; writable: boolean }, what: 'unpack' | 'apply'): void {
  if (!site.writable) throw new Error(`${site.label}: read-only (${what})`);
}

export interface SiteWriter {
  /** Store `body` as the site's file `tmp` (a relative path); resolves once the site has it all. */
  store(tmp: string, body: Readable, exp: Expected): Promise<void>;
  /** Move the verified `tmp` into place at `exp.path`, with exp's mode (and time, where the site can). */
  commit(tmp: string, exp: Expected): Promise<void>;
  /** Remove `tmp` after a failure (errors ignored). */
  discard(tmp: string): Promise<void>;
  /** Why an entry that resumes a partial file is refused, when the site cannot resume. */
  noResume: string;
  /** The site takes a name as bytes (FTP: ./ftpNames.ts), so a name that is not UTF-8 is stored as it is. */
  namesAreBytes?: boolean;
}

/**
 * Why a site cannot store `path` (or a link's `target`): where site paths are UTF-8 text
 * (SFTP), a name whose bytes are not UTF-8 (src/core/names.ts) would be stored under another
 * name. Such a file fails, loudly, rather than arriving renamed.
 */
function notStorable(path: string, target: string | undefined, namesAreBytes: boolean): string | null {
  if (!namesAreBytes && hasEscapedBytes(path)) return 'name is not UTF-8: a site stores names as UTF-8 text and cannot keep it byte-exactly';
  if (target !== undefined && hasEscapedBytes(target)) return 'symlink target is not UTF-8: a site cannot keep it byte-exactly';
  return null;
}

export async function unpackToSite(tar: Readable, expect: Expected[], w: SiteWriter): Promise<UnpackResult> {
  const result: UnpackResult = { written: [], failed: [], bytes: 0 };
  // tar-stream reads a raw pax path that is not UTF-8 as UTF-8 (with U+FFFD): such an entry
  // is known by that form. A site that cannot store the name drains it; one that takes
  // bytes stores it under the exact name expected, unless two expected names read alike.
  /** Entries to drain, by the name the tar reader gives them (two refused names may read alike). */
  const refused = new Map<string, number>();
  const refuse = (read: string): void => {
    refused.set(read, (refused.get(read) ?? 0) + 1);
  };
  /** Escaped names by the form the tar reader gives them. */
  const byRead = new Map<string, Expected[]>();
  for (const e of expect) {
    if (!hasEscapedBytes(e.path)) continue;
    const read = encodeName(e.path).toString('utf8');
    byRead.set(read, [...(byRead.get(read) ?? []), e]);
  }
  /** Entries stored under the exact name they stand for: the one expected name that reads so. */
  const lossy = new Map<string, Expected>();
  for (const [read, es] of byRead) {
    for (const e of es) {
      const why = notStorable(e.path, undefined, w.namesAreBytes === true) ?? (es.length > 1 ? 'name is not UTF-8 and reads like another one in the tar stream: not stored' : null);
      if (why === null) lossy.set(read, e);
      else {
        refuse(read);
        result.failed.push({ path: e.path, error: why });
      }
    }
  }
  const stored = new Set(lossy.values());
  const want = new Map(expect.filter((e) => !hasEscapedBytes(e.path) || stored.has(e)).map((e) => [e.path, e]));
  // tar-stream loads only for uploads: a mirror that downloads never needs it. A stream
  // that fails meanwhile fails the unpack, as it would while being read.
  let early: Error | undefined;
  const onEarly = (err: Error): void => {
    early ??= err;
  };
  tar.on('error', onEarly);
  const { readTarEntries } = await import('./tarIn.js');
  tar.off('error', onEarly);
  if (early || (tar.destroyed && !tar.readableEnded)) throw early ?? new Error('tar stream closed before its end');
  await readTarEntries(tar, async (read) => {
    const drain = want.has(read.path) ? 0 : (refused.get(read.path) ?? 0);
    if (drain > 0) {
      refused.set(read.path, drain - 1);
      read.body.resume();
      return;
    }
    const exact = want.has(read.path) ? undefined : lossy.get(read.path);
    const entry = exact ? { ...read, path: exact.path } : read;
    const exp = want.get(entry.path);
    if (!exp) throw new Error(`tar entry not expected: ${entry.path}`);
    want.delete(entry.path);
    if (entry.offset > 0) {
      entry.body.resume();
      result.failed.push({ path: entry.path, error: w.noResume });
      return;
    }
    if (entry.size !== exp.size) {
      entry.body.resume();
      result.failed.push({ path: entry.path, error: `size changed: expected ${exp.size}, got ${entry.size}` });
      return;
    }
    const tmp = tempPathFor(exp);
    const h = createHash('sha256');
    let n = 0;
    const counted = entry.body.pipe(
      new Transform({
        transform(b: Buffer, _enc, cb) {
          h.update(b);
          n += b.length;
          cb(null, b);
        },
      }),
    );
    try {
      await w.store(tmp, counted, exp);
      const sum = h.digest('hex');
      const wantHash = exp.hash ?? entry.sha256;
      if (n !== exp.size || (wantHash !== undefined && wantHash !== sum)) {
        await w.discard(tmp);
        result.failed.push({ path: entry.path, error: n !== exp.size ? `short upload (${n} of ${exp.size} bytes)` : 'sha256 mismatch' });
        return;
      }
      await w.commit(tmp, exp);
      result.written.push(entry.path);
      result.bytes += n;
    } catch (err) {
      entry.body.resume();
      await w.discard(tmp);
      result.failed.push({ path: entry.path, error: (err as Error).message });
    }
  });
  for (const e of want.values()) result.failed.push({ path: e.path, error: 'not received' });
  return result;
}

/** The `put` op (a whole small file from memory) as a one-entry unpack, checked the same way. */
export async function putByUnpack(
  label: string,
  op: Extract<TreeOp, { op: 'put' }>,
  unpack: (tar: Readable, expect: Expected[]) => Promise<UnpackResult>,
): Promise<void> {
  const tar = siteTarStream([{ path: op.path }], {
    label,
    listed: () => ({ size: op.data.length, mode: op.file.mode, mtimeMs: op.file.mtimeMs }),
    open: async () => Readable.from([Buffer.from(op.data)]),
  });
  const r = await unpack(tar, [op.file]);
  if (r.failed.length > 0) throw new Error(r.failed[0]!.error);
}

/** A writable site's apply(): each op in turn, its path checked; a failure is that op's result and the rest go on. */
export async function applyEach(ops: TreeOp[], one: (op: TreeOp) => Promise<void>, o: { namesAreBytes?: boolean } = {}): Promise<OpResult[]> {
  const out: OpResult[] = [];
  for (const op of ops) {
    try {
      assertSafeRelPath(op.path);
      const why = notStorable(op.path, op.op === 'symlink' ? op.target : undefined, o.namesAreBytes === true);
      if (why !== null) throw new Error(why);
      await one(op);
      out.push({ path: op.path, ok: true });
    } catch (err) {
      out.push({ path: op.path, ok: false, error: (err as Error).message });
    }
  }
  return out;
}

/**
 * A `save` op's target (`saveDir/path`, mirror's save_deletes) checked, with every directory
 * above it made through `mkdir` (the writer's own op: it refuses what is not a directory).
 */
export async function saveTarget(op: { path: string; saveDir: string }, mkdir: (path: string) => Promise<void>): Promise<string> {
  const to = `${op.saveDir}/${op.path}`;
  assertSafeRelPath(to);
  const parts = parentOf(to).split('/');
  for (let i = 1; i <= parts.length; i++) await mkdir(parts.slice(0, i).join('/'));
  return to;
}
