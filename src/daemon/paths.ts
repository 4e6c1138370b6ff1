// Where a daemon keeps its state (index, outboxes, control socket), and where the CLI
// finds it again: both sides derive it from the same omirr.conf, so `omirr status -c FILE`
// reaches the daemon started with `omirr daemon -c FILE`.
import os from 'node:os';
import path from 'node:path';
import { controlSocketPath } from './controlSocket.js';

/** The configuration both `omirr daemon` and `omirr status` read when -c is not given. */
export const DEFAULT_CONFIG_PATH = '/etc/omirr/omirr.conf';

export interface StateDirSource {
  /** The config's node name: state dirs of several nodes on one host stay apart. */
  node?: string;
  /** An explicit state directory (omirr.conf `state = DIR`, when the parser has it). */
  stateDir?: string;
}

/**
 * The daemon's state directory, first found of:
 *  1. `stateDir` from the configuration,
 *  2. $OMIRR_STATE_DIR,
 *  3. /var/lib/omirr/<node> when running as root (systemd's StateDirectory=omirr),
 *  4. $XDG_STATE_HOME/omirr/<node> (default ~/.local/state/omirr/<node>).
 */
export function resolveStateDir(src: StateDirSource, env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? -1): string {
  if (src.stateDir) return path.resolve(src.stateDir);
  if (env.OMIRR_STATE_DIR) return path.resolve(env.OMIRR_STATE_DIR);
  const node = src.node ?? 'default';
  if (uid === 0) return path.join('/var/lib/omirr', node);
  const xdg = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(os.homedir(), '.local', 'state');
  return path.join(xdg, 'omirr', node);
}

/** A node's name: its `node =`, else this host's name (what the daemon announces). */
export function nodeNameOf(src: StateDirSource): string {
  return src.node ?? os.hostname();
}

/**
 * The state directory of the daemon a configuration describes, as `omirr daemon` chooses it
 * and `omirr status` finds it again (one rule for both): `--state-dir` (`explicit`), else
 * resolveStateDir() with the node's name.
 */
export function daemonStateDir(src: StateDirSource, explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return path.resolve(explicit);
  return resolveStateDir({ ...src, node: nodeNameOf(src) }, env);
}

/** The control socket of the daemon a configuration describes. */
export function controlSocketFor(src: StateDirSource, env: NodeJS.ProcessEnv = process.env, explicitStateDir?: string): string {
  return controlSocketPath(daemonStateDir(src, explicitStateDir, env));
}
