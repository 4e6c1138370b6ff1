// LocalTree.delta without its weight: the delta core (core/delta.ts, with its WebAssembly and
// node:zlib) and LocalDelta load at the first delta call, not when the tree is opened. A
// no-op never makes one, and `serve --stdio` answered `open` ~9 ms later for loading them
// (docs/performance.md, "ssh:// start-up, second pass"). A delta run's first calls are the
// hints (warmToSend, warmToReceive) and the hashes or signatures, which start the load well
// before anything is packed.
import { Readable } from 'node:stream';
import type { DeltaHash, Signature, StrongAlg } from '../core/delta.js';
import type { DeltaEndpoint, DeltaPackOptions, DeltaRequest, DeltaUnpackResult, Expected } from '../core/tree.js';
import type { Logger } from '../log.js';
import { localDeltaHashes, oldDelta } from '../workers/contentHash.js';
import type { LocalDelta } from './localDelta.js';

/** Both strong block hashes are always there (lanes32 falls back to JavaScript without WebAssembly); lanes32 is the fast one. */
export const STRONG_ALGS: readonly StrongAlg[] = ['lanes32', 'crc32'];

/** The strong block hashes a local end signs and matches with (LocalDelta.strongAlgs). */
export function localStrongAlgs(): readonly StrongAlg[] {
  return oldDelta() ? ['crc32'] : STRONG_ALGS;
}

export class LazyDelta implements DeltaEndpoint {
  private loaded: LocalDelta | undefined;
  private loading: Promise<LocalDelta> | undefined;
  private hashes: readonly DeltaHash[] | undefined;
  readonly strongAlgs: readonly StrongAlg[] = localStrongAlgs();

  constructor(private readonly make: (m: typeof import('./localDelta.js')) => LocalDelta) {}

  /** (asks whether the BLAKE3 binding is there: at the first use, not at open) */
  get hashAlgs(): readonly DeltaHash[] {
    return (this.hashes ??= this.loaded?.hashAlgs ?? localDeltaHashes());
  }

  /** The real endpoint, its modules loaded once (the first caller starts the load). */
  private delta(): Promise<LocalDelta> {
    return (this.loading ??= import('./localDelta.js').then((m) => (this.loaded = this.make(m))));
  }

  warmToSend(): void {
    if (this.loaded) return this.loaded.warmToSend();
    this.delta().then((d) => d.warmToSend()).catch(() => undefined); // (a hint: nothing fails)
  }

  warmToReceive(bytes: number): void {
    if (this.loaded) return this.loaded.warmToReceive(bytes);
    this.delta().then((d) => d.warmToReceive(bytes)).catch(() => undefined);
  }

  async signatures(paths: string[], strong?: StrongAlg): Promise<Map<string, Signature>> {
    return (await this.delta()).signatures(paths, strong);
  }

  async wholeHashes(paths: string[], alg: DeltaHash): Promise<Map<string, string>> {
    return (await this.delta()).wholeHashes(paths, alg);
  }

  async unpack(stream: Readable, expect: Expected[]): Promise<DeltaUnpackResult> {
    // (LocalDelta.unpack keeps an error that comes before its listeners; so does this wait)
    let early: Error | undefined;
    const onEarly = (err: Error): void => {
      early ??= err;
    };
    stream.on('error', onEarly);
    const d = await this.delta();
    stream.off('error', onEarly);
    if (early) throw early;
    return d.unpack(stream, expect);
  }

  pack(files: DeltaRequest[], opts?: DeltaPackOptions): Readable {
    if (this.loaded) return this.loaded.pack(files, opts);
    // asked before any other delta call: the records follow the load (its checks' errors
    // are the stream's)
    const delta = this.delta();
    async function* records(): AsyncGenerator<Buffer> {
      yield* (await delta).pack(files, opts) as AsyncIterable<Buffer>;
    }
    return Readable.from(records(), { objectMode: false, highWaterMark: 1 << 20 });
  }
}
