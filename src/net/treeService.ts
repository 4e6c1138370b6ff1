// The server side of the tree requests: each connection gets its own handler, which opens
// the trees the peer may see and forwards every Tree method to a local tree. Every argument
// is shape-checked here (validate.ts) before the local tree sees it; the local tree checks
// again where the file system is touched (tar headers, symlinks: src/engine/paths.ts).
import { lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ScanOptions, ScanSkip, Tree } from '../core/tree.js';
import { capScanSkips } from './validate.js';
import { wireStrongAlg } from './strongAlgWire.js';
import type { Logger } from '../log.js';
// (not engine/paths.js, which re-exports the temporary's name with node:crypto)
import { assertRealDirChain, fsPath } from '../workers/paths.js';
import { mark, phase } from '../engine/timing.js';
import { RemoteError, type HandlerResult, type IncomingRequest, type RequestHandler } from './connection.js';
import { ProtocolError } from './frames.js';
import { encodeListing } from './listingWire.js';
import {
  tarBound,
  wireExpected,
  wireHandle,
  wireOp,
  wireOptBool,
  wireOptByteCount,
  wireOptFileCount,
  wireRootAttrs,
  wirePackRequest,
  wirePath,
  wireScanOptions,
  wireSubPath,
} from './validate.js';

/**
 * The delta calls' wire forms and checks, loaded by a peer's first delta call: with the delta
 * core (its WebAssembly, node:zlib) and the content hashes they were ~10 % of `serve
 * --stdio`'s modules, loaded before its first reply, and a no-op makes no delta call.
 */
let deltaWireModule: Promise<typeof import('./deltaWire.js')> | undefined;
const deltaWire = (): Promise<typeof import('./deltaWire.js')> => (deltaWireModule ??= import('./deltaWire.js'));

/** One exported directory. */
export interface ExportedTree {
  name: string;
  path: string;
  /** Exported read-write (default: read-only). */
  writable: boolean;
  /** Peer names that may open it; empty or undefined: any authenticated peer. */
  peers?: string[];
}

export interface LocalTreeOptions {
  writable: boolean;
  create?: boolean;
  log?: Logger;
}

/** Makes the local tree behind an export (default: the engine's LocalTree). */
/** `serve.likeDigest`: the peer sends its listing's digest with its scan (capability listing-same-any): a tree that lists early takes its own too. */
export type OpenLocalTree = (root: string, opts: LocalTreeOptions, serve?: { likeDigest?: boolean }) => Tree | Promise<Tree>;

export const defaultOpenLocal: OpenLocalTree = async (root, opts) => {
  const [{ LocalTree }, { warmPools }] = await Promise.all([import('../engine/localTree.js'), import('../workers/pool.js')]);
  // Threads retire after a few idle seconds: start them now (a writer receives a tar stream
  // too), so their start-up overlaps with the peer's scan and plan instead of delaying the
  // first batch or the first file.
  warmPools(opts.writable ? ['io', 'extract'] : ['io']);
  return new LocalTree(root, opts);
};

const MAX_OPEN_TREES = 16;
/** Failed files of one unpack logged one by one; the rest as a count. */
const MAX_LOGGED_FAILURES = 50;

export interface TreeServiceOptions {
  trees: ExportedTree[];
  /** The authenticated peer's name (for per-tree access lists). */
  peer: string;
  openLocal?: OpenLocalTree;
  log: Logger;
  /** The peer negotiated listing-same-any (openLocal's `serve.likeDigest`). */
  likeDigest?: boolean;
}

export interface TreeService {
  handler: RequestHandler;
  /** Close every tree this connection opened. */
  closeAll(): Promise<void>;
}

/** scan's `like`: 64 lowercase hex digits, only with a binary listing; anything else closes the connection. */
function wireLikeDigest(v: unknown, binary: boolean): string | undefined {
  if (v === undefined) return undefined;
  if (!binary || typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) throw new ProtocolError('scan: like is a sha256 in hex, with listing "bin"');
  return v;
}

/** Scan options that ask for the whole tree as a plain scan() lists it (no hashes, no subtree, recursive). */
const wholeTree = (o: ScanOptions): boolean => !o.withHashes && !o.subtree && o.recursive !== false;

function notFound(name: string): RemoteError {
  // The same answer for "absent" and "not yours": a peer learns no tree names it may not use.
  return new RemoteError('not-found', `no tree ${JSON.stringify(name)} for you here`);
}

/** root/sub as a real directory below root, reached through no symlink; created on request. */
function resolveSub(root: string, sub: string, create: boolean): string {
  const realRoot = realpathSync(root);
  if (sub === '') return realRoot;
  try {
    assertRealDirChain(realRoot, sub, new Set(), create);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new RemoteError('not-found', `no directory ${sub} in the tree`);
    throw new RemoteError('bad-path', (err as Error).message);
  }
  const abs = `${realRoot}/${sub}`;
  if (!lstatSync(fsPath(abs)).isDirectory()) throw new RemoteError('bad-path', `${sub} is not a directory`);
  return abs;
}

export function createTreeService(opts: TreeServiceOptions): TreeService {
  const open = new Map<number, { tree: Tree; writable: boolean }>();
  let nextHandle = 1;
  const openLocal = opts.openLocal ?? defaultOpenLocal;

  const get = (h: unknown): { tree: Tree; writable: boolean } => {
    const t = open.get(wireHandle(h));
    if (!t) throw new ProtocolError(`unknown tree handle ${String(h)}`);
    return t;
  };
  const mustWrite = (t: { writable: boolean }): void => {
    if (!t.writable) throw new RemoteError('read-only', 'this tree is exported read-only');
  };
  const deltaOf = (t: { tree: Tree }): NonNullable<Tree['delta']> => {
    if (!t.tree.delta) throw new RemoteError('error', 'this tree does not do delta transfers');
    return t.tree.delta;
  };

  /**
   * The unpacks of each open tree still running: an `apply` with `after` (capability
   * `apply-after`) waits for those that came before it, so a client sends the directories'
   * attributes right behind its stream instead of a round trip after the unpack's answer.
   */
  const unpacking = new Map<{ tree: Tree }, Set<Promise<unknown>>>();

  /** The io thread a `prepare` started: awaited before the first task (else the pool starts a second one for it). */
  let warming: Promise<unknown> | undefined;
  const whenWarm = async (): Promise<void> => {
    if (warming) await warming.catch(() => undefined);
  };

  /** `unpack`'s work: the stream written into the tree (an error that is not the peer's ends its connection). */
  const unpackInto = async (t: { tree: Tree; writable: boolean }, { items, upload }: IncomingRequest): Promise<HandlerResult> => {
    if (!upload) throw new ProtocolError('unpack needs an upload stream');
    mustWrite(t);
    const expect = items.map(wireExpected);
    upload.maxBytes = tarBound(expect);
    await whenWarm();
    const endUnpack = phase('serve unpack');
    try {
      const result = await t.tree.unpack(upload, expect);
      endUnpack();
      // the receiving end says what it could not write too (disk full: which files)
      for (const f of result.failed.slice(0, MAX_LOGGED_FAILURES)) opts.log.warn({ path: f.path }, `not written: ${f.error}`);
      if (result.failed.length > MAX_LOGGED_FAILURES) opts.log.warn({ more: result.failed.length - MAX_LOGGED_FAILURES }, 'more files not written');
      return { result };
    } catch (err) {
      // A stream the receiver refused (unsafe header, unexpected entry, too many bytes) is
      // hostile or broken input: the peer's connection ends here.
      if (err instanceof RemoteError) throw err;
      throw new ProtocolError(`unpack refused: ${(err as Error).message}`);
    }
  };

  const ops: Record<string, (req: IncomingRequest) => Promise<HandlerResult>> = {
    async open({ args }) {
      const name = args.tree;
      if (typeof name !== 'string' || name.length > 255) throw new ProtocolError('open: tree name must be a string');
      const sub = wireSubPath(args.sub);
      const wantWrite = args.write === true;
      const create = args.create === true;
      const exp = opts.trees.find((t) => t.name === name);
      if (!exp || (exp.peers && exp.peers.length > 0 && !exp.peers.includes(opts.peer))) throw notFound(name);
      if (wantWrite && !exp.writable) throw new RemoteError('read-only', `tree ${name} is exported read-only`);
      if (open.size >= MAX_OPEN_TREES) throw new RemoteError('limit', 'too many open trees on this connection');
      let root: string;
      try {
        // A missing export root is created only for a writer that asked (ssh push to a new dir).
        if (sub === '' && create && wantWrite) mkdirSync(exp.path, { recursive: true });
        root = resolveSub(exp.path, sub, create && wantWrite);
      } catch (err) {
        if (err instanceof RemoteError) throw err;
        throw new RemoteError('not-found', `tree ${name}: ${(err as Error).message}`);
      }
      mark('serve open');
      const tree = await openLocal(root, { writable: wantWrite, log: opts.log.child({ tree: name }) }, opts.likeDigest ? { likeDigest: true } : undefined);
      const handle = nextHandle++;
      open.set(handle, { tree, writable: wantWrite });
      opts.log.info({ tree: name, sub, write: wantWrite }, 'tree opened');
      // the root's own attributes (capability root-attrs; an older client ignores the field)
      const rootAttrs = await tree.rootAttrs?.();
      // the peer's scan request comes a round trip after this answer (ssh://: it names the
      // handle): the early listing's digest is taken in that wait, not after the request
      if (tree.warmListingDigest) setImmediate(() => tree.warmListingDigest!());
      return { result: { handle, writable: wantWrite, label: sub ? `${name}/${sub}` : name, ...(rootAttrs ? { root: rootAttrs } : {}) } };
    },

    async scan({ args, download }) {
      // `listing: "bin"` (capability listing-bin): the entries go back as a binary listing on
      // the download stream (listingWire.ts) instead of JSON items
      const binary = args.listing !== undefined || download !== undefined;
      if (binary && (args.listing !== 'bin' || !download)) throw new ProtocolError('scan: a download stream goes with listing "bin", and only with it');
      // what the scan left out goes back with it: the client reports (and fails on) it too
      const skipped: ScanSkip[] = [];
      const onSkipped = (s: ScanSkip): void => void skipped.push(s);
      const tree = get(args.h).tree;
      const scanOpts = wireScanOptions(args.opts);
      // (a listing sent as it is walked: `serve scan` ends at its first block, `serve listing`
      // holds the rest of the walk and the send)
      const endScan = phase('serve scan');
      // the whole tree, listed by a thread that already encoded it (serve --stdio's early
      // scan): sent as it is, no entry made on this thread
      // `like` (capability listing-same): the sha256 of the peer's own listing's like form
      const like = wireLikeDigest(args.like, binary);
      const blocks = binary && wholeTree(scanOpts) && tree.scanListing ? await tree.scanListing({ onSkipped, ...(like ? { like } : {}) }) : undefined;
      const entries = blocks ? [] : await tree.scan({ ...scanOpts, onSkipped });
      endScan();
      // (what a listing sent as it is walked left out is known at its end: after the send)
      const result = (): { result?: { skipped: unknown } } => (skipped.length > 0 ? { result: { skipped: capScanSkips(skipped) } } : {});
      if (blocks === 'same') {
        // the peer's listing stands for this one: `same`, and the download ends empty
        mark('serve listing the same');
        return { result: { same: true, ...(skipped.length > 0 ? { skipped: capScanSkips(skipped) } : {}) } };
      }
      if (binary) {
        const endSend = phase('serve listing');
        await pipeline(Readable.from(blocks ?? encodeListing(entries), { objectMode: false }), download!);
        endSend();
        return result();
      }
      return { items: entries, ...result() };
    },

    async rootAttrs({ args }) {
      // the destination root's mode and mtime, the last step of a sync (src/engine/rootAttrs.ts)
      const t = get(args.h);
      mustWrite(t);
      if (!t.tree.setRootAttrs) throw new RemoteError('error', 'this tree cannot set its root\'s attributes');
      await t.tree.setRootAttrs(wireRootAttrs(args, true));
      return {};
    },

    async prepare({ args }) {
      // a transfer of this tree follows: its first io thread (a pack, or a small unpack, and
      // the attributes after it run there) boots now, while the peer plans, instead of when
      // the first batch comes. `serve --stdio` has no pool up (its scan ran in a plain thread).
      // The thread loads the tar tasks first (`tarWarm`): the small unpack or the pack that
      // follows would load them on the transfer's critical path.
      const t = get(args.h);
      // the tree's own transfer modules (LocalTree: the pack runners and the tar format, not
      // loaded by a no-op's `open`) load now too, not when the first batch is packed or unpacked
      t.tree.prepareTransfer?.();
      // `receive`: a push of at least this many files follows (a first copy): a tree that
      // writes it in an extract thread boots that now too (Tree.prepareReceive); ignored on
      // a read-only tree, whose `unpack` is refused anyway
      const receive = wireOptFileCount(args.receive, 'prepare: receive');
      if (receive !== undefined && t.writable) t.tree.prepareReceive?.(receive);
      // `delta`: changed large files follow as deltas, old versions of this many bytes: the
      // io threads that sign them and the extract thread that rebuilds them boot now, with
      // the delta tasks loaded (Tree.prepareDelta); before the io thread warmed below, which
      // they then stand for. Ignored on a read-only tree, as `receive`.
      const delta = wireOptByteCount(args.delta, 'prepare: delta');
      if (delta !== undefined && delta > 0 && t.writable && t.tree.delta) {
        t.tree.delta.warmToReceive?.(delta);
        // and the delta wire's module, which the signatures' answer needs
        void deltaWire().catch(() => undefined);
      }
      if (!warming) {
        mark('serve prepare');
        warming = import('../workers/pool.js').then((m) => {
          m.warmPools(['io'], 1, 'tarWarm');
          return m.warmed('io').then(() => mark('serve prepared'));
        });
        warming.catch(() => undefined);
      }
      return {};
    },

    async hashFiles({ args, items }) {
      const paths = items.map((p) => wirePath(p));
      const hashes = await get(args.h).tree.hashFiles(paths);
      return { items: [...hashes] };
    },

    async pack({ args, items, download }) {
      if (!download) throw new ProtocolError('pack needs a download stream');
      const files = items.map(wirePackRequest);
      const verify = wireOptBool(args.verify, 'verify') === true;
      // `blake3` (capability tar-blake3): large files verified with BLAKE3; the tree decides
      const blake3 = verify && wireOptBool(args.blake3, 'blake3') === true;
      // `hashInHeader` (capability tar-hash-ustar): a plain entry's hash in its ustar header
      const hashInHeader = verify && wireOptBool(args.hashInHeader, 'hashInHeader') === true;
      await whenWarm();
      await pipeline(get(args.h).tree.pack(files, { verify, ...(blake3 ? { blake3 } : {}), ...(hashInHeader ? { hashInHeader } : {}) }), download);
      return {};
    },

    async unpack(req) {
      const t = get(req.args.h);
      // known before any await: an `apply` with `after` read after this request waits for it
      const running = unpackInto(t, req);
      const set = unpacking.get(t) ?? new Set();
      unpacking.set(t, set.add(running));
      try {
        return await running;
      } finally {
        set.delete(running);
        if (set.size === 0 && unpacking.get(t) === set) unpacking.delete(t);
      }
    },

    // Delta transfers (capability `delta`, src/net/deltaWire.ts)
    async signatures({ args, items }) {
      const t = get(args.h);
      // `strong`: only from a peer that was offered delta-lanes32 (older ones never send it).
      // The signing starts as the request is read; the wire module (loaded by the first
      // delta call) loads meanwhile.
      const [sigs, { signatureToWire }] = await Promise.all([deltaOf(t).signatures(items.map((p) => wirePath(p)), wireStrongAlg(args.strong)), deltaWire()]);
      return { items: [...sigs].map(([p, sig]) => [p, signatureToWire(sig)]) };
    },

    async deltaHashes({ args, items }) {
      const t = get(args.h);
      const { wireDeltaHash } = await deltaWire();
      // only a peer that was offered hash-blake3 asks (older ones never send this op)
      const hashes = await deltaOf(t).wholeHashes(items.map((p) => wirePath(p)), wireDeltaHash(args.hash));
      return { items: [...hashes] };
    },

    async packDelta({ args, items, download }) {
      if (!download) throw new ProtocolError('packDelta needs a download stream');
      const t = get(args.h);
      const { wireDeltaHash, wireDeltaRequest } = await deltaWire();
      await pipeline(deltaOf(t).pack(items.map(wireDeltaRequest), { hash: wireDeltaHash(args.hash) }), download);
      return {};
    },

    async unpackDelta({ args, items, upload }) {
      if (!upload) throw new ProtocolError('unpackDelta needs an upload stream');
      const t = get(args.h);
      mustWrite(t);
      const expect = items.map(wireExpected);
      upload.maxBytes = (await deltaWire()).deltaBound(expect);
      // bytes that came while the module loaded (at most the stream's window) are held to the bound too
      if (upload.received > upload.maxBytes) throw new ProtocolError(`stream ${upload.id}: more than ${upload.maxBytes} bytes`);
      try {
        return { result: await deltaOf(t).unpack(upload, expect) };
      } catch (err) {
        // a malformed instruction stream is hostile or broken input: the connection ends
        if (err instanceof RemoteError) throw err;
        throw new ProtocolError(`unpackDelta refused: ${(err as Error).message}`);
      }
    },

    async resumeOffsets({ args, items }) {
      const t = get(args.h);
      mustWrite(t);
      const offsets = await t.tree.resumeOffsets(items.map(wireExpected));
      return { items: [...offsets] };
    },

    async apply({ args, items }) {
      const t = get(args.h);
      mustWrite(t);
      const ops = items.map(wireOp);
      if (wireOptBool(args.after, 'after') === true) {
        // after the unpacks of this tree read before it (their renames moved the directories'
        // mtimes), and only when they all went through: a stream refused or cut short leaves
        // the directories as they are, as a client that waited for its answer would
        const before = [...(unpacking.get(t) ?? [])];
        const settled = await Promise.allSettled(before);
        if (settled.some((r) => r.status === 'rejected')) throw new RemoteError('error', 'apply after an unpack that failed: not applied');
      }
      await whenWarm();
      const results = await t.tree.apply(ops);
      return { items: results };
    },

    async close({ args }) {
      const h = wireHandle(args.h);
      const t = open.get(h);
      open.delete(h);
      await t?.tree.close();
      return {};
    },
  };

  return {
    handler: async (req) => {
      const op = Object.hasOwn(ops, req.op) ? ops[req.op] : undefined;
      if (!op) throw new ProtocolError(`unknown request ${JSON.stringify(req.op).slice(0, 40)}`);
      return op(req);
    },
    async closeAll() {
      const trees = [...open.values()];
      open.clear();
      await Promise.allSettled(trees.map((t) => t.tree.close()));
    },
  };
}
