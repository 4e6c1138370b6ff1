// `omirr mm`: not implemented yet (placeholder registered so the CLI layout is stable).
import type { Command } from 'commander';
import { UsageError } from './exitCodes.js';

export function register(program: Command): void {
  program
    .command('mm')
    .description('(not implemented yet)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new UsageError('mm: not implemented yet');
    });
}
