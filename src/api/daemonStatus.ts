// `daemonStatus()`: ask a running daemon, over its local control socket, for its status
// (what `omirr status` prints). The socket is found from the same omirr.conf the daemon
// was started with (its node name and `state =` locate the state directory), a state
// directory (`--state-dir`, else $OMIRR_STATE_DIR), or the socket itself: the same rule the
// daemon chose its state directory by (daemonStateDir in src/daemon/paths.ts).
import { existsSync } from 'node:fs';
import type { OmirrConfig } from '../core/config.js';
import { controlRequest } from '../daemon/controlSocket.js';
import { controlSocketFor } from '../daemon/paths.js';
import type { DaemonStatus } from '../daemon/status.js';
import { defaultConfigPath } from './configPath.js';
import { resolveConfig } from './supervisor.js';

export interface DaemonStatusOptions {
  /** The daemon's configuration, parsed (parseConfig/loadConfig). */
  config?: OmirrConfig;
  /** Or its file (default: defaultConfigPath()). */
  configPath?: string;
  /** Or the control socket itself. Give at most one of config, configPath and socket. */
  socket?: string;
  /** The daemon's state directory, when it was started with `--state-dir` (wins over the configuration's). */
  stateDir?: string;
  /** How long to wait for the answer (default 5000 ms). */
  timeoutMs?: number;
}

/**
 * The control socket a status request goes to: `socket`, else the one the configuration
 * implies. A bad configuration file throws ConfigError (naming file:line).
 */
export function daemonSocketPath(opts: DaemonStatusOptions = {}): string {
  const given = [opts.config, opts.configPath, opts.socket].filter((v) => v !== undefined).length;
  if (given > 1) throw new TypeError('daemonStatus: give at most one of config, configPath and socket');
  if (opts.socket !== undefined) return opts.socket;
  if (opts.stateDir !== undefined) return controlSocketFor({}, process.env, opts.stateDir);
  const file = opts.configPath ?? defaultConfigPath();
  // No configuration at all, but $OMIRR_STATE_DIR says where the daemon's state is.
  if (!opts.config && !opts.configPath && process.env.OMIRR_STATE_DIR && !existsSync(file)) return controlSocketFor({});
  return controlSocketFor(resolveConfig(opts.config ?? file));
}

/**
 * The status of the running daemon. Throws ControlError: code NO_DAEMON (nothing listens),
 * TIMEOUT, PROTOCOL, or REMOTE (the daemon answered with an error).
 */
export async function daemonStatus(opts: DaemonStatusOptions = {}): Promise<DaemonStatus> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`daemonStatus: timeoutMs must be > 0, got ${timeoutMs}`);
  return controlRequest<DaemonStatus>(daemonSocketPath(opts), 'status', {}, { timeoutMs });
}

export interface RevertResult {
  tree: string;
  /** Local additions removed. */
  removed: string[];
  /** Paths being restored from the peers (their last records applied again). */
  restoring: string[];
  /** Additions not removed (changed again meanwhile, or a directory not empty): still listed. */
  kept: string[];
}

/**
 * `omirr revert TREE`: the running daemon undoes a receive-only tree's local changes (local
 * additions removed, changed and deleted paths restored from the peers). Throws ControlError
 * like daemonStatus (REMOTE: no such tree, or not receive-only).
 */
export async function daemonRevert(tree: string, opts: DaemonStatusOptions = {}): Promise<RevertResult> {
  return controlRequest<RevertResult>(daemonSocketPath(opts), 'revert', { tree }, { timeoutMs: opts.timeoutMs ?? 60_000 });
}
