// The `strong` argument of a signatures request apart from the rest of the delta wire, so a
// server reads it without loading that module (loaded by the first delta call): the signing
// then starts as the request is read, not after a module load.
import type { StrongAlg } from '../core/delta.js';
import { oldDelta } from '../workers/contentHash.js';
import { ProtocolError } from './frames.js';

/** The `strong` argument of a signatures request, or a signature's `strongAlg`: absent is CRC-32. */
export function wireStrongAlg(v: unknown): StrongAlg {
  // OMIRR_OLD_DELTA: as the build before delta-lanes32, which knew neither field and read CRC-32s
  if (v === undefined || v === 'crc32' || oldDelta()) return 'crc32';
  if (v === 'lanes32') return 'lanes32';
  throw new ProtocolError(`strong block hash ${JSON.stringify(v).slice(0, 40)} not offered`);
}
