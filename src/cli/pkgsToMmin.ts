// `omirr pkgs-to-mmin [-y H] [-n H] [files...]`: print mm job lines for the packages in
// mirror package files (standard input when no files). A thin layer over core/pkgsToMmin.
import type { Command } from 'commander';
import { UsageError } from './exitCodes.js';
import { pkgsToMmin, PKGS_TO_MMIN_DEFAULT_HOURS } from '../core/pkgsToMmin.js';
import { MmInputError, readMmInputs } from '../mm/runMm.js';

function hours(flag: string) {
  return (value: string): number => {
    // mm reads the hours with \d+, so anything else would make lines mm cannot parse.
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
      throw new UsageError(`pkgs-to-mmin: ${flag}: expected whole hours, got '${value}'`);
    }
    return Number(value);
  };
}

async function readInputs(names: string[]): Promise<Array<{ name: string; text: string }>> {
  try {
    // Standard input is named '-', as Perl's $ARGV calls it (the name becomes the mm site).
    return await readMmInputs(names, process.stdin, { stdinName: '-' });
  } catch (err) {
    if (err instanceof MmInputError) throw new UsageError(`pkgs-to-mmin: cannot read ${err.file}: ${err.reason}`);
    throw err;
  }
}

export function register(program: Command): void {
  program
    .command('pkgs-to-mmin')
    .description(
      'print one mm job line (FILE:PACKAGE Y N) for each package in mirror package files; ' +
        'reads standard input when no files are given (see docs/pkgs-to-mmin.md)',
    )
    .option('-y <hours>', 'min-restart-last-ok hours for every line', hours('-y'), PKGS_TO_MMIN_DEFAULT_HOURS)
    .option('-n <hours>', 'min-restart-last-notok hours for every line', hours('-n'), PKGS_TO_MMIN_DEFAULT_HOURS)
    .argument('[files...]', 'mirror package files (the file name becomes the mm site)')
    .action(async (files: string[], opts: { y: number; n: number }) => {
      const lines = pkgsToMmin(await readInputs(files), { yes: opts.y, no: opts.n });
      if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n');
    });
}
