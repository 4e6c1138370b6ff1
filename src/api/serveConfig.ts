// `serveConfig(config)`: export the trees of an omirr.conf over TLS, as `omirr serve` does:
// the configuration's key, peers (pinned fingerprints), secret and tree lines, listening on
// its `listen` address or the one given. Resolves once the server listens.
import type { HostPort, OmirrConfig } from '../core/config.js';
import { silentLogger, type Logger } from '../log.js';
import { serveOptionsFromConfig, serveTrees, type OmirrServer } from '../net/server.js';
import { resolveConfig } from './supervisor.js';

export interface ServeConfigOptions {
  /** Listen here instead of the configuration's `listen` (port 0: any free port). */
  listen?: HostPort;
  /** Warnings about the configuration's lines are logged here too. */
  log?: Logger;
}

/**
 * Serve the trees of `config` (a file, or an OmirrConfig). A bad file throws ConfigError
 * (naming file:line); a configuration without `key` or `listen` throws an Error saying so.
 */
export async function serveConfig(config: string | OmirrConfig, opts: ServeConfigOptions = {}): Promise<OmirrServer> {
  const cfg = resolveConfig(config);
  const log = opts.log ?? silentLogger;
  for (const w of cfg.warnings) log.warn(`${w.loc.file}:${w.loc.line}: ${w.message}`);
  return serveTrees(serveOptionsFromConfig(cfg, { ...(opts.listen ? { listen: opts.listen } : {}), log }));
}
