// The daemon's fetches of changed large files as deltas (issue 12): when a peer's change
// record names a large file that this tree already holds an older version of, the receiver
// signs that old version (the basis), asks the sender for an instruction stream against
// it (peer.fetchDelta, over the link's `delta` capability) and rebuilds the new version in
// its staging directory, verified against the record's sha256. Whatever cannot go that
// way (no old version, a peer without the capability, a failed rebuild) is fetched whole,
// in the usual tar stream (src/daemon/contentStaging.ts). The algorithm and the rebuild
// are the ones of `omirr sync` (src/core/delta.ts, src/engine/localDelta.ts).
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StrongAlg } from '../core/delta.js';
import type { DeltaRequest, Expected } from '../core/tree.js';
import { DELTA_MIN } from '../engine/deltaCandidates.js';
import type { Logger } from '../log.js';
import type { Connection } from '../net/connection.js';
import { DELTA_CAP, deltaRequestToWire, sessionStrongAlgs, wireDeltaRequest } from '../net/deltaWire.js';

/** receiver -> sender: items are delta requests (path, size, signature, hash); the download stream is the instruction stream. */
export const PEER_FETCH_DELTA_OP = 'peer.fetchDelta';

/** Asks the sender of a tree for delta instruction streams; `strong`: the block hash its signatures may use. */
export type DeltaFetcher = ((tree: string, files: DeltaRequest[]) => Readable) & { strong?: StrongAlg };

/**
 * The delta fetcher over `ref`'s connection, or undefined when the peer did not negotiate
 * `delta` (an older build: its files come whole). `caps` is read at each fetch: a dialed
 * connection learns them after its handler was made.
 */
export function deltaFetcherOver(ref: () => Connection | undefined, caps: () => readonly string[] | undefined): () => DeltaFetcher | undefined {
  return () => {
    const have = caps();
    if (!have?.includes(DELTA_CAP)) return undefined;
    const fetch = (tree: string, files: DeltaRequest[]): Readable => {
      const conn = ref();
      if (!conn) throw new Error(`${PEER_FETCH_DELTA_OP}: the connection is not open yet`);
      const call = conn.call(PEER_FETCH_DELTA_OP, { tree }, files.map(deltaRequestToWire), { download: true });
      call.done.catch(() => undefined); // a failure destroys the download stream, which the rebuild reports
      if (!call.download) throw new Error(`${PEER_FETCH_DELTA_OP}: no download stream`);
      return call.download;
    };
    return Object.assign(fetch, { strong: sessionStrongAlgs(have)[0]! });
  };
}

/** The sender side: the request's items, checked (a malformed one is a ProtocolError: the connection ends). */
export function parseDeltaFetchItems(items: unknown[]): DeltaRequest[] {
  return items.map(wireDeltaRequest);
}

export interface DeltaStageOptions {
  tree: string;
  /** The tree's root (where the old versions are) and the staging directory (where the new ones go). */
  treeRoot: string;
  stageRoot: string;
  log: Logger;
  fetch: DeltaFetcher;
  /** Called with the instruction stream while it is received (so it can be broken off) and once it is over. */
  track: (s: Readable, on: boolean) => void;
}

export interface DeltaStaged {
  /** Files rebuilt into the staging directory, verified. */
  written: Set<string>;
  /** Bytes of the instruction stream received, of literal data in it, and copied from the old versions. */
  streamBytes: number;
  literal: number;
  copied: number;
  /** Bytes of the signatures sent. */
  signatureBytes: number;
}

/** Which of `expect` are worth a delta: large, and not being resumed from a partial file. */
export function deltaCandidates(expect: Expected[], offsets: Map<string, number>): Expected[] {
  return expect.filter((e) => e.size >= DELTA_MIN && e.hash !== undefined && !offsets.has(e.path));
}

/**
 * Rebuilds the candidates that have an old version here into the staging directory (which
 * must exist). A file that fails is left out of `written` and goes whole; an error of the
 * whole exchange (connection lost) is logged and everything goes whole.
 */
export async function stageDeltas(cands: Expected[], o: DeltaStageOptions): Promise<DeltaStaged> {
  const out: DeltaStaged = { written: new Set(), streamBytes: 0, literal: 0, copied: 0, signatureBytes: 0 };
  if (cands.length === 0) return out;
  // the delta engine (block sums, its wasm) loads at a daemon's first delta, not at its start
  const { LocalDelta } = await import('../engine/localDelta.js');
  const none = async (): Promise<void> => undefined;
  const basis = new LocalDelta(o.treeRoot, none, () => undefined, o.log);
  const sigs = await basis.signatures(cands.map((e) => e.path), o.fetch.strong ?? 'crc32');
  const files = cands.filter((e) => sigs.has(e.path));
  if (files.length === 0) return out;
  const reqs = files.map((e) => ({ path: e.path, size: e.size, sig: sigs.get(e.path)!, hash: e.hash! }));
  for (const r of reqs) out.signatureBytes += r.sig.weak.length * 4 + r.sig.strong.length;
  const rebuild = new LocalDelta(o.stageRoot, none, () => undefined, o.log, o.treeRoot);
  let stream: Readable | undefined;
  try {
    stream = o.fetch(o.tree, reqs);
    o.track(stream, true);
    const counted = new Transform({
      highWaterMark: 1 << 20,
      transform(c: Buffer, _enc, done) {
        out.streamBytes += c.length;
        done(null, c);
      },
    });
    pipeline(stream, counted).catch(() => undefined); // a broken stream ends the rebuild, which says so
    const r = await rebuild.unpack(counted, files);
    for (const p of r.written) out.written.add(p);
    out.literal = r.literal;
    out.copied = r.copied;
    for (const f of r.failed) o.log.info({ path: f.path, reason: f.error }, 'delta fetch failed; fetching the whole file');
  } catch (err) {
    o.log.warn({ err: (err as Error).message, files: files.length }, 'delta fetch failed; fetching the files whole');
  } finally {
    if (stream) o.track(stream, false);
  }
  if (out.written.size > 0) {
    const bytes = files.filter((f) => out.written.has(f.path)).reduce((n, f) => n + f.size, 0);
    o.log.info({ files: out.written.size, bytes, streamBytes: out.streamBytes, signatureBytes: out.signatureBytes, literal: out.literal, copied: out.copied }, 'fetched as deltas');
  }
  return out;
}
