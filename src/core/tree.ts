// The one interface every tree endpoint implements: a local directory (src/engine),
// a remote omirr node over TCP/TLS or ssh stdio (src/net). The transfer session drives
// two Trees; the server side of the wire protocol dispatches requests to a local Tree,
// so every method here is also a protocol request (docs/protocol.md).
import type { Readable } from 'node:stream';
import type { DeltaHash, Signature, StrongAlg } from './delta.js';
import type { Entry } from './entry.js';

export interface ScanOptions {
  /** Compute sha256 for every file (sync --checksum); otherwise only where asked. */
  withHashes?: boolean;
  /** Do not descend into subdirectories (mirror's recursive=false). */
  recursive?: boolean;
  /**
   * Scan only this subtree (a relative path below the root, '' = all): its own entry and,
   * for a directory, what is below it (one level with `recursive: false`). Paths stay
   * relative to the root. Missing (or reached through a symlink): no entries.
   */
  subtree?: string;
  /**
   * Told of every entry the scan left out, with the reason: kinds omirr does not mirror
   * (fifos, sockets, devices), unreadable directories, and `unmirrorable` names (see
   * ScanSkip). A local callback: over the wire the skips come back with the scan's answer.
   */
  onSkipped?: (s: ScanSkip) => void;
}

/** An entry a scan left out. */
export interface ScanSkip {
  /** The path (a name string: bytes that are not UTF-8 as U+DC80..U+DCFF, src/core/names.ts). */
  path: string;
  reason: string;
  /**
   * The entry exists but cannot be mirrored (a directory that cannot be read, a path longer
   * than omirr can reach, a name an SFTP listing could not carry, a directory a site will not
   * list; names that are not UTF-8 are otherwise mirrored): a failure
   * of the sync, not a kind it skips by design. Either way, the destination's copy of a
   * skipped path is never deleted for being unlisted (PlanOptions.srcSkipped).
   */
  unmirrorable?: boolean;
}

/** A file to send; offset > 0 resumes a large file the receiver already has a prefix of. */
export interface PackRequest {
  path: string;
  offset?: number;
  /**
   * The size the requester expects (a hint, never trusted for the content): a verifying
   * pack hashes the large files coming up ahead, on another thread, so the stream does not
   * stop at each one for its hash.
   */
  size?: number;
}

export interface PackOptions {
  /**
   * Every file entry carries `omirr.sha256`, the sha256 of its whole content as read, so
   * the receiver verifies each file end to end even when it has no hash of its own
   * (docs/protocol.md). Costs a hash on the sender; the sync engine always asks for it. A
   * site driver (src/sites/siteTar.ts) leaves it out: it reads in this same process, so
   * there is no end past its download to check.
   */
  verify?: boolean;
  /**
   * (verify) Large files carry `omirr.blake3` instead, BLAKE3 being ~4x sha256's speed: only
   * when both trees list 'blake3' in `tarHashes` (capability `tar-blake3`).
   */
  blake3?: boolean;
  /**
   * (verify) A whole file with a short ASCII name carries its hash in its ustar header's
   * linkname instead of a pax header: one 512-byte block instead of three (capability
   * `tar-hash-ustar`): only when both trees have `tarHashInHeader`.
   */
  hashInHeader?: boolean;
}

/** A file the receiver expects, with the attributes to set once its content is verified. */
export type Expected = Entry & { kind: 'file' };

export interface UnpackResult {
  /** Paths renamed into place, content verified. */
  written: string[];
  failed: Array<{ path: string; error: string }>;
  bytes: number;
}

export type TreeOp =
  | { op: 'mkdir'; path: string; mode: number; mtimeMs?: number; mtimeNs?: number }
  | { op: 'symlink'; path: string; target: string; mtimeMs?: number; mtimeNs?: number }
  | { op: 'setattr'; path: string; mode?: number; mtimeMs?: number; mtimeNs?: number; uid?: number; gid?: number }
  | { op: 'remove'; path: string }
  /** Move aside instead of deleting (mirror's save_deletes); saveDir is relative to the root. */
  | { op: 'save'; path: string; saveDir: string }
  /**
   * A whole small file from memory (the daemon's inline contents): written safely like an
   * unpacked one (temporary name, sha256 checked, mode and mtime set, renamed into place).
   * `staged`: the root is a private staging directory whose files are linked into place
   * only once this op is reported written (src/daemon/contentStaging.ts): the file is
   * written straight at its name, no temporary and no rename (a crash mid-write leaves a
   * name nothing places, replaced at the next write there).
   */
  | { op: 'put'; path: string; file: Expected; data: Uint8Array; staged?: boolean };

export interface OpResult {
  path: string;
  ok: boolean;
  error?: string;
}

/** A file to send as a delta against the receiver's old version of it (its basis). */
export interface DeltaRequest {
  path: string;
  /** The size the requester expects the new file to have. */
  size: number;
  /** The receiver's signature of its basis. */
  sig: Signature;
  /**
   * The new file's hash, in the stream's algorithm, when the requester already has it
   * (hashed while the receiver signed, or the daemon's change record: sha256): the sender
   * then does not read the file a second time to hash it.
   */
  hash?: string;
}

export interface DeltaPackOptions {
  /** The whole-file hash the stream carries: BLAKE3 only when both ends have it (`hashAlgs`). */
  hash?: DeltaHash;
}

export interface DeltaUnpackResult extends UnpackResult {
  /** Bytes that came as literals, and bytes copied from the bases. */
  literal: number;
  copied: number;
}

/**
 * Delta transfers of changed files (rsync's algorithm, src/core/delta.ts). Optional: a
 * remote tree has it only when the peer negotiated the `delta` capability.
 */
export interface DeltaEndpoint {
  /**
   * Signatures of the files this tree has at these paths (regular files; others are left
   * out), their blocks' strong hashes with `strong` (one of strongAlgs; absent: 'crc32').
   */
  signatures(paths: string[], strong?: StrongAlg): Promise<Map<string, Signature>>;
  /** The strong block hashes this end can sign and match with (for a remote tree: both ends can), the preferred first. */
  readonly strongAlgs: readonly StrongAlg[];
  /** The copy/literal instruction stream of these files, in order (docs/protocol.md). */
  pack(files: DeltaRequest[], opts?: DeltaPackOptions): Readable;
  /** The whole-file hashes this end can verify and send a stream with (for a remote tree: both ends can). */
  readonly hashAlgs: readonly DeltaHash[];
  /**
   * Whole-file hashes of these files with `alg` (one of hashAlgs), hex; files that cannot be
   * read are left out. The sender's hashes, taken while the receiver signs and handed back
   * in DeltaRequest.hash, so the sender does not hash while it matches.
   */
  wholeHashes(paths: string[], alg: DeltaHash): Promise<Map<string, string>>;
  /**
   * Rebuild the files of an instruction stream from their bases, each into a temporary file,
   * whole-file hash verified (the algorithm the stream names), mode and mtime set, renamed into place. A file that fails
   * (basis changed, mismatch) is reported failed; the caller may send it whole.
   */
  unpack(stream: Readable, expect: Expected[]): Promise<DeltaUnpackResult>;
  /**
   * Get this end's threads ready to send (match) deltas: called before the receiver's
   * signatures are asked for, so that the threads' start-up runs while the receiver signs
   * instead of after. Absent: nothing to get ready here (a remote end).
   */
  warmToSend?(): void;
  /**
   * Get this end's threads ready to sign old versions of `bytes` in all and rebuild their
   * files (Tree.prepareDelta, told by the sending end before it asks for the signatures).
   * Absent: nothing to get ready here.
   */
  warmToReceive?(bytes: number): void;
}

/** What scanLike's `onDiffers` is told when the first difference is an entry with the path and kind of `like`'s of the same index: both entries. */
export interface FirstDifference {
  like: Entry;
  entry: Entry;
}

/** Tree.scanLike's answer for a listing with the paths and kinds of `like`, entry by entry. */
export interface LikeListing {
  equalCount: number;
  /** The entries that differ in other attributes, by index in `like` (none: equal). */
  changed?: ReadonlyArray<readonly [number, Entry]>;
}

/** A tree root's own attributes: the directory itself, not an entry of its listing. */
export interface RootAttrs {
  mode: number;
  mtimeMs: number;
  mtimeNs?: number;
}

/** What to set on a root: its mode, and its mtime unless times are not mirrored. */
export type RootAttrsChange = { mode: number; mtimeMs?: number; mtimeNs?: number };

export interface Tree {
  /** For logs and progress lines: a path, or omirr://host:port/tree. */
  readonly label: string;
  readonly writable: boolean;
  scan(opts?: ScanOptions): Promise<Entry[]>;
  hashFiles(paths: string[]): Promise<Map<string, string>>;
  /** A tar stream (tar-stream format) holding the requested regular files. */
  pack(files: PackRequest[], opts?: PackOptions): Readable;
  /**
   * The whole-file hashes this tree's tar streams can carry (pack) and check (unpack),
   * besides sha256 (for a remote tree: both ends can). Absent: sha256 only.
   */
  readonly tarHashes?: readonly 'blake3'[];
  /** This tree's tar streams can carry (pack) and check (unpack) a file's hash in its ustar header (PackOptions.hashInHeader). */
  readonly tarHashInHeader?: boolean;
  /**
   * The root directory's own mode and mtime, for `rsync -a SRC/ DST/`'s rule that DST gets
   * SRC's (src/engine/rootAttrs.ts); undefined where unknown (a site, a missing root, an
   * older peer). A remote tree's are as they were when it was opened.
   */
  rootAttrs?(): Promise<RootAttrs | undefined>;
  /** Take now the digest scanListing's `like` is checked against, when it will be asked for (a hint: the work moves, nothing changes). */
  warmListingDigest?(): void;
  /** Give the root directory this mode, and this mtime when given (a writable tree); absent where the other end cannot (an older peer). */
  setRootAttrs?(a: RootAttrsChange): Promise<void>;
  /**
   * Write the files of a tar stream: each to a temporary name in its target directory,
   * hash-verified against `expect`'s hash, else the stream's own `omirr.sha256` (when
   * either is there), mode and mtime set, then
   * renamed into place. Entries not in `expect` or with unsafe paths abort the stream.
   */
  unpack(tar: Readable, expect: Expected[]): Promise<UnpackResult>;
  /** How many bytes of each expected file a previous, broken transfer already left. */
  resumeOffsets(expect: Expected[]): Promise<Map<string, number>>;
  apply(ops: TreeOp[]): Promise<OpResult[]>;
  /**
   * apply(), sent right behind the unpacks already started on this tree and run once they
   * are done, and only if they all went through (else it fails): the directories'
   * attributes without a round trip after the unpack's answer. Absent where the other end
   * cannot (an older peer, a local tree: its apply is no round trip).
   */
  applyAfterUnpack?(ops: TreeOp[]): Promise<OpResult[]>;
  /**
   * Why this tree's connection is gone mid-run (the far end killed, the network dropped, a
   * site no longer answering), as "connection lost (...)"; undefined while it is not.
   * Absent for trees without a connection (local ones).
   */
  lostReason?(): Promise<string | undefined>;
  close(): Promise<void>;
  /** Delta transfers, when this tree (and, for a remote one, its peer) supports them. */
  readonly delta?: DeltaEndpoint;
  /** Bytes sent and received on the wire so far (remote trees: the connection's counters). */
  wireBytes?(): { sent: number; received: number };
  /**
   * The whole tree's listing, as scan() without options lists it, already encoded in the
   * binary listing's blocks (core/listingEncode.ts) by the thread that scans it, handed on
   * as that thread walks (an async iterable that throws if the scan fails part-way): served
   * trees answer a peer's scan with them (net/treeService.ts). Undefined when no such
   * listing was made (the caller scans). `like`: the sha256 of the peer's own listing's like
   * form (core/likeForm.ts); 'same' when this listing's is the same (nothing to send).
   */
  scanListing?(opts?: Pick<ScanOptions, 'onSkipped'> & { like?: string }): Promise<Iterable<Buffer> | AsyncIterable<Buffer> | 'same' | undefined>;
  /**
   * scan(), told the other end's entries (`like`, a promise: used when it has settled by the
   * time the listing arrives): when every entry equals the one of the same index by planSync's
   * quick check (core/packedEntries.ts matchesPacked) and the counts match, it answers
   * `{ equalCount }` and builds no entry (a no-op re-run over the network: see
   * net/listingWire.ts). When every entry has the path and kind of the one of the same index
   * (and the counts match) but some differ in other attributes: `{ equalCount, changed }`,
   * only those entries built (the listing is `like` with them in their places). Otherwise the
   * entries, as scan() would. Only for callers whose plan is planSync's with plain options
   * (core/plan.ts plainQuickCheck), where equal means empty. `onDiffers` is told, once, as
   * soon as the answer is known not to be "equal" (a transfer follows: its set-up can start),
   * with the two entries when that first difference is a record of the same path and kind.
   */
  scanLike?(like: Promise<readonly Entry[]>, opts?: ScanOptions, onDiffers?: (first?: FirstDifference) => void): Promise<Entry[] | LikeListing>;
  /**
   * A transfer to or from this tree follows (the caller found the listings to differ): a
   * remote tree tells its server, which starts what the transfer will need (an io thread)
   * while the caller plans. Only a hint: nothing is waited for, nothing fails.
   */
  prepareTransfer?(): void;
  /**
   * At least `files` files will be written into this tree by one transfer (the caller's
   * count before its plan): a tree that writes a large one in a thread of its own starts it
   * now, so that its start-up is not paid after the first bytes came. A remote tree tells
   * its server (the `prepare` request's `receive`). Only a hint: nothing is waited for,
   * nothing fails, and a wrong count costs at most a thread started for nothing.
   */
  prepareReceive?(files: number): void;
  /**
   * Changed large files will go to this tree as deltas, against old versions of `bytes` in
   * all (the caller's count after its plan: core of executePlan's choice, deltaCandidates):
   * a remote tree tells its server (the `prepare` request's `delta`), which starts the
   * threads that sign and rebuild while the caller loads its executor and asks for the
   * signatures. Only a hint, as prepareReceive.
   */
  prepareDelta?(bytes: number): void;
}
