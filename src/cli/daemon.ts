// `omirr daemon [-c omirr.conf]`: online mirroring of the configured trees with their peers,
// plus the configuration's site:package jobs; runs until stopped. SIGTERM/SIGINT: finish
// in-flight work, flush, exit 0. SIGHUP: reload the configuration. See docs/daemon.md.
import type { Command } from 'commander';
import { EXIT, listenReason, UsageError } from './exitCodes.js';
import { ConfigError } from '../core/config.js';
import { createLogger } from '../log.js';
import { startDaemon } from '../daemon/daemon.js';
import { defaultConfigPath, SYSTEM_CONFIG_PATH } from '../api/configPath.js';
import { addInspectOptions, startCliInspect, type InspectCliOptions } from '../inspect/cliInspect.js';

interface DaemonFlags extends InspectCliOptions {
  config?: string;
  stateDir?: string;
  conflictCopies?: boolean;
  owner?: boolean;
  tombstoneDays?: string;
}

function tombstoneMs(days: string): number {
  const d = Number(days);
  if (!Number.isFinite(d) || d <= 0) throw new UsageError(`daemon: --tombstone-days expects a positive number, got '${days}'`);
  return Math.round(d * 24 * 3600 * 1000);
}

export function register(program: Command): void {
  const cmd = program
    .command('daemon')
    .description('run the online mirror daemon (in.omirrd): mirror the trees of omirr.conf with its peers, and run its site:package jobs on their timers')
    .option('-c, --config <file>', `the configuration (default: $OMIRR_CONFIG, else ./omirr.conf if present, else ${SYSTEM_CONFIG_PATH})`)
    .option('--state-dir <dir>', 'state directory (index, outboxes, control socket); default: see docs/daemon.md')
    .option('--no-conflict-copies', 'on a concurrent change, drop the losing content instead of keeping NAME.omirr-conflict-... (overrides conflicts = on)')
    .option('--owner', 'mirror owner and group too, only when running as root (overrides owner = off)')
    .option('--tombstone-days <days>', 'how long deletes are remembered, a peer away longer may bring a file back (overrides tombstones = DAYS; default 30)')
    .addHelpText(
      'after',
      '\nSignals: SIGTERM or SIGINT stop the daemon cleanly (exit 0); SIGHUP reloads the configuration.\n' +
        'Exit codes: 0 stopped by a signal; 2 bad configuration; 4 another daemon runs on this state directory.',
    );
  addInspectOptions(cmd).action(async (flags: DaemonFlags) => {
    // flags given on the command line win over the configuration's conflicts/owner/tombstones
    const mirror = {
      ...(cmd.getOptionValueSource('conflictCopies') === 'cli' ? { keepConflicts: flags.conflictCopies !== false } : {}),
      ...(flags.owner === true ? { owner: true } : {}),
      ...(flags.tombstoneDays !== undefined ? { tombstoneKeepMs: tombstoneMs(flags.tombstoneDays) } : {}),
    };
    const log = createLogger({ name: 'omirr-daemon' });
    const configFile = flags.config ?? defaultConfigPath();
    // --inspect: the live statechart page and /metrics (per-peer lag, outbox depth, ...).
    const ins = await startCliInspect(flags, { log, command: 'daemon' });
    // The stop handlers go in before the daemon starts: a supervisor may send SIGTERM as soon
    // as it sees 'daemon running', and a signal with no handler yet kills node outright (exit
    // by signal, no clean stop). A stop or reload asked for during start-up is done once it is up.
    let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
    let stopAsked = false;
    let reloadAsked = false; // a SIGHUP during start-up: the file may have changed after it was read
    const onHup = (): void => {
      log.info(daemon ? 'SIGHUP: reloading the configuration' : 'SIGHUP while starting: reloading once up');
      if (daemon) void daemon.reload();
      else reloadAsked = true;
    };
    const onTerm = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping');
      stopAsked = true;
      if (daemon) void daemon.stop();
    };
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onTerm);
    const offSignals = (): void => {
      process.off('SIGHUP', onHup);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onTerm);
    };
    try {
      daemon = await startDaemon({
        configFile,
        log,
        ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
        ...(ins.inspect ? { inspect: ins.inspect } : {}),
        metrics: { registry: ins.metrics, m: ins.m },
        mirror,
      });
    } catch (err) {
      offSignals();
      await ins.close();
      if (err instanceof ConfigError) throw new UsageError(err.message);
      const msg = (err as Error).message;
      if (/another omirr daemon is running/.test(msg)) throw new UsageError(`daemon: ${msg}`, EXIT.LOCKED);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES') {
        const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
        throw new UsageError(`daemon: cannot listen on ${e.address ?? '?'}:${e.port ?? '?'}: ${listenReason(code)}`);
      }
      if (/no 'key = FILE'|^key |EADDRINUSE|EACCES/.test(msg)) throw new UsageError(`daemon: ${msg}`);
      throw err;
    }
    if (stopAsked) void daemon.stop();
    else if (reloadAsked) void daemon.reload();
    try {
      await daemon.done;
      await daemon.stop();
    } finally {
      offSignals();
      await ins.close();
    }
    log.info('stopped');
  });
}
