// The omirr command line: a thin layer over the programmatic API in src/index.ts.
// Each subcommand lives in its own module and registers itself here.
import { Command, CommanderError } from 'commander';
import { EXIT, UsageError } from './exitCodes.js';
import { register as registerMm } from './mm.js';
import { register as registerPkgsToMmin } from './pkgsToMmin.js';
import { register as registerMirror } from './mirror.js';
import { register as registerSync } from './sync.js';
import { register as registerServe } from './serve.js';
import { register as registerDaemon } from './daemon.js';
import { register as registerStatus } from './status.js';
import { register as registerInspect } from './inspect.js';
import { register as registerMachines } from './machines.js';
import { register as registerKeygen } from './keygen.js';
import { VERSION } from '../version.js';

export function buildProgram(): Command {
  const program = new Command('omirr')
    .description('Concurrent online mirroring (in.omirrd) and mirror master (mm) on xstate actors')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError()
    // Program options only before the subcommand: mm's own flags (e.g. -V) must reach mm.
    .enablePositionalOptions();
  for (const register of [
    registerDaemon,
    registerMm,
    registerMirror,
    registerPkgsToMmin,
    registerServe,
    registerSync,
    registerStatus,
    registerInspect,
    registerMachines,
    registerKeygen,
  ]) {
    register(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are "errors" with exit code 0 under exitOverride
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`omirr: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    throw err;
  }
}
