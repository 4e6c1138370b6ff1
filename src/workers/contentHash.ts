// Whole-file content hashes by algorithm. sha256 (node:crypto) is what every omirr speaks;
// BLAKE3, through the native binding @napi-rs/blake-hash, is 3-4x its speed here (3.5 against
// 1.0 GB/s in one thread, docs/performance.md) and is used where both ends negotiated the
// capability `hash-blake3` (so far: the verification hash of delta transfers). The binding
// is loaded on first use. Whether to offer the capability is decided without loading it
// (blake3Installed): the load (its libc probe and the dlopen) cost ~13 ms per process at every
// handshake, also of the no-op runs that hash nothing. Where no prebuilt binary for this
// platform is installed this build does not offer the capability and speaks sha256 only.
import { nodeCrypto } from './nodeCrypto.js';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type HashAlg = 'sha256' | 'blake3';
/** The capability: both ends can verify content with BLAKE3. */
export const HASH_BLAKE3_CAP = 'hash-blake3';
/** The capability: delta streams may be verified with the BLAKE3 of their ranges' BLAKE3s (src/core/delta.ts, 'blake3-ranges'). */
export const HASH_BLAKE3_RANGES_CAP = 'hash-blake3-ranges';

/** A whole-file hash and its algorithm (hex digits). */
export interface HexHash {
  alg: HashAlg;
  hex: string;
}

export interface ContentHasher {
  update(data: Uint8Array): void;
  /** 32 bytes for either algorithm. */
  digest(): Buffer;
}

interface Blake3Binding {
  Blake3Hasher: new () => { update(input: Uint8Array): unknown; digestBuffer(): Buffer };
}

let binding: Blake3Binding | null | undefined;

function blake3(): Blake3Binding | null {
  if (binding === undefined) {
    try {
      binding = createRequire(import.meta.url)('@napi-rs/blake-hash') as Blake3Binding;
      new binding.Blake3Hasher().update(Buffer.alloc(1)); // the native part really loads
    } catch {
      binding = null;
    }
  }
  return binding;
}

let installed: boolean | undefined;

/**
 * Whether the binding and a prebuilt binary for this platform and architecture are installed
 * (npm installs only the optional package that fits the platform, its `os`, `cpu` and `libc`),
 * found by their directories, without loading either. Once the binding was loaded, its result.
 */
function blake3Installed(): boolean {
  if (binding !== undefined) return binding !== null;
  if (installed === undefined) {
    try {
      const main = createRequire(import.meta.url).resolve('@napi-rs/blake-hash');
      const pkg = dirname(main);
      const prefix = `blake-hash-${process.platform}-${process.arch}`;
      const has = (dir: string, f: (n: string) => boolean): boolean => {
        try {
          return readdirSync(dir).some(f);
        } catch {
          return false;
        }
      };
      // the binary beside index.js, or its platform package hoisted beside it or nested below it
      installed =
        has(pkg, (n) => n.endsWith('.node')) ||
        has(dirname(pkg), (n) => n.startsWith(prefix)) ||
        has(join(pkg, 'node_modules', '@napi-rs'), (n) => n.startsWith(prefix));
    } catch {
      installed = false;
    }
  }
  return installed;
}

/**
 * Whether this process can hash with BLAKE3: the binding is installed for this platform (not
 * loaded: it loads on the first hash, so a run that hashes nothing never pays for it).
 */
export function blake3Available(): boolean {
  return process.env.OMIRR_NO_BLAKE3 !== '1' && blake3Installed();
}

/** The algorithms this process can verify with, the preferred first. */
export function localHashAlgs(): HashAlg[] {
  return blake3Available() ? ['blake3', 'sha256'] : ['sha256'];
}

/**
 * The capability: tar streams (`pack`, `unpack`) may verify large files with BLAKE3
 * (`omirr.blake3` instead of `omirr.sha256`, docs/protocol.md). A capability of its own:
 * a peer that only knows `hash-blake3` (deltas) would not check an `omirr.blake3`.
 */
export const TAR_BLAKE3_CAP = 'tar-blake3';

/**
 * Files of at least this many bytes go BLAKE3-verified in a tar stream where both ends can;
 * smaller ones keep sha256: loading the binding costs a thread 5-15 ms, which hashing a few
 * small files faster (BLAKE3 4x sha256's speed on 1 MiB pieces, about the same per 8 KiB
 * file) never pays back.
 */
export const TAR_BLAKE3_MIN_BYTES = 4 << 20;

/** The whole-file hash a verifying tar stream sends a file of `size` bytes with. */
export function tarHashFor(size: number, blake3: boolean): HashAlg {
  return blake3 && size >= TAR_BLAKE3_MIN_BYTES ? 'blake3' : 'sha256';
}

/**
 * OMIRR_OLD_DELTA=1: this process does deltas as the build before `delta-lanes32` and
 * `hash-blake3-ranges` did (CRC-32 block hashes, the whole file hashed ahead): for tests and
 * benchmarks of a peer of that build.
 */
export function oldDelta(): boolean {
  return process.env.OMIRR_OLD_DELTA === '1';
}

/** The whole-file hashes of delta streams this process can verify and send, the preferred first. */
export function localDeltaHashes(): Array<HashAlg | 'blake3-ranges'> {
  if (!blake3Available()) return ['sha256'];
  return oldDelta() ? ['blake3', 'sha256'] : ['blake3-ranges', 'blake3', 'sha256'];
}

/** BLAKE3 of the concatenated 32-byte hashes (a 'blake3-ranges' stream's END hash). */
export function hashOfRanges(digests: Buffer[]): Buffer {
  const h = newHasher('blake3');
  for (const d of digests) h.update(d);
  return h.digest();
}

/**
 * The hash of one whole buffer, hex: for sha256 one native call (node's `crypto.hash`), without
 * the Hash object, its stream machinery and the digest Buffer that createHash makes per file
 * (about 2 us of a small file's 8-10 us, at each end of a first copy).
 */
export function hashHexOnce(alg: HashAlg, data: Uint8Array): string {
  const oneShot = alg === 'sha256' ? hashOneShot() : undefined;
  if (oneShot) return oneShot('sha256', data, 'hex');
  const h = newHasher(alg);
  h.update(data);
  return h.digest().toString('hex');
}

/** node >= 20.12 (engines allows 20.0, which lacks it: read as a property, not imported by name). */
const hashOneShot = (): ((alg: string, data: Uint8Array, enc: 'hex') => string) | undefined => (nodeCrypto() as { hash?: (alg: string, data: Uint8Array, enc: 'hex') => string }).hash;

export function newHasher(alg: HashAlg): ContentHasher {
  if (alg === 'sha256') {
    const h = nodeCrypto().createHash('sha256');
    return { update: (d) => void h.update(d), digest: () => h.digest() };
  }
  const b = blake3();
  if (!b) throw new Error('BLAKE3 is not available in this build');
  const h = new b.Blake3Hasher();
  return { update: (d) => void h.update(d), digest: () => h.digestBuffer() };
}
