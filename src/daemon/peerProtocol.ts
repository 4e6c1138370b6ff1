// The daemon's change-push messages, on top of an authenticated omirr connection
// (src/net/connection.ts; documented in docs/protocol.md, "Peer changes"):
//
//   peer.changes  sender -> receiver   items: change records from the sender's outbox, in order,
//                                      small files with their content inline (`data`);
//                                      answer {ackedSeq, files, bytes} once every record was
//                                      applied (or found old) and relayed durably.
//   peer.fetch    receiver -> sender   items: {path, hash, offset?} of files whose content the
//                                      receiver needs; the bytes come back as one tar stream on
//                                      the request's download stream (the sender's LocalTree.pack).
//   peer.fetchDelta receiver -> sender items: {path, size, sig, hash} of changed large files the
//                                      receiver has an old version of (capability `delta`); the
//                                      download stream is a delta instruction stream
//                                      (src/daemon/deltaFetch.ts).
//
// The fetch goes back over the same connection the changes came on, so the receiver never
// needs to reach the sender by itself: a chain A-B-C works with one connection per link.
// Every field is checked here before the replica sees it; a malformed record is a
// ProtocolError, which closes that connection and nothing else.
import type { Readable } from 'node:stream';
import type { Entry } from '../core/entry.js';
import type { DeltaRequest, PackRequest } from '../core/tree.js';
import type { IndexRecord } from '../core/treeIndex.js';
import { isVersion, type Version } from '../core/version.js';
import type { WireChange } from '../core/wireChange.js';
import { PEER_CHANGES_OP } from '../actors/peerSession.js';
import type { OutboxRecord } from '../actors/outbox.js';
import type { Connection, HandlerResult, IncomingRequest, RequestHandler } from '../net/connection.js';
import { RemoteError } from '../net/connection.js';
import { ProtocolError } from '../net/frames.js';
import { wireEntry, wirePath } from '../net/validate.js';
import { parseInlineData } from './inlineContent.js';
import { deltaFetcherOver, parseDeltaFetchItems, PEER_FETCH_DELTA_OP, type DeltaFetcher } from './deltaFetch.js';

export { PEER_CHANGES_OP };
export const PEER_FETCH_OP = 'peer.fetch';

/** One change as it travels: a record of one tree, and where it moved from (a paired rename). */
export type { WireChange } from '../core/wireChange.js';

/** What the receiver of a batch reports back (peer.changes' answer). */
export interface ChangesResult {
  ackedSeq: number;
  files: number;
  bytes: number;
}

/** The record as sent: no inode (meaningless elsewhere), owner only when owners are mirrored. */
export function toWireRecord(rec: IndexRecord, owner: boolean): IndexRecord {
  const { ino: _ino, uid, gid, ...rest } = rec.entry;
  const entry: Entry = owner ? { ...rest, ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}) } : rest;
  return rec.deleted ? { entry, version: rec.version, deleted: { atMs: rec.deleted.atMs } } : { entry, version: rec.version };
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`${what}: expected an object`);
  return v as Record<string, unknown>;
}

const TREE_NAME_RE = /^[A-Za-z0-9_][\w.-]{0,63}$/;

/** A change record from the network, fully checked (ProtocolError otherwise). */
export function parseWireChange(v: unknown): WireChange {
  const o = obj(v, 'change');
  if (typeof o.tree !== 'string' || !TREE_NAME_RE.test(o.tree)) throw new ProtocolError('change: bad tree name');
  const r = obj(o.rec, 'change record');
  const entry = wireEntry(r.entry);
  delete entry.ino;
  if (entry.kind === 'file' && entry.hash === undefined && r.deleted === undefined) throw new ProtocolError(`change ${entry.path}: a file without its hash`);
  if (!isVersion(r.version) || Object.keys(r.version).length === 0 || Object.keys(r.version).length > 4096) {
    throw new ProtocolError(`change ${entry.path}: bad version`);
  }
  const rec: IndexRecord = { entry, version: r.version as Version };
  if (r.deleted !== undefined) {
    const d = obj(r.deleted, 'deleted');
    if (typeof d.atMs !== 'number' || !Number.isSafeInteger(d.atMs)) throw new ProtocolError('deleted.atMs: expected ms');
    rec.deleted = { atMs: d.atMs };
  }
  const out: WireChange = { tree: o.tree, rec };
  if (o.movedFrom !== undefined) out.movedFrom = wirePath(o.movedFrom, 'movedFrom');
  return out;
}

/** A file the receiver wants from the sender. */
export interface FetchItem {
  path: string;
  offset?: number;
}

function parseFetchItem(v: unknown): FetchItem {
  const o = obj(v, 'fetch item');
  const path = wirePath(o.path);
  if (o.offset === undefined || o.offset === null) return { path };
  if (typeof o.offset !== 'number' || !Number.isSafeInteger(o.offset) || o.offset < 0) throw new ProtocolError('fetch offset: expected bytes');
  return { path, offset: o.offset };
}

/** A connection, or how to get it once it exists (a handler given to connectPeer before it returns). */
export type ConnectionRef = Connection | (() => Connection | undefined);

/**
 * Fetches content from the peer at the other end of `conn`: a tar stream of the files asked
 * for; and, when the link negotiated `delta` (`caps`, the session's capabilities), changed
 * large files as deltas.
 */
export function fetchOverConnection(ref: ConnectionRef, caps?: () => readonly string[] | undefined): ContentFetcher {
  const connOf = (): Connection | undefined => (typeof ref === 'function' ? ref() : ref);
  const fetch: ContentFetcher = (tree, files) => {
    const conn = connOf();
    if (!conn) throw new Error('peer.fetch: the connection is not open yet');
    const call = conn.call(PEER_FETCH_OP, { tree }, files, { download: true });
    call.done.catch(() => undefined); // a failure destroys the download stream, which unpack reports
    if (!call.download) throw new Error('peer.fetch: no download stream');
    return call.download;
  };
  if (caps) fetch.delta = deltaFetcherOver(connOf, caps);
  return fetch;
}

export type ContentFetcher = ((tree: string, files: PackRequest[]) => Readable) & {
  /** Delta fetches from this peer, when its link has the `delta` capability (src/daemon/deltaFetch.ts). */
  delta?: () => DeltaFetcher | undefined;
};

/** What the handler needs from the daemon: the replicas a given peer shares with us. */
export interface PeerEndpoint {
  /** The tree `name` if it is mirrored with `peer`, else undefined (answered as not-found). */
  replica(name: string, peer: string): ReplicaPort | undefined;
}

/** The part of a TreeReplica the protocol uses. */
export interface ReplicaPort {
  applyRemote(peer: string, changes: WireChange[], fetch: ContentFetcher): Promise<{ files: number; bytes: number }>;
  pack(files: PackRequest[]): Readable;
  /** The delta instruction streams of changed files against the requester's old versions. */
  packDelta(files: DeltaRequest[]): Readable;
}

/**
 * The handler for the peer.* requests of one authenticated connection with `peer`.
 * `fallback` answers everything else (the tree requests of `omirr sync omirr://...`).
 */
export function peerRequestHandler(peer: string, conn: ConnectionRef, endpoint: PeerEndpoint, fallback?: RequestHandler, caps?: () => readonly string[] | undefined): RequestHandler {
  const fetch = fetchOverConnection(conn, caps);
  return async (req: IncomingRequest): Promise<HandlerResult> => {
    if (req.op === PEER_CHANGES_OP) {
      const last = req.args.last;
      if (typeof last !== 'number' || !Number.isSafeInteger(last) || last < 0) throw new ProtocolError('peer.changes: bad last');
      const changes = req.items.map((it) => {
        const o = it as Partial<OutboxRecord<unknown>> & { data?: unknown };
        const c = parseWireChange(o?.change ?? it);
        const data = parseInlineData(o?.data, c);
        if (data) c.data = data;
        return c;
      });
      // one batch may hold several trees: each goes to its replica, in order
      const byTree = new Map<string, WireChange[]>();
      for (const c of changes) {
        let l = byTree.get(c.tree);
        if (!l) byTree.set(c.tree, (l = []));
        l.push(c);
      }
      let files = 0;
      let bytes = 0;
      for (const [tree, list] of byTree) {
        const r = endpoint.replica(tree, peer);
        // a tree we do not share with this peer: acknowledged and dropped (a config
        // mismatch must not wedge the sender's outbox forever); logged by the replica lookup
        if (!r) continue;
        const res = await r.applyRemote(peer, list, fetch);
        files += res.files;
        bytes += res.bytes;
      }
      const result: ChangesResult = { ackedSeq: last, files, bytes };
      return { result };
    }
    if (req.op === PEER_FETCH_OP) {
      if (!req.download) throw new ProtocolError('peer.fetch needs a download stream');
      const tree = req.args.tree;
      if (typeof tree !== 'string') throw new ProtocolError('peer.fetch: bad tree');
      const r = endpoint.replica(tree, peer);
      if (!r) throw new RemoteError('not-found', `no tree ${JSON.stringify(tree)} for you here`);
      const files = req.items.map(parseFetchItem);
      const { pipeline } = await import('node:stream/promises');
      await pipeline(r.pack(files), req.download);
      return {};
    }
    if (req.op === PEER_FETCH_DELTA_OP) {
      if (!req.download) throw new ProtocolError(`${PEER_FETCH_DELTA_OP} needs a download stream`);
      const tree = req.args.tree;
      if (typeof tree !== 'string') throw new ProtocolError(`${PEER_FETCH_DELTA_OP}: bad tree`);
      const files = parseDeltaFetchItems(req.items);
      const r = endpoint.replica(tree, peer);
      if (!r) throw new RemoteError('not-found', `no tree ${JSON.stringify(tree)} for you here`);
      const { pipeline } = await import('node:stream/promises');
      await pipeline(r.packDelta(files), req.download);
      return {};
    }
    if (fallback) return fallback(req);
    throw new ProtocolError(`unknown request ${JSON.stringify(req.op).slice(0, 40)}`);
  };
}
