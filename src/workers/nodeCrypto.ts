// node:crypto, loaded at its first use instead of by an import: `omirr serve --stdio` loaded
// it before its first answer (through the handshake's HMAC, the TLS fingerprints and the
// content hashes' imports), which a peer over ssh never needs before a file is hashed or
// written to a temporary; loading it alone took 4-20 ms at load 4-13 (docs/performance.md,
// "ssh:// start-up, second pass"). In workers, not core: a require is I/O for the layers
// test (core/tempPath.ts imports node:crypto itself, and is kept off that path).
import { createRequire } from 'node:module';
import type * as NodeCrypto from 'node:crypto';

let loaded: typeof NodeCrypto | undefined;

export function nodeCrypto(): typeof NodeCrypto {
  return (loaded ??= createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto);
}
