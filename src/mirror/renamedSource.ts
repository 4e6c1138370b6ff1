// A site seen under other names: the source Tree the executor reads when the local names of
// a mirror package differ from the remote ones (name_mappings, compressed copies fetched
// under a staging name, files below a followed local symlink planned relative to its
// target). pack() asks the site for the remote names and renames the tar entries back to
// the names the executor asked for, so executePlan, the receiver's safe writes and their
// hash checks work unchanged. Read-only: nothing is ever written through this view.
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import type { Entry } from '../core/entry.js';
import type { Expected, OpResult, PackOptions, PackRequest, ScanOptions, Tree, TreeOp, UnpackResult } from '../core/tree.js';
import { END_OF_ARCHIVE, encodeFileHeader, padding } from '../workers/tarFormat.js';

export class RenamedSource implements Tree {
  readonly writable = false;
  readonly label: string;

  /** `remoteOf(name)`: the site's path for a name the executor uses. */
  constructor(
    private readonly inner: Tree,
    private readonly remoteOf: (name: string) => string,
  ) {
    this.label = inner.label;
  }

  async scan(_opts?: ScanOptions): Promise<Entry[]> {
    throw new Error('RenamedSource: scan the site itself (runMirror builds the local view)');
  }

  async hashFiles(paths: string[]): Promise<Map<string, string>> {
    const remote = await this.inner.hashFiles(paths.map(this.remoteOf));
    const out = new Map<string, string>();
    for (const p of paths) {
      const h = remote.get(this.remoteOf(p));
      if (h !== undefined) out.set(p, h);
    }
    return out;
  }

  pack(files: PackRequest[], opts: PackOptions = {}): Readable {
    // One remote file may be asked for under one name only (a local view maps each remote
    // path to one local path); the first name wins should it ever be asked twice.
    const back = new Map<string, string>();
    const reqs = files.map((f) => {
      const remote = this.remoteOf(f.path);
      if (!back.has(remote)) back.set(remote, f.path);
      return { ...f, path: remote };
    });
    return Readable.from(renamed(this.inner.pack(reqs, opts), back), { objectMode: false, highWaterMark: 1 << 20 });
  }

  async unpack(_tar: Readable, _expect: Expected[]): Promise<UnpackResult> {
    throw new Error(`${this.label}: read-only`);
  }

  async resumeOffsets(): Promise<Map<string, number>> {
    return new Map();
  }

  async apply(ops: TreeOp[]): Promise<OpResult[]> {
    return ops.map((o) => ({ path: o.path, ok: false, error: `${this.label}: read-only` }));
  }

  async close(): Promise<void> {
    // the site is closed by its owner
  }
}

/** The entries of `tar` with their names mapped through `back`, pax keys (offset, sha256) kept. */
async function* renamed(tar: Readable, back: Map<string, string>): AsyncGenerator<Buffer> {
  const ex = extract();
  tar.on('error', (err) => ex.destroy(err));
  tar.pipe(ex);
  try {
    for await (const entry of ex) {
      const h = entry.header as typeof entry.header & { pax?: Record<string, string> };
      const name = back.get(h.name);
      if (h.type !== 'file' || name === undefined) throw new Error(`tar entry ${JSON.stringify(h.name)}: not a requested file`);
      const extra: Record<string, string> = {};
      for (const [k, v] of Object.entries(h.pax ?? {})) if (k.startsWith('omirr.')) extra[k] = v;
      const size = h.size ?? 0;
      yield encodeFileHeader(name, size, h.mode ?? 0o644, (h.mtime ?? new Date()).getTime(), extra);
      let n = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        n += chunk.length;
        yield chunk;
      }
      if (n !== size) throw new Error(`tar entry ${name}: ${n} of ${size} bytes`);
      const pad = padding(size);
      if (pad > 0) yield Buffer.alloc(pad);
    }
  } finally {
    tar.unpipe(ex);
    if (!tar.readableEnded) tar.destroy();
  }
  yield END_OF_ARCHIVE;
}
