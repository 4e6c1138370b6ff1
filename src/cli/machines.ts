// `omirr machines [--format mermaid|json|markdown] [--machine NAME]`: prints the
// statechart of every machine omirr runs (docs/machines.md is its markdown output).
import type { Command } from 'commander';
import { UsageError } from './exitCodes.js';
import { machines } from '../machines/registry.js';
import { exportMachines, type MachinesFormat } from '../inspect/machinesDoc.js';

const FORMATS: MachinesFormat[] = ['mermaid', 'json', 'markdown'];

export function register(program: Command): void {
  program
    .command('machines')
    .description("export every machine's statechart (states, nesting, transitions with events and delays)")
    .option('--format <format>', `output format: ${FORMATS.join(', ')} (markdown = docs/machines.md)`, 'mermaid')
    .option('--machine <name...>', 'only these machines (default: all)')
    .addHelpText('after', `\nMachines: ${machines.map((m) => m.name).join(', ')}`)
    .action((opts: { format: string; machine?: string[] }) => {
      if (!FORMATS.includes(opts.format as MachinesFormat)) throw new UsageError(`machines: unknown --format ${opts.format} (use ${FORMATS.join(', ')})`);
      let list = machines;
      if (opts.machine) {
        const unknown = opts.machine.filter((n) => !machines.some((m) => m.name === n));
        if (unknown.length) throw new UsageError(`machines: no machine named ${unknown.join(', ')} (have ${machines.map((m) => m.name).join(', ')})`);
        list = machines.filter((m) => opts.machine!.includes(m.name));
      }
      process.stdout.write(exportMachines(list, opts.format as MachinesFormat));
    });
}
