// A task's result with buffers moved to the main thread instead of copied. Without it,
// piscina clones a result: every typed array is copied into one serialisation buffer and out
// again (a million-file scan's columns: ~17 MB a share, allocated in the io thread and freed
// on the main thread, which also raised glibc's mmap threshold to that size and with it how
// much freed memory each malloc arena keeps: issue 12, "Scale").
//
// Without piscina's main module in the thread: Piscina.move only wraps the value (under the
// two registered symbols below) and marks the wrapper with piscina's own `markMovable`, from
// its small `common` module, the one piscina's worker side checks a result with. The main
// module is ~20 modules (~13 ms of CPU through require, more as an ES import), loaded for
// that one call in every thread that packs or extracts: each small transfer's thread, on the
// transfer's critical path. Should a piscina version move the mark, Piscina.move is used.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** piscina's `Piscina.transferableSymbol` and `Piscina.valueSymbol` (Symbol.for: the same in every module). */
const kTransferable = Symbol.for('Piscina.transferable');
const kValue = Symbol.for('Piscina.valueOf');

type Mark = (wrapper: object) => void;

/** piscina's markMovable, from the `common` module next to its main one; else Piscina.move. */
function loadMark(): Mark {
  try {
    const common = require(join(dirname(require.resolve('piscina')), 'common.js')) as { markMovable?: unknown; isMovable?: unknown };
    if (typeof common.markMovable === 'function' && typeof common.isMovable === 'function') return common.markMovable as Mark;
  } catch {
    // (laid out otherwise: the public way below)
  }
  const { Piscina } = require('piscina') as typeof import('piscina');
  return (wrapper) => void Piscina.move(wrapper as never);
}

let mark: Mark | undefined;

/** Result objects whose listed buffers are transferred to the main thread, not copied. */
export function moveWith<T extends object>(value: T, transfer: ArrayBuffer[]): T {
  const wrapper = { [kTransferable]: transfer, [kValue]: value };
  (mark ??= loadMark())(wrapper);
  return wrapper as unknown as T;
}

/** What moveWith wrapped: the value and the buffers to transfer, for a thread that posts it itself (packThread.ts). */
export function unwrapMoved<T extends object>(moved: T): { value: T; transfer: ArrayBuffer[] } {
  const w = moved as unknown as Record<symbol, unknown>;
  if (!(kValue in w)) return { value: moved, transfer: [] };
  return { value: w[kValue] as T, transfer: (w[kTransferable] as ArrayBuffer[]) ?? [] };
}
