// The frame codec of the omirr wire protocol (docs/protocol.md). A frame is
//   u32 big-endian length of what follows | u8 kind | payload
// kind 0: a JSON control message (UTF-8, one object); kind 1: stream data (u32 stream id, bytes).
// Lengths are checked against a limit BEFORE anything is buffered, so a hostile peer cannot
// make us allocate more than one frame's worth.

export const FRAME_JSON = 0;
export const FRAME_DATA = 1;

/** Largest frame after the handshake (a JSON batch or a data chunk). */
export const MAX_FRAME = 4 * 1024 * 1024;
/** Largest frame before the peer is authenticated: a hello is small. */
export const MAX_HANDSHAKE_FRAME = 64 * 1024;
/** Data frames we send carry at most this many bytes. */
export const DATA_CHUNK = 256 * 1024;

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

export type Frame =
  | { kind: typeof FRAME_JSON; msg: Record<string, unknown> }
  | { kind: typeof FRAME_DATA; stream: number; data: Buffer; end?: boolean };

export function encodeJson(msg: object): Buffer {
  return encodeJsonText(JSON.stringify(msg));
}

/** A JSON frame of text already encoded: header and body in one buffer, the text written straight into it. */
export function encodeJsonText(text: string): Buffer {
  const length = Buffer.byteLength(text, 'utf8');
  if (length + 1 > MAX_FRAME) throw new ProtocolError(`message too large (${length} bytes)`);
  const frame = Buffer.allocUnsafe(5 + length);
  frame.writeUInt32BE(length + 1, 0);
  frame[4] = FRAME_JSON;
  frame.write(text, 5, 'utf8');
  return frame;
}

/**
 * A JSON frame whose text is `pieces` in order: strings are encoded here, Buffers are UTF-8
 * bytes encoded once by the caller and copied as they are (one change's bytes shared by
 * every peer it is sent to: src/net/connection.ts JsonPieces). The same bytes as
 * encodeJsonText of the pieces joined.
 */
export function encodeJsonPieces(pieces: ReadonlyArray<string | Buffer>): Buffer {
  let length = 0;
  for (const p of pieces) length += typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.length;
  if (length + 1 > MAX_FRAME) throw new ProtocolError(`message too large (${length} bytes)`);
  const frame = Buffer.allocUnsafe(5 + length);
  frame.writeUInt32BE(length + 1, 0);
  frame[4] = FRAME_JSON;
  let at = 5;
  for (const p of pieces) at += typeof p === 'string' ? frame.write(p, at, 'utf8') : p.copy(frame, at);
  return frame;
}

/** The header of a data frame; the caller writes the payload after it (no copy). */
export function encodeDataHeader(stream: number, length: number): Buffer {
  const head = Buffer.allocUnsafe(9);
  head.writeUInt32BE(length + 5, 0);
  head[4] = FRAME_DATA;
  head.writeUInt32BE(stream, 5);
  return head;
}

/**
 * A piece of a data frame's payload, in streaming mode (FrameDecoder.streamData): `end` marks
 * the frame's last piece. Pieces are views into the socket's chunks, never copies.
 */
export type DataPiece = { kind: typeof FRAME_DATA; stream: number; data: Buffer; end: boolean };

/** Bytes before a data frame's payload: length, kind, stream id. */
const DATA_HEAD = 9;
const EMPTY = Buffer.alloc(0);

/**
 * Incremental decoder: feed socket chunks, get whole frames; throws ProtocolError.
 *
 * With `streamData` set, a data frame's payload is not reassembled: it comes out as pieces
 * (subarrays of the chunks as they arrived, with the frame's stream id) as soon as they
 * arrive, so a 256 KiB frame that spans 17 TLS records costs no copy here (the consumer
 * copies once, into whatever it hands on). The length is still checked against `maxFrame`
 * as soon as its 4 bytes are in, before anything is buffered; only frame headers and JSON
 * frames are buffered. Malformed input gives the same ProtocolErrors as without it: a data
 * frame shorter than its stream id, and every other kind, are buffered whole and decoded as
 * before.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Lowered during the handshake, raised once the peer is authenticated. */
  maxFrame = MAX_HANDSHAKE_FRAME;
  /** Hand data frames out as pieces as they arrive (see above). */
  streamData = false;
  /** Streaming: payload bytes of the current data frame still to come, and its stream. */
  private dataLeft = 0;
  private dataStream = 0;

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    if (this.dataLeft > 0) {
      chunk = this.passData(chunk, frames);
      if (chunk.length === 0) return frames;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 4) break;
      const len = this.peekLength();
      if (len < 1 || len > this.maxFrame) throw new ProtocolError(`bad frame length ${len} (limit ${this.maxFrame})`);
      if (this.streamData && len >= 5 && this.buffered >= 5 && this.byteAt(4) === FRAME_DATA) {
        if (this.buffered < DATA_HEAD) break;
        const head = this.take(DATA_HEAD);
        this.dataStream = head.readUInt32BE(5);
        this.dataLeft = len - 5;
        if (this.dataLeft === 0) {
          frames.push({ kind: FRAME_DATA, stream: this.dataStream, data: EMPTY, end: true } satisfies DataPiece);
          continue;
        }
        // What is buffered after the header starts with the payload.
        const rest = this.chunks;
        this.chunks = [];
        this.buffered = 0;
        for (const c of rest) {
          const left = this.dataLeft > 0 ? this.passData(c, frames) : c;
          if (left.length > 0) {
            this.chunks.push(left);
            this.buffered += left.length;
          }
        }
        continue;
      }
      if (this.buffered < 4 + len) break;
      const frame = this.take(4 + len).subarray(4);
      frames.push(decodeFrame(frame));
    }
    return frames;
  }

  /** Streaming: the current data frame's share of `c` goes out as a piece; returns the rest. */
  private passData(c: Buffer, frames: Frame[]): Buffer {
    const n = Math.min(this.dataLeft, c.length);
    this.dataLeft -= n;
    frames.push({ kind: FRAME_DATA, stream: this.dataStream, data: n === c.length ? c : c.subarray(0, n), end: this.dataLeft === 0 } satisfies DataPiece);
    return n === c.length ? EMPTY : c.subarray(n);
  }

  /** The buffered byte at `i` (i < buffered). */
  private byteAt(i: number): number {
    for (const c of this.chunks) {
      if (i < c.length) return c[i]!;
      i -= c.length;
    }
    throw new Error('byteAt past the buffered bytes');
  }

  /** The next frame's length (4 bytes buffered). */
  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    return ((this.byteAt(0) << 24) | (this.byteAt(1) << 16) | (this.byteAt(2) << 8) | this.byteAt(3)) >>> 0;
  }

  /**
   * The next `n` buffered bytes: a view when the first chunk holds them, else a copy of just
   * those bytes (what follows stays a view into its chunk: a data frame's payload after a
   * header that straddles two socket reads is not copied).
   */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - at);
        c.copy(out, at, 0, k);
        at += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}

function decodeFrame(frame: Buffer): Frame {
  const kind = frame[0];
  if (kind === FRAME_JSON) {
    let msg: unknown;
    try {
      msg = JSON.parse(frame.subarray(1).toString('utf8'));
    } catch {
      throw new ProtocolError('frame is not valid JSON');
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg) || typeof (msg as { t?: unknown }).t !== 'string') {
      throw new ProtocolError('message is not an object with a type');
    }
    return { kind: FRAME_JSON, msg: msg as Record<string, unknown> };
  }
  if (kind === FRAME_DATA) {
    if (frame.length < 5) throw new ProtocolError('short data frame');
    return { kind: FRAME_DATA, stream: frame.readUInt32BE(1), data: frame.subarray(5) };
  }
  throw new ProtocolError(`unknown frame kind ${kind}`);
}
