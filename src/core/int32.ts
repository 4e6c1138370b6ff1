// What a 32-bit typed-array column holds exactly. Alone in its module so that the scan's
// columns (scanColumns.ts), loaded by every scan and every local no-op, do not load the
// daemon's index (compactIndex.ts, with its path table: ~4 ms of a no-op's start).

const U32 = 2 ** 32;

/** An unsigned 32-bit integer (what a Uint32Array column holds exactly). */
export const isU32 = (x: number | undefined): x is number => x !== undefined && Number.isInteger(x) && x >= 0 && x < U32;
/** A signed 32-bit integer (what an Int32Array column holds exactly). */
export const isI32 = (x: number | undefined): x is number => x !== undefined && Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31;
