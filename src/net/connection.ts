// One omirr protocol connection over any byte duplex (a TLS socket, or ssh's stdin/stdout).
// Symmetric on purpose: either side may send requests, push messages and open streams, so the
// daemon's long-lived peer links reuse it unchanged (docs/protocol.md). It owns:
//  - framing and the per-phase frame limit (small until the handshake is done),
//  - request ids and responses, with one big array ("items") split over several frames,
//  - byte streams tied to a request (download: peer -> requester; upload: requester -> peer)
//    with credit-based flow control, so neither side buffers more than a window per stream.
// Anything malformed is a ProtocolError: the connection is closed, nothing else happens.
import { EventEmitter } from 'node:events';
import { Readable, Writable, type Duplex } from 'node:stream';
import { releasePackChunk } from '../engine/packBuffers.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { DATA_CHUNK, encodeDataHeader, encodeJson, encodeJsonPieces, encodeJsonText, FRAME_DATA, FrameDecoder, MAX_FRAME, ProtocolError, type Frame } from './frames.js';
import { transportCopies } from './pipeDuplex.js';

/** Bytes a stream's sender may send before the receiver grants more. */
export const STREAM_WINDOW = 1024 * 1024;
/**
 * The window we open for streams we receive: right after a stream is known to both sides
 * we grant this much beyond the protocol's initial window (one credit message, which every
 * peer understands). With only 1 MiB in flight the transfer waited on each credit round trip
 * (two busy event loops on loopback): measured 87 MiB/s for the small tree (docs/performance.md).
 */
export const RECEIVE_WINDOW = 4 * STREAM_WINDOW;
/**
 * Once the window is wide, credit is granted in steps of at least this many bytes: one
 * credit message per 256 KiB frame was one TLS record and one socket write each (on
 * loopback the write also runs the peer's TCP receive path and wakes it). Half the window,
 * so the sender keeps at least the other half while the consumer reads. Before the window
 * is widened the step is the protocol's initial window, so what we hold back never reaches
 * all the credit the sender has (no deadlock).
 */
const CREDIT_STEP = RECEIVE_WINDOW / 2;
/** Bytes we let queue in the socket before waiting for it to drain (TLS's own is 16 KiB). */
const SEND_BUFFER = 2 * 1024 * 1024;
/** JSON batches are cut at about this size (well under MAX_FRAME). */
const BATCH_BYTES = 512 * 1024;
const MAX_INFLIGHT = 64;
const MAX_ITEMS = 4_000_000;
const MAX_ID = 2 ** 31;

export interface WireError {
  code: string;
  message: string;
}

/** An error the peer reported for one request; the connection stays usable. */
export class RemoteError extends Error {
  override name = 'RemoteError';
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** The connection is gone (closed by either side, or broken). */
export class ConnectionClosedError extends Error {
  override name = 'ConnectionClosedError';
}

/**
 * An item already encoded as JSON, sent as its text: a caller that sends the same value on
 * many connections (a change to 16 peers) encodes it once (src/daemon/inlineContent.ts).
 * The text must be one JSON value; the receiver sees it as if the value had been sent.
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/**
 * An item already encoded to bytes but for a short head: its JSON text is `head` followed by
 * the text that `tail` holds as UTF-8 (`tailChars` characters long). A value sent on many
 * connections with one field that differs (a change's outbox seq for each peer) shares its
 * tail's bytes: the large rest (a 4 KiB file's base64) is encoded once, not once per peer,
 * and each frame copies it (src/daemon/inlineContent.ts). The receiver sees the same bytes
 * as for a JsonText of the joined text, batched into the same frames.
 */
export class JsonPieces {
  constructor(
    readonly head: string,
    readonly tail: Buffer,
    readonly tailChars: number,
  ) {}
}

export interface Response {
  result: unknown;
  items: unknown[];
}

export interface IncomingRequest {
  op: string;
  args: Record<string, unknown>;
  items: unknown[];
  /** The requester's bytes, when it declared an upload. */
  upload?: IncomingStream;
  /** Where to write bytes for the requester, when it asked for a download. */
  download?: OutgoingStream;
}

export interface HandlerResult {
  result?: unknown;
  items?: unknown[];
}

export type RequestHandler = (req: IncomingRequest) => Promise<HandlerResult>;

export interface CallOptions {
  /** Bytes to send along with the request. */
  upload?: Readable;
  /** Ask for a byte stream back; `download` is then set on the returned call. */
  download?: boolean;
  /**
   * Send it while the handshake is still under way, right behind the hello: the server keeps
   * what arrives before its welcome and serves it once the peer is authenticated, so the
   * answer comes one round trip sooner. Only where the transport authenticated the server
   * already (ssh), and only for a request without streams.
   */
  beforeOpen?: boolean;
}

export interface Call {
  done: Promise<Response>;
  download?: Readable;
}

interface Pending {
  resolve: (r: Response) => void;
  reject: (e: Error) => void;
  items: unknown[];
  result: unknown;
}

interface Assembling {
  op: string;
  args: Record<string, unknown>;
  items: unknown[];
  upload?: number;
  download?: number;
}

export interface ConnectionOptions {
  /** 'client' opens odd stream ids, 'server' even ones. */
  role: 'client' | 'server';
  log?: Logger;
  label?: string;
}

/** Bytes from the peer; grants credit as the consumer reads. */
export class IncomingStream extends Readable {
  received = 0;
  /** Upload bound set by the handler: more bytes than this is a protocol violation. */
  maxBytes = Number.POSITIVE_INFINITY;
  private granted = STREAM_WINDOW;
  /** Bytes the consumer may take back from the sender but we have not granted yet. */
  private owed = 0;
  /** Bytes pushed to the consumer and not yet granted back (granted in steps). */
  private unacked = 0;
  /** Grant once this much is unacked: STREAM_WINDOW until widen(), then CREDIT_STEP. */
  private step = STREAM_WINDOW;
  ended = false;

  constructor(private readonly conn: Connection, readonly id: number) {
    // the buffer stays one protocol window: the wider window is for bytes in flight
    super({ highWaterMark: STREAM_WINDOW });
  }

  /** Open the window to RECEIVE_WINDOW; call once the peer knows the stream id. */
  widen(): void {
    if (this.granted >= RECEIVE_WINDOW || this.destroyed) return;
    this.grant(RECEIVE_WINDOW - this.granted);
    this.step = CREDIT_STEP;
  }

  /**
   * `data` is a piece of a data frame, a view into a socket read buffer that the frames
   * around it may share. Consumers that take ownership of chunks must copy views like
   * this one: LocalTree.unpack transfers only chunks spanning their whole ArrayBuffer from
   * offset 0 (and its own pack buffers); a piece is that only when it is a whole socket
   * read, which then nothing else refers to.
   */
  deliver(data: Buffer): void {
    // the length now: a consumer that takes the chunk over (an unpack transferring a whole
    // pipe read to its thread) detaches it during push(), leaving data.length 0
    const n = data.length;
    this.received += n;
    if (this.received > this.granted) throw new ProtocolError(`stream ${this.id}: peer ignored flow control`);
    if (this.received > this.maxBytes) throw new ProtocolError(`stream ${this.id}: more than ${this.maxBytes} bytes`);
    if (this.destroyed) return;
    if (this.push(data)) {
      this.unacked += n;
      if (this.unacked >= this.step) this.grantUnacked();
    } else this.owed += n;
  }

  override _read(): void {
    if (this.owed > 0) {
      this.unacked += this.owed;
      this.owed = 0;
    }
    // Never a deadlock: what we hold back is under the step, which is less than the window.
    if (this.unacked >= this.step) this.grantUnacked();
  }

  private grantUnacked(): void {
    const n = this.unacked;
    this.unacked = 0;
    this.grant(n);
  }

  private grant(n: number): void {
    this.granted += n;
    this.conn.sendControl({ t: 'credit', s: this.id, n });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // The consumer gave up early: tell the sender to stop.
    if (!this.ended) this.conn.abortIncoming(this.id, err?.message ?? 'cancelled');
    cb(err);
  }
}

/** Bytes to the peer, sent only within the credit it granted. */
export class OutgoingStream extends Writable {
  private credit = STREAM_WINDOW;
  private waiter?: () => void;

  constructor(private readonly conn: Connection, readonly id: number) {
    super({ highWaterMark: DATA_CHUNK });
  }

  addCredit(n: number): void {
    this.credit += n;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The receiver aborted: stop, with its reason. */
  peerAborted(reason: string): void {
    this.destroy(new RemoteError('aborted', reason));
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sendAll(chunk).then(() => cb(), cb);
  }

  private async sendAll(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      while (this.credit <= 0) {
        if (this.destroyed || this.conn.isClosed) throw new ConnectionClosedError('stream closed');
        await new Promise<void>((r) => (this.waiter = r));
      }
      if (this.destroyed || this.conn.isClosed) throw new ConnectionClosedError('stream closed');
      const n = Math.min(chunk.length - off, DATA_CHUNK, this.credit);
      this.credit -= n;
      const last = off + n === chunk.length;
      await this.conn.sendData(this.id, chunk.subarray(off, off + n), last ? chunk : undefined);
      off += n;
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.conn.endOutgoing(this.id);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (err && !(err instanceof RemoteError)) this.conn.endOutgoing(this.id, err.message);
    else this.conn.forgetOutgoing(this.id);
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
    cb(err);
  }
}

export class Connection extends EventEmitter {
  readonly log: Logger;
  readonly label: string;
  private readonly decoder = new FrameDecoder();
  private phase: 'handshake' | 'open' | 'closed' = 'handshake';
  private handshakeQueue: Record<string, unknown>[] = [];
  private handshakeWaiter?: (m: Record<string, unknown> | Error) => void;
  private nextId = 1;
  private nextStream: number;
  private readonly pending = new Map<number, Pending>();
  private readonly assembling = new Map<number, Assembling>();
  private running = 0;
  private readonly incoming = new Map<number, IncomingStream>();
  private readonly outgoing = new Map<number, OutgoingStream>();
  /** Streams we aborted: their in-flight data is dropped, not a violation. */
  private readonly abortedIncoming = new Set<number>();
  private handler?: RequestHandler;
  private drainWaiters: Array<() => void> = [];
  closeReason?: Error;
  readonly closed: Promise<void>;
  /** Protocol bytes (frames) sent and received on this connection: what a transfer costs on the wire, before TLS. */
  bytesSent = 0;
  bytesReceived = 0;
  private readonly socketCopies: boolean;

  constructor(private readonly socket: Duplex, opts: ConnectionOptions) {
    super();
    this.log = opts.log ?? silentLogger;
    this.label = opts.label ?? opts.role;
    this.nextStream = opts.role === 'client' ? 1 : 2;
    // a real socket, or ssh's pipes (src/net/pipeDuplex.ts)
    const copies = transportCopies(socket);
    this.socketCopies = copies.writes;
    // Data frames come out in the pieces the socket delivered: no reassembly copy of every
    // received byte on this thread (docs/performance.md); IncomingStream takes any slicing.
    // Only from a real socket or pipe, whose reads are fresh buffers nobody else holds: an
    // in-memory duplex hands over the writer's own buffers (a consumer could take them over,
    // e.g. transfer a pack buffer to a worker while its writer still sends from it).
    this.decoder.streamData = copies.reads;
    let onClosed!: () => void;
    this.closed = new Promise((r) => (onClosed = r));
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('drain', () => {
      const ws = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of ws) w();
    });
    socket.on('error', (err) => this.teardown(err));
    socket.on('end', () => this.teardown(new ConnectionClosedError('peer closed the connection')));
    socket.on('close', () => {
      this.teardown(new ConnectionClosedError('connection closed'));
      onClosed();
    });
  }

  get isClosed(): boolean {
    return this.phase === 'closed';
  }

  // ---- handshake phase: whole JSON messages, one at a time ----

  /** The next message of the handshake; rejects on timeout or close. */
  nextMessage(timeoutMs: number): Promise<Record<string, unknown>> {
    const queued = this.handshakeQueue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.phase === 'closed') return Promise.reject(this.closeReason ?? new ConnectionClosedError('closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.handshakeWaiter = undefined;
        reject(new ProtocolError('handshake timed out'));
      }, timeoutMs);
      this.handshakeWaiter = (m) => {
        clearTimeout(timer);
        this.handshakeWaiter = undefined;
        if (m instanceof Error) reject(m);
        else resolve(m);
      };
    });
  }

  /** Authenticated: raise the frame limit and start serving requests. */
  open(handler?: RequestHandler): void {
    if (this.phase !== 'handshake') return;
    this.phase = 'open';
    this.handler = handler;
    // authenticated: the listener stops its pre-authentication deadline (src/net/listener.ts)
    this.emit('open');
    this.decoder.maxFrame = MAX_FRAME;
    const early = this.handshakeQueue;
    this.handshakeQueue = [];
    for (const m of early) this.safely(() => this.onMessage(m));
  }

  // ---- sending ----

  sendControl(msg: object): void {
    if (this.phase === 'closed') return;
    const b = encodeJson(msg);
    this.bytesSent += b.length;
    this.socket.write(b);
  }

  /**
   * Send a data frame, waiting for the socket to drain first if it is backed up. `whole`:
   * the chunk `data` ends; once the socket has taken it, a pack buffer may be reused.
   */
  async sendData(stream: number, data: Buffer, whole?: Buffer): Promise<void> {
    if (this.phase === 'closed') throw this.closeReason ?? new ConnectionClosedError('closed');
    this.socket.write(encodeDataHeader(stream, data.length));
    this.bytesSent += 9 + data.length;
    // Only a real socket copies what it was given (into the kernel, or TLS records) before
    // its write callback; an in-memory duplex hands the same bytes to its reader.
    const release = whole && this.socketCopies ? (err?: Error | null) => err || releasePackChunk(whole) : undefined;
    // Keep a few frames queued: waiting for a full drain after every frame left the socket
    // idle while we came back with the next one.
    if (!this.socket.write(data, release) && this.socket.writableLength > SEND_BUFFER) await this.drained();
  }

  private drained(): Promise<void> {
    if (this.phase === 'closed') return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  /** Send `base` with `items` cut into frames of bounded size; waits on socket backpressure. */
  private async sendBatched(base: Record<string, unknown>, items: unknown[] | undefined): Promise<void> {
    if (!items || items.length === 0) {
      this.sendControl(base);
      return;
    }
    // Only the first frame carries everything (op, args, streams, result); continuation
    // frames carry just what routes them to that request (docs/protocol.md "Batching"):
    // a peer reads `op` on a later frame as a reused request id.
    let head = JSON.stringify(base).slice(0, -1);
    const rest = JSON.stringify(base.t === 'res' ? { t: base.t, id: base.id, ok: base.ok } : { t: base.t, id: base.id }).slice(0, -1);
    let parts: string[] = [];
    // the frame's pieces when it holds a JsonPieces item: its text so far, then the tail's bytes
    let pieces: Array<string | Buffer> | undefined;
    let bytes = 0;
    const flush = async (more: boolean): Promise<void> => {
      const end = `]${more ? ',"more":true' : ''}}`;
      let frame: Buffer; // a ProtocolError when an item is too large
      if (pieces === undefined) frame = encodeJsonText(`${head},"items":[${parts.join(',')}${end}`);
      else {
        pieces.push(parts.join(',') + end);
        frame = encodeJsonPieces(pieces);
        pieces = undefined;
      }
      head = rest;
      parts = [];
      bytes = 0;
      if (this.phase === 'closed') throw this.closeReason ?? new ConnectionClosedError('closed');
      this.bytesSent += frame.length;
      if (!this.socket.write(frame)) await this.drained();
    };
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item instanceof JsonPieces) {
        const n = item.head.length + item.tailChars;
        if (bytes > 0 && bytes + n > BATCH_BYTES) await flush(true);
        // the text before the tail (with the frame's head first, or a ',' between items) goes as one piece
        const before = `${parts.length > 0 ? `${parts.join(',')},` : ''}${item.head}`;
        if (pieces === undefined) pieces = [`${head},"items":[${before}`];
        else pieces.push(before);
        pieces.push(item.tail);
        // what follows the tail starts with the ',' that joins the next item
        parts = [''];
        bytes += n + 1;
        continue;
      }
      const s = item instanceof JsonText ? item.text : JSON.stringify(item);
      if (bytes > 0 && bytes + s.length > BATCH_BYTES) await flush(true);
      parts.push(s);
      bytes += s.length + 1;
    }
    await flush(false);
  }

  // ---- requests we make ----

  call(op: string, args: Record<string, unknown> = {}, items?: unknown[], opts: CallOptions = {}): Call {
    const early = opts.beforeOpen === true && this.phase === 'handshake' && !opts.upload && !opts.download;
    if (this.phase !== 'open' && !early) {
      const err = this.closeReason ?? new ConnectionClosedError('connection not open');
      return { done: Promise.reject(err) };
    }
    const id = this.nextId++;
    const base: Record<string, unknown> = { t: 'req', id, op, args };
    let download: IncomingStream | undefined;
    if (opts.download) {
      download = this.registerIncoming(this.allocStream());
      base.download = download.id;
    }
    let upload: OutgoingStream | undefined;
    if (opts.upload) {
      upload = this.registerOutgoing(this.allocStream());
      base.upload = upload.id;
    }
    const done = new Promise<Response>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, items: [], result: undefined });
    });
    this.sendBatched(base, items).then(
      () => {
        download?.widen();
        if (upload && opts.upload) {
          const src = opts.upload;
          src.on('error', (err) => upload!.destroy(err));
          upload.on('error', () => src.destroy());
          src.pipe(upload);
        }
      },
      (err: Error) => this.failPending(id, err),
    );
    // An answer ends the upload: whatever is left is not wanted any more.
    done.then(
      () => {
        if (upload && opts.upload && !upload.writableFinished) {
          opts.upload.unpipe(upload);
          upload.destroy(new Error('the peer answered before the upload ended'));
        }
      },
      (err: Error) => {
        // The caller learns why from `done`. The source may not be listening for errors yet
        // (its handlers above come once the request is sent; a connection that died while
        // the request's items waited to drain never gets there), and a source piped from
        // another stream re-emits an error nobody else hears: an uncaught exception.
        opts.upload?.on('error', () => undefined);
        opts.upload?.destroy(err);
        download?.destroy(err);
      },
    );
    done.catch(() => {});
    return { done, download };
  }

  /** Shorthand for a request without streams. */
  async request(op: string, args: Record<string, unknown> = {}, items?: unknown[]): Promise<Response> {
    return this.call(op, args, items).done;
  }

  /** A server-initiated (or client-initiated) notification; no answer. */
  push(topic: string, data: unknown): void {
    this.sendControl({ t: 'push', topic, data });
  }

  private failPending(id: number, err: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.reject(err);
  }

  private allocStream(): number {
    const id = this.nextStream;
    this.nextStream += 2;
    return id;
  }

  private registerIncoming(id: number): IncomingStream {
    const s = new IncomingStream(this, id);
    this.incoming.set(id, s);
    return s;
  }

  private registerOutgoing(id: number): OutgoingStream {
    const s = new OutgoingStream(this, id);
    this.outgoing.set(id, s);
    return s;
  }

  abortIncoming(id: number, reason: string): void {
    if (!this.incoming.delete(id)) return;
    this.abortedIncoming.add(id);
    this.sendControl({ t: 'abort', s: id, error: reason });
  }

  endOutgoing(id: number, error?: string): void {
    if (!this.outgoing.delete(id)) return;
    this.sendControl(error === undefined ? { t: 'end', s: id } : { t: 'end', s: id, error });
  }

  forgetOutgoing(id: number): void {
    this.outgoing.delete(id);
  }

  // ---- receiving ----

  private onBytes(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    if (this.phase === 'closed') return;
    this.safely(() => {
      for (const frame of this.decoder.push(chunk)) {
        if (this.phase === 'closed') return;
        this.onFrame(frame);
      }
    });
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.violation(err as Error);
    }
  }

  /** The peer broke the protocol: log, close, and fail everything in flight. */
  violation(err: Error): void {
    if (this.phase === 'closed') return;
    this.log.warn({ peer: this.label, err: err.message }, 'protocol violation, closing connection');
    this.emit('violation', err);
    this.teardown(err instanceof ProtocolError ? err : new ProtocolError(err.message));
    this.socket.destroy();
  }

  private onFrame(frame: Frame): void {
    if (frame.kind === FRAME_DATA) {
      if (this.phase !== 'open') throw new ProtocolError('data before the handshake');
      const s = this.incoming.get(frame.stream);
      if (s) s.deliver(frame.data);
      else if (!this.abortedIncoming.has(frame.stream)) throw new ProtocolError(`data for unknown stream ${frame.stream}`);
      return;
    }
    if (this.phase === 'handshake') {
      if (this.handshakeWaiter) this.handshakeWaiter(frame.msg);
      else if (this.handshakeQueue.length < 4) this.handshakeQueue.push(frame.msg);
      else throw new ProtocolError('too many messages before the handshake completed');
      return;
    }
    this.onMessage(frame.msg);
  }

  private onMessage(m: Record<string, unknown>): void {
    switch (m.t) {
      case 'req':
        return this.onRequestFrame(m);
      case 'res':
        return this.onResponseFrame(m);
      case 'credit': {
        const s = streamId(m.s);
        const n = m.n;
        if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0 || n > 64 * STREAM_WINDOW) throw new ProtocolError('bad credit');
        this.outgoing.get(s)?.addCredit(n);
        return;
      }
      case 'end': {
        const s = streamId(m.s);
        if (this.abortedIncoming.delete(s)) return;
        const stream = this.incoming.get(s);
        if (!stream) throw new ProtocolError(`end of unknown stream ${s}`);
        this.incoming.delete(s);
        stream.ended = true;
        if (m.error !== undefined) stream.destroy(new RemoteError('stream', String(m.error)));
        else stream.push(null);
        return;
      }
      case 'abort': {
        const s = streamId(m.s);
        const stream = this.outgoing.get(s);
        this.outgoing.delete(s);
        if (!stream) return; // we had already ended it: the peer drops it when our end arrives
        stream.peerAborted(typeof m.error === 'string' ? m.error : 'aborted');
        // Our end lets the peer forget the id it is dropping data for.
        this.sendControl({ t: 'end', s, error: 'aborted' });
        return;
      }
      case 'push':
        if (typeof m.topic !== 'string') throw new ProtocolError('push without topic');
        this.emit('push', m.topic, m.data);
        return;
      case 'ping':
        this.sendControl({ t: 'pong', n: m.n });
        return;
      case 'pong':
        this.emit('pong', m.n);
        return;
      case 'bye':
        this.teardown(new ConnectionClosedError(`peer closed: ${String(m.reason ?? '')}`));
        this.socket.end();
        return;
      default:
        throw new ProtocolError(`unknown message type ${JSON.stringify(m.t).slice(0, 40)}`);
    }
  }

  private onRequestFrame(m: Record<string, unknown>): void {
    const id = m.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1 || id > MAX_ID) throw new ProtocolError('bad request id');
    let a = this.assembling.get(id);
    if (!a) {
      if (typeof m.op !== 'string') throw new ProtocolError('request without op');
      if (m.args !== undefined && (typeof m.args !== 'object' || m.args === null || Array.isArray(m.args))) {
        throw new ProtocolError('request args must be an object');
      }
      if (this.assembling.size + this.running >= MAX_INFLIGHT) throw new ProtocolError('too many requests in flight');
      a = { op: m.op, args: (m.args as Record<string, unknown>) ?? {}, items: [] };
      if (m.upload !== undefined) a.upload = this.peerStreamId(m.upload);
      if (m.download !== undefined) a.download = this.peerStreamId(m.download);
      this.assembling.set(id, a);
    } else if (m.op !== undefined) {
      throw new ProtocolError(`request id ${id} reused`);
    }
    if (m.items !== undefined) {
      if (!Array.isArray(m.items)) throw new ProtocolError('items must be an array');
      if (a.items.length + m.items.length > MAX_ITEMS) throw new ProtocolError('too many items');
      for (const it of m.items) a.items.push(it);
    }
    if (m.more === true) return;
    this.assembling.delete(id);
    this.dispatch(id, a);
  }

  private peerStreamId(v: unknown): number {
    const s = streamId(v);
    // The peer opens ids of the other parity; reuse of a live id is a violation.
    if (s % 2 === this.nextStream % 2 || this.incoming.has(s) || this.outgoing.has(s) || this.abortedIncoming.has(s)) {
      throw new ProtocolError(`bad stream id ${s}`);
    }
    return s;
  }

  private dispatch(id: number, a: Assembling): void {
    // Streams are registered now, before the next frame is read, so the peer's data that
    // follows the request always finds them.
    const upload = a.upload !== undefined ? this.registerIncoming(a.upload) : undefined;
    const download = a.download !== undefined ? this.registerOutgoing(a.download) : undefined;
    upload?.widen();
    const handler = this.handler;
    this.running++;
    const work = handler
      ? Promise.resolve().then(() => handler({ op: a.op, args: a.args, items: a.items, upload, download }))
      : Promise.reject(new RemoteError('unsupported', 'this side serves no requests'));
    work.then(
      async (r) => {
        if (download && !download.writableFinished && !download.destroyed) download.end();
        if (upload && !upload.ended && !upload.destroyed) upload.destroy();
        await this.sendBatched({ t: 'res', id, ok: true, result: r.result ?? null }, r.items);
      },
      (err: Error) => {
        // the handler may have failed before anything listened on its stream: the error is
        // answered below; it must not also surface as an unhandled 'error' (a process crash)
        if (download && download.listenerCount('error') === 0) download.on('error', () => undefined);
        download?.destroy(err);
        upload?.destroy();
        this.sendControl({ t: 'res', id, ok: false, error: toWireError(err) });
        // Hostile input is not an ordinary failure: that peer is done.
        if (err instanceof ProtocolError) this.violation(err);
      },
    ).catch((err: Error) => this.teardown(err)).finally(() => this.running--);
  }

  private onResponseFrame(m: Record<string, unknown>): void {
    const id = m.id;
    if (typeof id !== 'number') throw new ProtocolError('bad response id');
    const p = this.pending.get(id);
    if (!p) throw new ProtocolError(`response to unknown request ${id}`);
    if (m.ok === false) {
      this.pending.delete(id);
      const e = (m.error ?? {}) as Partial<WireError>;
      p.reject(new RemoteError(String(e.code ?? 'error'), String(e.message ?? 'request failed')));
      return;
    }
    if (m.items !== undefined) {
      if (!Array.isArray(m.items)) throw new ProtocolError('items must be an array');
      if (p.items.length + m.items.length > MAX_ITEMS) throw new ProtocolError('too many items');
      for (const it of m.items) p.items.push(it);
    }
    if (m.result !== undefined && m.result !== null) p.result = m.result;
    if (m.more === true) return;
    this.pending.delete(id);
    p.resolve({ result: p.result, items: p.items });
  }

  // ---- closing ----

  /** Polite close: tell the peer, then end the byte stream. */
  close(reason = 'done'): void {
    if (this.phase === 'closed') return;
    this.sendControl({ t: 'bye', reason });
    this.teardown(new ConnectionClosedError(`closed: ${reason}`));
    this.socket.end();
  }

  /** Close without a goodbye (after a refusal, nothing else may follow it). */
  end(reason = 'ended'): void {
    this.teardown(new ConnectionClosedError(reason));
    this.socket.end();
  }

  /** Close and wait for the transport to be gone. */
  async closeAndWait(reason?: string): Promise<void> {
    this.close(reason);
    await this.closed;
  }

  destroy(err?: Error): void {
    this.teardown(err ?? new ConnectionClosedError('destroyed'));
    this.socket.destroy();
  }

  private teardown(err: Error): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.closeReason = err;
    this.handshakeWaiter?.(err);
    for (const [, p] of this.pending) p.reject(err);
    this.pending.clear();
    for (const [, s] of this.incoming) {
      s.ended = true;
      destroyStream(s, err);
    }
    this.incoming.clear();
    for (const [, s] of this.outgoing) destroyStream(s, new RemoteError('closed', err.message));
    this.outgoing.clear();
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of ws) w();
    this.emit('teardown', err);
  }
}

/**
 * Fail a stream whose connection is gone. Its consumer may have finished or not attached
 * yet: an 'error' nobody listens to would be an uncaught exception, and a hostile peer must
 * never take the process down; the connection has already logged why it closed.
 */
function destroyStream(s: IncomingStream | OutgoingStream, err: Error): void {
  if (s.listenerCount('error') > 0) s.destroy(err);
  else s.destroy();
}

function streamId(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > MAX_ID) throw new ProtocolError('bad stream id');
  return v;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof RemoteError) return { code: err.code, message: err.message };
  const e = err as { code?: unknown; message?: unknown };
  return {
    code: typeof e?.code === 'string' ? e.code : err instanceof ProtocolError ? 'protocol' : 'error',
    message: typeof e?.message === 'string' ? e.message : String(err),
  };
}
