// A Tree on the other end of a protocol connection (omirr:// over TLS, or ssh stdio): every
// method is one request (docs/protocol.md). What comes back is checked like any network
// input, so a hostile server cannot hand the planner an unsafe path.
import type { Readable } from 'node:stream';
import type { Entry } from '../core/entry.js';
import type { DeltaEndpoint, Expected, FirstDifference, LikeListing, OpResult, PackOptions, PackRequest, RootAttrs, RootAttrsChange, ScanOptions, Tree, TreeOp, UnpackResult } from '../core/tree.js';
import { RESUMABLE_MIN } from '../workers/paths.js';
import { mark, phase } from '../engine/timing.js';
import type { Connection, Response } from './connection.js';
import { downloadOf, wireUnpackResult } from './callResults.js';
import { DELTA_CAP, RemoteDelta } from './deltaWire.js';
import { ProtocolError } from './frames.js';
import { blake3Available, TAR_BLAKE3_CAP } from '../workers/contentHash.js';
import { LISTING_CAP, LISTING_SAME_ANY_CAP, LISTING_SAME_CAP, ListingDecoder } from './listingWire.js';
import { walkWhenTakenNow } from '../engine/localScan.js';
import { latestDigestAhead } from '../workers/likeDigest.js';
import { wireEntry, wireHash, wireRootAttrs, wireOffset, wireOpResult, wireScanSkips, wireStringPair } from './validate.js';

/** The capability of the `prepare` request (docs/protocol.md). */
export const PREPARE_CAP = 'prepare';
/** The capability: the root's own attributes come with `open` and are set with `rootAttrs` (src/engine/rootAttrs.ts). */
export const ROOT_ATTRS_CAP = 'root-attrs';
/** The capability: an `apply` with `after` waits for the unpacks before it (Tree.applyAfterUnpack). */
export const APPLY_AFTER_CAP = 'apply-after';
/**
 * The peer reads a regular file's hash from its ustar header's linkname field
 * (`omirr.sha256=<64 hex>` or `omirr.blake3=<64 hex>`, 77 of its 100 bytes), which a regular
 * file leaves empty in any tar. A verifying stream's common entry is then one 512-byte block
 * instead of three (no pax header and its data block): 1 KiB less per file for ssh or TLS to
 * encrypt and the far side to read, ~10 % of the small tree's stream (docs/performance.md,
 * "ssh:// first copy"). Still valid tar; a peer without it is sent the pax form.
 */
export const TAR_HASH_USTAR_CAP = 'tar-hash-ustar';

/** A scan's answer `same: true` (capability listing-same); any other value of `same` is refused. */
function isSame(result: unknown): boolean {
  const same = result !== null && typeof result === 'object' ? (result as { same?: unknown }).same : undefined;
  if (same !== undefined && same !== true) throw new ProtocolError('scan result: same must be true');
  return same === true;
}

export interface OpenTreeRequest {
  tree: string;
  sub?: string;
  write?: boolean;
  create?: boolean;
}

/** The `open` request's arguments. */
export function openArgs(req: OpenTreeRequest): Record<string, unknown> {
  return { tree: req.tree, sub: req.sub ?? '', write: req.write === true, create: req.create === true };
}

/**
 * A remote listing's pieces that arrived before the local entries it is compared with are
 * held up to this many bytes (~45,000 entries), then decoded without them: a longer wait
 * would leave a big listing's decoding until after a long local walk.
 */
const HOLD_FOR_LOCAL_BYTES = 1 << 20;

/**
 * A remote end's connection died in the middle of the work (the far omirr or ssh killed, the
 * network dropped): names the end (its URL), what was seen and, over ssh, ssh's exit status
 * and last stderr lines. The CLI exits 3, as for a peer it could not reach (docs/cli.md).
 */
export class ConnectionLostError extends Error {
  override name = 'ConnectionLostError';
  constructor(
    readonly url: string,
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The first of `trees` whose connection died while it was open, as the error to report:
 * "URL: connection lost (what was seen); ssh exited with code 255: ...; HOW FAR", `howFar`
 * saying how far the work had got (`omirr sync` counts files sent, `omirr mirror` files
 * got). Undefined when none was lost (local trees, which have no lostReason, never are).
 */
export async function lostConnection(trees: ReadonlyArray<Tree | undefined>, howFar: () => string, cause?: unknown): Promise<ConnectionLostError | undefined> {
  for (const t of trees) {
    const why = await t?.lostReason?.();
    if (why) return new ConnectionLostError(t!.label, why, `${t!.label}: ${why}; ${howFar()}`, cause === undefined ? undefined : { cause });
  }
  return undefined;
}

export class RemoteTree implements Tree {
  private closed = false;
  /** Present when the peer negotiated the `delta` capability. */
  readonly delta?: DeltaEndpoint;
  /** The peer negotiated `listing-bin`: scans come back in the binary form. */
  private readonly binaryListing: boolean;
  /** BLAKE3 when the session has `tar-blake3` (offered only where this end can hash with it too). */
  readonly tarHashes: readonly 'blake3'[];
  /** The peer negotiated `tar-hash-ustar`: its unpack reads, and its pack writes when asked, a hash in a ustar header. */
  readonly tarHashInHeader: boolean;
  /** Set the root's mode and mtime (`rootAttrs`): only with a peer that negotiated `root-attrs`, on a writable tree; else absent, and the caller leaves the root as it is. */
  readonly setRootAttrs?: (a: RootAttrsChange) => Promise<void>;
  /** Tree.applyAfterUnpack: only with a peer that negotiated `apply-after`, on a writable tree. */
  readonly applyAfterUnpack?: (ops: TreeOp[]) => Promise<OpResult[]>;
  /** The peer negotiated `prepare` (prepareTransfer), and whether it was sent. */
  private readonly prepareCap: boolean;
  private prepared = false;
  /** The peer answers a scan that carries `like` with `same` when its listing's like form is that (capability listing-same). */
  private readonly listingSame: boolean = false;
  /** ...whatever walks its tree (capability listing-same-any: `omirr serve`, whose io thread lists it). */
  private readonly listingSameAny: boolean = false;
  /** prepareReceive's `prepare` was sent. */
  private receivePrepared = false;
  /** prepareDelta's `prepare` was sent. */
  private deltaPrepared = false;

  private constructor(
    private readonly conn: Connection,
    private readonly handle: number,
    readonly label: string,
    readonly writable: boolean,
    private readonly onClose: () => Promise<void>,
    caps: readonly string[],
    /** The root's own attributes as the server read them at `open` (capability root-attrs; undefined: it had no root yet). */
    private readonly root: RootAttrs | undefined,
  ) {
    if (caps.includes(ROOT_ATTRS_CAP) && writable) {
      this.setRootAttrs = async (a) => {
        await conn.request('rootAttrs', { h: handle, mode: a.mode, ...(a.mtimeMs !== undefined ? { mtimeMs: a.mtimeMs } : {}), ...(a.mtimeNs !== undefined ? { mtimeNs: a.mtimeNs } : {}) });
      };
    }
    if (caps.includes(APPLY_AFTER_CAP) && writable) {
      this.applyAfterUnpack = async (ops) => {
        const { items } = await conn.request('apply', { h: handle, after: true }, ops);
        return items.map(wireOpResult);
      };
    }
    if (caps.includes(DELTA_CAP)) this.delta = new RemoteDelta(conn, handle, caps);
    this.binaryListing = caps.includes(LISTING_CAP);
    this.listingSame = this.binaryListing && caps.includes(LISTING_SAME_CAP);
    this.listingSameAny = this.listingSame && caps.includes(LISTING_SAME_ANY_CAP);
    this.tarHashes = caps.includes(TAR_BLAKE3_CAP) && blake3Available() ? ['blake3'] : [];
    this.prepareCap = caps.includes(PREPARE_CAP);
    this.tarHashInHeader = caps.includes(TAR_HASH_USTAR_CAP);
  }

  /**
   * Open a tree over an established session; `onClose` ends the transport afterwards.
   * `caps`: the session's negotiated capabilities (which optional requests the peer serves).
   * `sent`: the answer to an `open` already sent (behind the hello, over ssh).
   */
  static async open(conn: Connection, req: OpenTreeRequest, label: string, onClose: () => Promise<void>, caps: readonly string[] = [], sent?: Promise<Response>): Promise<RemoteTree> {
    const answer = sent ?? conn.request('open', openArgs(req));
    // a server that answers "the same" from its io thread's walk (listing-same-any), started
    // at this `open`: the local walk left for when it is taken, and its digest, run now,
    // while the answer comes back, instead of after it (a scan asks for them first anyway)
    if (caps.includes(LISTING_CAP) && caps.includes(LISTING_SAME_CAP) && caps.includes(LISTING_SAME_ANY_CAP)) void walkWhenTakenNow(true);
    const { result } = await answer;
    const r = (result ?? {}) as { handle?: unknown; writable?: unknown; root?: unknown };
    if (typeof r.handle !== 'number') throw new ProtocolError('open: no handle in the answer');
    const root = caps.includes(ROOT_ATTRS_CAP) && r.root !== undefined && r.root !== null ? (wireRootAttrs(r.root) as RootAttrs) : undefined;
    return new RemoteTree(conn, r.handle, label, r.writable === true, onClose, caps, root);
  }

  wireBytes(): { sent: number; received: number } {
    return { sent: this.conn.bytesSent, received: this.conn.bytesReceived };
  }

  scan(opts: ScanOptions = {}): Promise<Entry[]> {
    return this.scanAgainst(undefined, opts) as Promise<Entry[]>;
  }

  scanLike(like: Promise<readonly Entry[]>, opts: ScanOptions = {}, onDiffers?: (first?: FirstDifference) => void): Promise<Entry[] | LikeListing> {
    return this.scanAgainst(like, opts, onDiffers);
  }

  private async scanAgainst(like: Promise<readonly Entry[]> | undefined, opts: ScanOptions, onDiffers?: (first?: FirstDifference) => void, withDigest = true): Promise<Entry[] | LikeListing> {
    const { onSkipped, ...wire } = opts;
    let entries: Entry[] | LikeListing;
    let result: unknown;
    if (this.binaryListing) {
      // a server that answers "the same" from any walk (capability listing-same-any): the
      // local walk left for when it is taken runs now, and its digest, before the scan
      // request, which carries it. Started in this turn, before the local tree takes its scan.
      // (Over ssh:// to `serve --stdio` both were started while ssh logged in.)
      if (like && withDigest && this.listingSameAny) {
        const endWait = phase('local walk and digest before the scan');
        await walkWhenTakenNow(true);
        endWait();
      }
      // the compact form (listingWire.ts), decoded as its pieces arrive; compared with the
      // other end's entries instead when they are there by the first piece (a walk that is
      // still running is not waited for: the pieces are decoded meanwhile, as without them)
      let ready: readonly Entry[] | undefined;
      like?.then(
        (e) => (ready = e),
        () => undefined, // the caller awaits `like` itself and sees its error
      );
      // the local listing's digest, when one was taken while ssh logged in (workers/likeDigest.ts):
      // a peer whose listing has it answers `same` and sends none. Sent without waiting for
      // the local tree to hand its listing over; the answer is used only if that listing is
      // the one the digest was taken of (below)
      const ahead = like && withDigest && this.listingSame ? latestDigestAhead() : undefined;
      const digest = ahead?.digest;
      const call = this.conn.call('scan', { h: this.handle, opts: wire, listing: 'bin', ...(digest ? { like: digest } : {}) }, undefined, { download: true });
      let decoder: ListingDecoder | undefined;
      // Pieces that came before the local entries are held, up to HOLD_FOR_LOCAL_BYTES: a
      // short listing can arrive while the local end is still being handed over (a few ms),
      // and decoded without it, it would be built and planned in full.
      const held: Buffer[] = [];
      let heldBytes = 0;
      const startDecoder = (): ListingDecoder => {
        const d = new ListingDecoder(ready, onDiffers);
        for (const h of held.splice(0)) d.push(h);
        return d;
      };
      for await (const chunk of downloadOf(call)) {
        if (!decoder && held.length === 0) mark('listing first piece');
        if (!decoder && like && ready === undefined && heldBytes < HOLD_FOR_LOCAL_BYTES) {
          held.push(chunk as Buffer);
          heldBytes += (chunk as Buffer).length;
          continue;
        }
        (decoder ??= startDecoder()).push(chunk as Buffer);
      }
      mark('listing last piece');
      if (digest && !decoder && held.length === 0) {
        // no listing came: the peer's is the same as the local one, or it is empty
        ({ result } = await call.done);
        if (isSame(result)) {
          const local = await like!.catch(() => undefined);
          if (local !== ahead!.entries) {
            // the local tree listed itself again (its early walk was stale, or another root's
            // digest was the last taken): "the same" is not about it; ask for the listing
            mark('listing the same as another walk: asked again');
            return this.scanAgainst(like, opts, onDiffers, false);
          }
          mark('listing the same as the local one');
          if (onSkipped) for (const s of wireScanSkips(result)) onSkipped(s);
          return { equalCount: local.length };
        }
      }
      // the whole listing came first: the plan needs the local entries anyway, so they are waited for
      if (!decoder && like && ready === undefined) ready = await like.catch(() => undefined);
      decoder ??= startDecoder();
      // equal, or equal but for a few entries' attributes (only theirs built), or decoded in full
      const aligned = decoder.likeListing();
      if (like) {
        const changed = aligned?.changed?.length;
        mark(aligned ? (changed ? `listing aligned, ${changed} changed` : 'listing equal to the local one') : ready ? 'listing differs from the local one' : 'listing decoded (local one not ready)');
      }
      entries = aligned ?? decoder.finish();
      ({ result } = await call.done);
      if (isSame(result)) throw new ProtocolError('scan: a listing and `same` in one answer');
    } else {
      const r = await this.conn.request('scan', { h: this.handle, opts: wire });
      entries = r.items.map(wireEntry);
      result = r.result;
    }
    const skipped = wireScanSkips(result);
    if (onSkipped) for (const s of skipped) onSkipped(s);
    return entries;
  }

  async rootAttrs(): Promise<RootAttrs | undefined> {
    return this.root;
  }

  prepareTransfer(): void {
    // a hint, once; a server without the capability would take the request as a violation
    if (!this.prepareCap || this.prepared || this.conn.isClosed) return;
    this.prepared = true;
    this.conn.request('prepare', { h: this.handle }).catch(() => undefined);
  }

  /**
   * Tree.prepareReceive: `prepare` again, with `receive` (once; a server that predates
   * `receive` reads only `h`). It also stands for prepareTransfer's when that was not sent.
   * Resolves when the server has answered (a test's hold; callers do not wait).
   */
  prepareReceive(files: number): Promise<void> {
    if (!this.prepareCap || this.receivePrepared || this.conn.isClosed) return Promise.resolve();
    this.prepared = this.receivePrepared = true;
    return this.conn.request('prepare', { h: this.handle, receive: files }).then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * Tree.prepareDelta: `prepare` with `delta` (once; only to a peer that does deltas, and a
   * server that predates `delta` reads only `h`). It also stands for prepareTransfer's when
   * that was not sent. Resolves when the server has answered (a test's hold).
   */
  prepareDelta(bytes: number): Promise<void> {
    if (!this.prepareCap || !this.delta || this.deltaPrepared || this.conn.isClosed) return Promise.resolve();
    this.prepared = this.deltaPrepared = true;
    return this.conn.request('prepare', { h: this.handle, delta: bytes }).then(
      () => undefined,
      () => undefined,
    );
  }

  async hashFiles(paths: string[]): Promise<Map<string, string>> {
    const { items } = await this.conn.request('hashFiles', { h: this.handle }, paths);
    return new Map(items.map((p) => wireStringPair(p, wireHash)));
  }

  pack(files: PackRequest[], opts: PackOptions = {}): Readable {
    // The tar bytes are the stream; a failed request destroys it with the server's error.
    const blake3 = opts.verify === true && opts.blake3 === true && this.tarHashes.length > 0;
    // `hashInHeader` only to a peer that negotiated it (an older one would not read the option)
    const hashInHeader = opts.verify === true && opts.hashInHeader === true && this.tarHashInHeader;
    return downloadOf(
      this.conn.call('pack', { h: this.handle, ...(opts.verify ? { verify: true } : {}), ...(blake3 ? { blake3: true } : {}), ...(hashInHeader ? { hashInHeader: true } : {}) }, files, { download: true }),
    );
  }

  async unpack(tar: Readable, expect: Expected[]): Promise<UnpackResult> {
    const { result } = await this.conn.call('unpack', { h: this.handle }, expect, { upload: tar }).done;
    return wireUnpackResult(result, 'unpack');
  }

  async resumeOffsets(expect: Expected[]): Promise<Map<string, number>> {
    // Files under the smallest resume threshold never have a partial file to resume: not
    // sending them saves a round trip with the whole list (20,000 small files: 50-90 ms).
    const large = expect.filter((e) => e.size >= RESUMABLE_MIN);
    if (large.length === 0) return new Map();
    const { items } = await this.conn.request('resumeOffsets', { h: this.handle }, large);
    return new Map(items.map((p) => wireStringPair(p, wireOffset)));
  }

  async apply(ops: TreeOp[]): Promise<OpResult[]> {
    const { items } = await this.conn.request('apply', { h: this.handle }, ops);
    return items.map(wireOpResult);
  }

  /** What is known of how the transport ended, for a lost connection's error (ssh: its exit status and stderr tail). */
  describeTransportEnd?: () => Promise<string | undefined>;

  /**
   * The connection ended while this tree was still open (the peer or ssh died, the network
   * dropped): what was seen, e.g. "connection lost (peer closed the connection); ssh exited
   * with code 255: ...". Undefined while it is up, and after our own close.
   */
  async lostReason(): Promise<string | undefined> {
    if (this.closed || !this.conn.isClosed) return undefined;
    const seen = this.conn.closeReason?.message;
    const end = await this.describeTransportEnd?.().catch(() => undefined);
    return `connection lost${seen ? ` (${seen})` : ''}${end ? `; ${end}` : ''}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.conn.isClosed) await this.conn.request('close', { h: this.handle });
    } catch {
      // closing a broken connection is still closing it
    }
    await this.onClose();
  }
}
