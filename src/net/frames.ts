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
  | { kind: typeof FRAME_DATA; stream: number; data: Buffer };

export function encodeJson(msg: object): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  if (body.length + 1 > MAX_FRAME) throw new ProtocolError(`message too large (${body.length} bytes)`);
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(body.length + 1, 0);
  head[4] = FRAME_JSON;
  return Buffer.concat([head, body]);
}

/** The header of a data frame; the caller writes the payload after it (no copy). */
export function encodeDataHeader(stream: number, length: number): Buffer {
  const head = Buffer.allocUnsafe(9);
  head.writeUInt32BE(length + 5, 0);
  head[4] = FRAME_DATA;
  head.writeUInt32BE(stream, 5);
  return head;
}

/** Incremental decoder: feed socket chunks, get whole frames; throws ProtocolError. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Lowered during the handshake, raised once the peer is authenticated. */
  maxFrame = MAX_HANDSHAKE_FRAME;

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const len = this.peekLength();
      if (len < 1 || len > this.maxFrame) throw new ProtocolError(`bad frame length ${len} (limit ${this.maxFrame})`);
      if (this.buffered < 4 + len) break;
      const frame = this.take(4 + len).subarray(4);
      frames.push(decodeFrame(frame));
    }
    return frames;
  }

  private peekLength(): number {
    if (this.chunks[0]!.length < 4) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
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
