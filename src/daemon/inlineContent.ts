// Small files travel inside their change record (docs/protocol.md, "Peer changes").
//
// Why: a fetch is a round trip back to the sender, and a pack there, for every receiving
// peer. For a 4 KiB file that round trip is most of the latency, and with 8 peers the
// sender packs the same file 8 times while they all wait. The bytes are already in hand
// when the change is made: the hash task that versions a small file returns its content
// too (LocalTree.hashFilesKeeping), and a relaying node has the bytes it just received.
// They wait here, in a bounded memory cache keyed by (tree, path, hash), until each peer
// link delivers the record; whatever is not in the cache any more (evicted, or sent
// after a restart) is fetched as before. The outbox on disk never holds contents.
//
// The receiver checks the bytes like any other content: the length against the record's
// size when the message is parsed, the sha256 against its hash in the io worker before
// the file is written (the 'put' op: src/workers/safeWrite.ts). A content that does not
// verify is fetched instead. Inline files are written into the peer's staging directory
// like fetched ones (ContentStaging.stageNow, one 'put' batch), then placed the same
// guarded way: they skip the round trip, not the staging.
import type { OutboxRecord } from '../actors/outbox.js';
import { JsonPieces, JsonText } from '../net/connection.js';
import { ProtocolError } from '../net/frames.js';
import type { WireChange } from '../core/wireChange.js';

/** Files up to this size are sent inline. */
export const INLINE_FILE_MAX = 64 * 1024;
/** Inline bytes per delivery (before base64): a batch of many small files stays one moderate message. */
export const INLINE_BATCH_MAX = 1024 * 1024;
/** Memory the cache may hold. */
export const INLINE_CACHE_MAX = 32 * 1024 * 1024;

/**
 * What an entry costs beside its bytes (its key, hash string, Buffer object, Map slot),
 * charged against the budget: an empty or tiny file is not free. Without it a tree of a
 * million empty files (issue 12, bench:scale) kept a million entries in a "32 MiB" cache.
 */
export const INLINE_ENTRY_OVERHEAD = 256;

const cost = (data: Buffer): number => data.length + INLINE_ENTRY_OVERHEAD;

interface Cached {
  hash: string;
  data: Buffer;
}

/** Contents of small files that were just versioned or received, until their records are delivered. */
export class InlineContentCache {
  private readonly byKey = new Map<string, Cached>();
  private bytes = 0;
  /** Bytes plus each entry's overhead: what the budget is checked against. */
  private charged = 0;

  constructor(private readonly maxBytes = INLINE_CACHE_MAX) {}

  put(tree: string, path: string, hash: string, data: Buffer): void {
    if (data.length > INLINE_FILE_MAX) return;
    const key = `${tree}\0${path}`;
    const old = this.byKey.get(key);
    if (old) {
      this.bytes -= old.data.length;
      this.charged -= cost(old.data);
      this.byKey.delete(key);
    }
    this.byKey.set(key, { hash, data });
    this.bytes += data.length;
    this.charged += cost(data);
    // oldest first (a Map iterates in insertion order): the records delivered longest ago
    for (const [k, v] of this.byKey) {
      if (this.charged <= this.maxBytes) break;
      this.byKey.delete(k);
      this.bytes -= v.data.length;
      this.charged -= cost(v.data);
    }
  }

  /** The content of `path` at exactly `hash`, if it is still here. */
  get(tree: string, path: string, hash: string): Buffer | undefined {
    const c = this.byKey.get(`${tree}\0${path}`);
    return c && c.hash === hash ? c.data : undefined;
  }

  get size(): { files: number; bytes: number } {
    return { files: this.byKey.size, bytes: this.bytes };
  }
}

/**
 * Characters of encoded changes kept for the next deliveries of the same change (one-byte
 * strings mostly: JSON and base64): the deliveries of a change to all peers come within
 * milliseconds of each other, a burst's within its backlog.
 */
export const ENCODED_CHANGES_MAX = 8 * 1024 * 1024;

interface Encoded {
  change: string;
  /**
   * Once a delivery carried the inline content: the item's text after its seq and at,
   * `,"change":…,"data":"<base64>"}`, as UTF-8 bytes and its length in characters (as text
   * when shorter than SHARED_TAIL_MIN). Every peer's frame copies these bytes: the 5.5 KB
   * of a 4 KiB file are encoded once, not once per peer (issue 12: the burst's writer).
   */
  tail?: { bytes: Buffer; chars: number } | string;
}

/**
 * Tails shorter than this stay text (each delivery's item a JsonText): for a tiny file the
 * frame's one encode of the joined text is cheaper than writing and copying its pieces
 * (a burst of 6-byte files: ~15 % more CPU in the delivery path with pieces).
 */
export const SHARED_TAIL_MIN = 2048;

/**
 * The JSON of changes and the base64 of their contents, by change object: a tree shared with
 * 16 peers appends the same change object to 16 outboxes, and each delivers it (the outbox
 * keeps its recent records in memory: src/actors/outbox.ts). Encoding each delivery afresh
 * was 16 JSON.stringify calls over a 5.5 KB base64 string per 4 KiB write, and 16 strings
 * of garbage (issue 12: the writer's profile). Keyed by identity: an outbox record's change
 * is not changed once appended (its line on disk is already written from it). Oldest first
 * out, within ENCODED_CHANGES_MAX characters.
 */
export class EncodedChanges {
  private readonly byChange = new Map<object, Encoded>();
  private chars = 0;

  constructor(private readonly maxChars = ENCODED_CHANGES_MAX) {}

  /** The encoding of `change`, made on first use. */
  get(change: WireChange): Encoded {
    let e = this.byChange.get(change);
    if (e === undefined) {
      e = { change: JSON.stringify(change) };
      this.byChange.set(change, e);
      this.charge(e.change.length);
    }
    return e;
  }

  /** The item's tail with `data` (in base64), remembered with the change's encoding: bytes when long, else text. */
  withData(e: Encoded, data: Buffer): { bytes: Buffer; chars: number } | string {
    if (e.tail === undefined) {
      const text = `,"change":${e.change},"data":"${data.toString('base64')}"}`;
      e.tail = text.length < SHARED_TAIL_MIN ? text : { bytes: Buffer.from(text, 'utf8'), chars: text.length };
      this.charge(tailSize(e.tail));
    }
    return e.tail;
  }

  get size(): { changes: number; chars: number } {
    return { changes: this.byChange.size, chars: this.chars };
  }

  private charge(n: number): void {
    this.chars += n;
    if (this.chars <= this.maxChars) return;
    for (const [k, old] of this.byChange) {
      if (this.chars <= this.maxChars || this.byChange.size <= 1) break;
      this.byChange.delete(k);
      this.chars -= old.change.length + (old.tail === undefined ? 0 : tailSize(old.tail));
    }
  }
}

const tailSize = (t: { bytes: Buffer } | string): number => (typeof t === 'string' ? t.length : t.bytes.length);

const sharedEncodings = new EncodedChanges();

/**
 * A change's JSON as its deliveries send it: the outboxes write the same text into their
 * lines (OutboxOptions.changeJson), so a change is encoded once for the disk and all peers,
 * where it was twice (the burst's writer: 10,000 JSON.stringify calls less).
 */
export function changeJson(change: WireChange, encodings = sharedEncodings): string {
  return encodings.get(change).change;
}

/**
 * The items of one delivery, as JSON text: each record, with `data` (base64) where the cache
 * has its content, up to INLINE_BATCH_MAX. The text is JSON.stringify({ ...record, data });
 * an item with data of SHARED_TAIL_MIN characters or more is a JsonPieces whose tail's bytes
 * every peer's delivery shares.
 */
export function withInlineContent(records: OutboxRecord<WireChange>[], cache: InlineContentCache, encodings = sharedEncodings): Array<JsonText | JsonPieces> {
  let budget = INLINE_BATCH_MAX;
  return records.map((r) => {
    const { rec, tree } = r.change;
    const e = rec.entry;
    const enc = encodings.get(r.change);
    const head = `{"seq":${JSON.stringify(r.seq)},"at":${JSON.stringify(r.at)}`;
    if (rec.deleted || e.kind !== 'file' || e.hash === undefined || e.size > budget) return new JsonText(`${head},"change":${enc.change}}`);
    const data = enc.tail === undefined ? cache.get(tree, e.path, e.hash) : undefined;
    if (enc.tail === undefined && (!data || data.length !== e.size)) return new JsonText(`${head},"change":${enc.change}}`);
    budget -= e.size;
    const tail = enc.tail ?? encodings.withData(enc, data!);
    return typeof tail === 'string' ? new JsonText(head + tail) : new JsonPieces(head, tail.bytes, tail.chars);
  });
}

/** `v` ends with the '=' padding that base64 gives `size` bytes: two, one or none. */
function canonicalPadding(v: string, size: number): boolean {
  const pad = (3 - (size % 3)) % 3;
  const eq = (i: number): boolean => v.charCodeAt(v.length - i) === 0x3d; // '='
  return pad === 2 ? eq(1) && eq(2) : pad === 1 ? eq(1) && !eq(2) : size === 0 || !eq(1);
}

/** The `data` of a received item, checked against its record (ProtocolError otherwise); undefined when absent. */
export function parseInlineData(v: unknown, change: WireChange): Buffer | undefined {
  if (v === undefined) return undefined;
  const e = change.rec.entry;
  if (typeof v !== 'string' || v.length > Math.ceil(INLINE_FILE_MAX / 3) * 4) throw new ProtocolError(`change ${e.path}: bad inline data`);
  if (change.rec.deleted || e.kind !== 'file') throw new ProtocolError(`change ${e.path}: inline data on a record that is not a file`);
  // Buffer.from skips characters that are not base64 (and needs no padding): a string of
  // exactly the length and the padding that encode e.size bytes, decoded to e.size bytes,
  // had none to skip. (Checked so, not by encoding the bytes again to compare: that made a
  // 5.5 KB string of garbage per 4 KiB file received. The content is checked against the
  // record's sha256 when it is staged.)
  if (v.length !== Math.ceil(e.size / 3) * 4 || !canonicalPadding(v, e.size)) throw new ProtocolError(`change ${e.path}: inline data does not match the record's size`);
  const data = Buffer.from(v, 'base64');
  if (data.length !== e.size) throw new ProtocolError(`change ${e.path}: inline data does not match the record's size`);
  return data;
}
