// `omirr machines`: not implemented yet (placeholder registered so the CLI layout is stable).
import type { Command } from 'commander';
import { UsageError } from './exitCodes.js';

export function register(program: Command): void {
  program
    .command('machines')
    .description('(not implemented yet)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new UsageError('machines: not implemented yet');
    });
}
