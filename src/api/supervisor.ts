// `startSupervisor(config)`: the long-running mirror master of an omirr.conf (a file, or a
// parsed OmirrConfig): its mm statements (home, max, mirror, cmd, cmdin, skip, job lines)
// run under one mmSupervisor actor whose job actors re-run when their retry timers fire.
// An mm input file is a valid omirr.conf, so this also starts "mm as a daemon" on one.
// Node-level keywords (node, listen, key, peer, tree) are the daemon's and are not used here:
// startDaemon runs the whole configuration (peers, trees and these jobs) from a file.
import { dirname, resolve } from 'node:path';
import { ConfigError, type OmirrConfig } from '../core/config.js';
import { loadConfig } from '../configFile.js';
import { jobActorId, type MmJobActorRef } from '../machines/mmJob.js';
import { startMmSupervisor, type MmSupervisorHandle, type MmSupervisorOptions } from '../mm/runMm.js';

export interface StartSupervisorOptions extends MmSupervisorOptions {
  /** Starting home (default: the configuration file's directory). */
  home?: string;
  /** false: one pass, then `done` resolves (what `omirr mm` does); default true. */
  longRunning?: boolean;
}

export interface SupervisorHandle extends MmSupervisorHandle {
  /** The configuration it runs (parsed from the file when a path was given). */
  config: OmirrConfig;
  /** The live job actor of `site:package`, if that job line has been obeyed. */
  job(sitePackage: string): MmJobActorRef | undefined;
}

/** Load (path) or take (object) a configuration; a bad file throws ConfigError naming file:line. */
export function resolveConfig(config: string | OmirrConfig): OmirrConfig {
  if (typeof config === 'string') return loadConfig(config);
  if (!config || !Array.isArray(config.statements)) {
    throw new ConfigError([{ loc: { file: '(object)', line: 0 }, message: 'not an OmirrConfig (use parseConfig or loadConfig)' }]);
  }
  return config;
}

export function startSupervisor(config: string | OmirrConfig, opts: StartSupervisorOptions = {}): SupervisorHandle {
  const cfg = resolveConfig(config);
  // Relative `home=` lines resolve against the configuration's directory, as in the daemon.
  const home = opts.home ?? dirname(resolve(cfg.file));
  const handle = startMmSupervisor({ ...opts, home, statements: cfg.statements, longRunning: opts.longRunning ?? true });
  return {
    ...handle,
    // The file's own unparsable lines come first, as `omirr mm` reports them.
    warnings: [...cfg.warnings, ...handle.warnings],
    config: cfg,
    job: (sitePackage) => handle.actor.getSnapshot().children[jobActorId(sitePackage)] as MmJobActorRef | undefined,
  };
}
