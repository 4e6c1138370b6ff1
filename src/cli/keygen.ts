// `omirr keygen`: make a node key (Ed25519, PKCS#8 PEM, mode 0600) and print the fingerprint
// that peers pin; or print the fingerprint of an existing key.
import type { Command } from 'commander';
import { fingerprintOfFile, writeKeyFile } from '../net/keys.js';
import { UsageError } from './exitCodes.js';

export function register(program: Command): void {
  program
    .command('keygen')
    .description('make a node key and print its fingerprint (for peer lines and --pin)')
    .option('--out <file>', 'write a new key here (never overwrites)')
    .option('--fingerprint <file>', 'print the fingerprint of an existing key file')
    .action((flags: { out?: string; fingerprint?: string }) => {
      if ((flags.out === undefined) === (flags.fingerprint === undefined)) {
        throw new UsageError('keygen: give either --out FILE or --fingerprint FILE');
      }
      try {
        const fp = flags.out !== undefined ? writeKeyFile(flags.out) : fingerprintOfFile(flags.fingerprint!);
        process.stdout.write(`${fp}\n`);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const file = flags.out ?? flags.fingerprint;
        throw new UsageError(`keygen: ${file}: ${e.code === 'EEXIST' ? 'exists already (not overwritten)' : e.message}`);
      }
    });
}
