// `omirr revert TREE [-c omirr.conf | --state-dir DIR | --socket PATH]`: undo the local
// changes of a receive-only tree (docs/daemon.md "Tree modes"): the running daemon removes
// local additions and restores the peers' last versions of what was changed or deleted.
// Found the same way as `omirr status` finds the daemon.
import type { Command } from 'commander';
import { EXIT, UsageError } from './exitCodes.js';
import { ConfigError } from '../core/config.js';
import { ControlError } from '../daemon/controlSocket.js';
import { daemonRevert } from '../api/daemonStatus.js';
import { count } from '../core/count.js';

interface RevertOptions {
  json?: boolean;
  config?: string;
  socket?: string;
  stateDir?: string;
}

export async function runRevert(tree: string, opts: RevertOptions): Promise<void> {
  if (opts.config && opts.socket) throw new UsageError('revert: give either -c FILE or --socket PATH, not both');
  try {
    const r = await daemonRevert(tree, {
      ...(opts.socket ? { socket: opts.socket } : {}),
      ...(opts.config ? { configPath: opts.config } : {}),
      ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
    });
    if (opts.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else {
      process.stdout.write(`tree ${r.tree}: ${count(r.removed.length, 'local addition')} removed, ${count(r.restoring.length, 'path')} being restored from the peers\n`);
      for (const p of r.removed) process.stdout.write(`  removed   ${p}\n`);
      for (const p of r.restoring) process.stdout.write(`  restoring ${p}\n`);
      for (const p of r.kept) process.stdout.write(`  kept      ${p} (changed again, or not empty; still listed)\n`);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    if (err instanceof ControlError) throw new UsageError(`revert: ${err.message}`, err.code === 'REMOTE' ? EXIT.FAILED : EXIT.CONNECT);
    throw err;
  }
}

export function register(program: Command): void {
  program
    .command('revert')
    .description("undo a receive-only tree's local changes: local additions removed, changed or deleted files restored from the peers")
    .argument('<tree>', 'the tree (its name in omirr.conf)')
    .option('--json', 'print what was done as JSON')
    .option('-c, --config <file>', "the daemon's configuration (found as for omirr status)")
    .option('--state-dir <dir>', 'the state directory the daemon was started with')
    .option('--socket <path>', 'the control socket itself (instead of -c)')
    .addHelpText('after', '\nExit codes: 0 done; 1 the daemon refused (no such tree, not receive-only); 3 no daemon is listening; 2 bad arguments.')
    .action(async (tree: string, opts: RevertOptions) => runRevert(tree, opts));
}
