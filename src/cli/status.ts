// `omirr status [--json] [-c omirr.conf | --socket PATH]`: asks the running daemon, over its
// local control socket, for every actor and its state, each peer's connection, clock
// offset, outbox depth and lag, and each tree's file count and last change. The work is
// daemonStatus() (src/api/daemonStatus.ts); this maps its errors to exit codes.
import type { Command } from 'commander';
import { EXIT, UsageError } from './exitCodes.js';
import { ConfigError } from '../core/config.js';
import { ControlError } from '../daemon/controlSocket.js';
import { formatStatus, type DaemonStatus } from '../daemon/status.js';
import { daemonStatus } from '../api/daemonStatus.js';
import { SYSTEM_CONFIG_PATH } from '../api/configPath.js';

export interface StatusOptions {
  json?: boolean;
  config?: string;
  socket?: string;
  stateDir?: string;
  timeout?: string;
}

export async function runStatus(opts: StatusOptions): Promise<void> {
  if (opts.config && opts.socket) throw new UsageError('status: give either -c FILE or --socket PATH, not both');
  if (opts.stateDir && opts.socket) throw new UsageError('status: give either --state-dir DIR or --socket PATH, not both');
  const timeoutMs = opts.timeout === undefined ? 5000 : Number(opts.timeout);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError(`status: --timeout expects milliseconds, got '${opts.timeout}'`);
  let status: DaemonStatus;
  try {
    status = await daemonStatus({
      ...(opts.socket ? { socket: opts.socket } : {}),
      ...(opts.config ? { configPath: opts.config } : {}),
      ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
      timeoutMs,
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    if (err instanceof ControlError) {
      throw new UsageError(`status: ${err.message}`, err.code === 'REMOTE' ? EXIT.FAILED : EXIT.CONNECT);
    }
    throw err;
  }
  process.stdout.write(opts.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
}

export function register(program: Command): void {
  program
    .command('status')
    .description('ask the running daemon for every actor and its state, per-peer connection, clock offset, outbox depth and lag, and per-tree file count and last change')
    .option('--json', 'print the full status as JSON')
    .option('-c, --config <file>', `the daemon's configuration (default: $OMIRR_CONFIG, else ./omirr.conf if present, else ${SYSTEM_CONFIG_PATH}); its node name locates the control socket`)
    .option('--state-dir <dir>', 'the state directory the daemon was started with (`omirr daemon --state-dir DIR`); default: as the daemon chooses it (state = in the config, else $OMIRR_STATE_DIR, ...)')
    .option('--socket <path>', 'the control socket itself (instead of -c)')
    .option('--timeout <ms>', 'how long to wait for the answer', '5000')
    .addHelpText(
      'after',
      '\nExit codes: 0 answered; 3 no daemon is listening (or it did not answer); 2 bad arguments or configuration.',
    )
    .action(async (opts: StatusOptions) => runStatus(opts));
}
