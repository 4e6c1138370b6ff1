// A writable site's unpack(): the engine's tar stream stored file by file on the site, each
// under a temporary name in its target directory (tempPathFor), its size and sha256 checked
// while it streams, and only then moved into place; a file that fails leaves no temporary
// behind and the rest go on. The driver says how bytes are stored, moved and discarded.
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import type { Expected, OpResult, TreeOp, UnpackResult } from '../core/tree.js';
import { assertSafeRelPath, tempPathFor } from '../engine/paths.js';
import { siteTarStream } from './siteTar.js';
import { readTarEntries } from './tarIn.js';

export interface SiteWriter {
  /** Store `body` as the site's file `tmp` (a relative path); resolves once the site has it all. */
  store(tmp: string, body: Readable, exp: Expected): Promise<void>;
  /** Move the verified `tmp` into place at `exp.path`, with exp's mode (and time, where the site can). */
  commit(tmp: string, exp: Expected): Promise<void>;
  /** Remove `tmp` after a failure (errors ignored). */
  discard(tmp: string): Promise<void>;
  /** Why an entry that resumes a partial file is refused, when the site cannot resume. */
  noResume: string;
}

export async function unpackToSite(tar: Readable, expect: Expected[], w: SiteWriter): Promise<UnpackResult> {
  const want = new Map(expect.map((e) => [e.path, e]));
  const result: UnpackResult = { written: [], failed: [], bytes: 0 };
  await readTarEntries(tar, async (entry) => {
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
export async function applyEach(ops: TreeOp[], one: (op: TreeOp) => Promise<void>): Promise<OpResult[]> {
  const out: OpResult[] = [];
  for (const op of ops) {
    try {
      assertSafeRelPath(op.path);
      await one(op);
      out.push({ path: op.path, ok: true });
    } catch (err) {
      out.push({ path: op.path, ok: false, error: (err as Error).message });
    }
  }
  return out;
}
