// A small file fetched over FTP's pipelined RETR (./ftpRetrPipeline.ts) straight into one
// buffer of its listed size: no stream per file (a PassThrough, its async iterator and the
// end/close events cost more than the file's bytes for 1-16 KiB files), and each read copied
// once, into place. siteTar.ts takes the buffer whole (SiteFileSource.openWhole).
import { BLOCK, padding } from '../workers/tarFormat.js';
import type { WholeFile } from './siteTar.js';
import type { RetrSink } from './ftpRetrPipeline.js';

/**
 * Files are framed in slabs of this size, one after another in the order they were asked
 * for: room for the tar header, the bytes, the zero padding. A file's tar entry is then
 * written in place, and files that follow each other in the slab go to the receiver as one
 * chunk (siteTar.ts). An ArrayBuffer of their own per file, and a copy to join them, made
 * external-memory garbage collections the largest part of the main thread's work.
 */
const SLAB_BYTES = 1 << 20;
let slab: Buffer | undefined;
let slabAt = 0;

/** `n` bytes (a multiple of BLOCK) from the current slab, or a buffer of their own when large. */
function frameBuffer(n: number): Buffer {
  if (n > SLAB_BYTES / 8) return Buffer.allocUnsafeSlow(n);
  if (!slab || slabAt + n > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabAt = 0;
  }
  const b = slab.subarray(slabAt, slabAt + n);
  slabAt += n;
  return b;
}

export class WholeFileSink implements RetrSink {
  destroyed = false;
  readonly data: Promise<WholeFile>;
  /** header room + the listed size + padding; dropped when the file turns out longer. */
  private frame: Buffer | undefined;
  private buf: Buffer;
  private n = 0;
  private closeListeners: Array<() => void> = [];
  private resolve!: (f: WholeFile) => void;
  private reject!: (e: Error) => void;

  /** `expect`: the listed size; `limit`: bytes kept at most, for a file that grew. */
  constructor(
    private readonly expect: number,
    private readonly limit: number,
  ) {
    this.frame = frameBuffer(BLOCK + expect + padding(expect));
    this.buf = this.frame.subarray(BLOCK, BLOCK + expect);
    this.data = new Promise<WholeFile>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.data.catch(() => {}); // the taker sees it
  }

  writeCopy(view: Uint8Array): boolean {
    if (this.destroyed) return true;
    if (this.n + view.length > this.buf.length) {
      // longer than listed (changed since): keep up to `limit`, then let go
      const room = Math.min(this.limit, Math.max(2 * this.buf.length, this.n + view.length));
      const grown = Buffer.allocUnsafe(room);
      this.buf.copy(grown, 0, 0, this.n);
      this.buf = grown;
      this.frame = undefined;
      if (this.n + view.length > room) {
        const keep = room - this.n;
        this.buf.set(view.subarray(0, keep), this.n);
        this.n += keep;
        this.end();
        this.close();
        return true;
      }
    }
    this.buf.set(view, this.n);
    this.n += view.length;
    return true;
  }

  end(): void {
    if (this.frame && this.n === this.expect) {
      this.frame.fill(0, BLOCK + this.expect);
      this.resolve({ data: this.buf, framed: this.frame });
    } else this.resolve({ data: this.n === this.buf.length ? this.buf : this.buf.subarray(0, this.n) });
  }

  /** The download failed (refused, cut off). */
  fail(err: Error): void {
    this.reject(err);
  }

  /** Nobody wants it any more: the pipeline drops its data connection. */
  cancel(): void {
    this.reject(new Error('abandoned'));
    this.close();
  }

  once(event: 'close' | 'drain', listener: () => void): this {
    // never full, so never 'drain'
    if (event === 'close') this.closeListeners.push(listener);
    return this;
  }

  private close(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const l of this.closeListeners.splice(0)) l();
  }
}
