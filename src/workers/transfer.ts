// A task's result with buffers moved to the main thread instead of copied. Without it,
// piscina clones a result: every typed array is copied into one serialisation buffer and out
// again (a million-file scan's columns: ~17 MB a share, allocated in the io thread and freed
// on the main thread, which also raised glibc's mmap threshold to that size and with it how
// much freed memory each malloc arena keeps: issue 12, "Scale").
import { Piscina } from 'piscina';

/** Result objects whose listed buffers are transferred to the main thread, not copied. */
export function moveWith<T extends object>(value: T, transfer: ArrayBuffer[]): T {
  return Piscina.move({ [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: value } as never) as unknown as T;
}
