// One duplex over two one-way byte streams: an ssh:// tree's child (its stdout to read, its
// stdin to write) and `omirr serve --stdio` (process.stdin, process.stdout).
//
// Why not node's Duplex.from({ readable, writable }): its write callback fires as soon as
// the inner stream accepted the chunk, before the bytes left the process, so the protocol
// connection (src/net/connection.ts) had to treat the ssh pipes as an in-memory duplex: every
// received data frame reassembled (a copy of each byte, a fresh 256 KiB buffer a frame) and
// copied again by the unpack's gather, and no pack buffer given back for reuse (a fresh 4 MiB
// buffer a batch, page faults and garbage). Here a write's callback is the inner pipe's own
// (after the kernel took the bytes), and a pipe's reads are fresh buffers nobody else holds,
// exactly as a TCP socket's: the connection streams data pieces as they came and transfers
// whole reads to the extract thread (docs/performance.md, "Twenty-second version").
import { Socket } from 'node:net';
import { Duplex, type Readable, type Writable } from 'node:stream';

export class PipeDuplex extends Duplex {
  /** Reads are fresh buffers that no one else refers to (a pipe or socket read). */
  readonly freshReads: boolean;
  /** A write's callback comes once the bytes are out of our hands (written to the kernel). */
  readonly copiesWrites: boolean;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {
    // the inner pipe holds what waits for the kernel; this side only passes chunks on
    super({ allowHalfOpen: true, readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
    this.freshReads = input instanceof Socket;
    this.copiesWrites = output instanceof Socket;
    input.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) input.pause();
    });
    input.once('end', () => this.push(null));
    input.once('error', (err) => this.destroy(err));
    output.once('error', (err) => this.destroy(err));
  }

  override _read(): void {
    this.input.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.output.write(chunk, cb);
  }

  /**
   * What queued while a write was under way goes to the pipe as one gathered write: a data
   * frame's 9-byte header and its payload, and the credit messages between them, leave in
   * one system call instead of one each.
   */
  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.output.cork();
    for (let i = 0; i < chunks.length - 1; i++) this.output.write(chunks[i]!.chunk);
    this.output.write(chunks[chunks.length - 1]!.chunk, cb);
    this.output.uncork();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.output.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.input.destroy();
    this.output.destroy();
    cb(err);
  }
}

/**
 * The transport copies what it is given before its write callback, and its reads are
 * buffers of its own: a real socket, or a PipeDuplex over real pipes (src/net/connection.ts).
 */
export function transportCopies(d: Duplex): { reads: boolean; writes: boolean } {
  if (d instanceof Socket) return { reads: true, writes: true };
  if (d instanceof PipeDuplex) return { reads: d.freshReads, writes: d.copiesWrites };
  return { reads: false, writes: false };
}
