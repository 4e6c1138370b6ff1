// A served tree's binary listing as it comes from the io thread that walks it (the scan
// task's `port`, workers/scanTask.ts): blocks are handed on while the walk goes on, so the
// peer compares the listing meanwhile instead of after the whole scan. Before this, `omirr
// serve` sent the first byte only when its scan was done (~200 ms for 20,000 entries), and
// the client's comparison (~50 ms) followed it on the no-op's critical path.
import type { ScanTaskResult } from '../workers/scanTask.js';

export class ListingFeed {
  private readonly blocks: Buffer[] = [];
  private got = 0;
  private result: ScanTaskResult | undefined;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  /** Settles true at the first block or a good end, false when the scan failed before any block. */
  readonly started: Promise<boolean>;
  private start!: (ok: boolean) => void;
  /** Settles when every block is here (or the scan failed): the port can close. */
  readonly settled: Promise<void>;
  private settle!: () => void;

  constructor() {
    this.started = new Promise((r) => (this.start = r));
    this.settled = new Promise((r) => (this.settle = r));
  }

  /** A block posted by the walking thread, in the listing's order. */
  block(b: Buffer): void {
    this.blocks.push(b);
    this.got++;
    this.start(true);
    this.poke();
  }

  /** The scan's result: its `streamed` blocks came (or come) through block(), its `listing` after them. */
  end(r: ScanTaskResult): void {
    this.result = r;
    this.start(true);
    this.poke();
  }

  fail(err: Error): void {
    this.failure = err;
    this.start(this.got > 0);
    this.poke();
  }

  /** Whether the listing is whole: the result came and every block it counts was received. */
  private whole(): boolean {
    return this.result !== undefined && this.got >= (this.result.streamed ?? 0);
  }

  private poke(): void {
    if (this.failure || this.whole()) this.settle();
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /**
   * The blocks, in order, as they come; then the result's last ones. A scan that fails after
   * blocks went out throws here: the peer's call fails (a listing cut short is never taken
   * as whole). `onEnd` gets the result (what the scan left out) before the last block.
   */
  async *read(onEnd: (r: ScanTaskResult) => void): AsyncGenerator<Buffer> {
    for (;;) {
      while (this.blocks.length > 0) yield this.blocks.shift()!;
      if (this.failure) throw this.failure;
      if (this.whole()) break;
      await new Promise<void>((r) => (this.wake = r));
    }
    if (this.got > (this.result!.streamed ?? 0)) throw new Error('scan: more listing blocks than the scan counted');
    onEnd(this.result!);
    for (const b of this.result!.listing ?? []) yield b;
  }
}
