// node:crypto, loaded at its first use instead of by an import: `omirr serve --stdio` loaded
// it before its first answer (through the handshake's HMAC, the TLS fingerprints and the
// content hashes' imports), which a peer over ssh never needs before a file is hashed or
// written to a temporary; loading it took 8-52 ms at load 3-15 (docs/performance.md,
// "ssh:// start-up, second pass").
import { createRequire } from 'node:module';
import type * as NodeCrypto from 'node:crypto';

let loaded: typeof NodeCrypto | undefined;

export function nodeCrypto(): typeof NodeCrypto {
  return (loaded ??= createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto);
}
