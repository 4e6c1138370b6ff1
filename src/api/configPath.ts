// Which omirr.conf a command reads when it is not given `-c FILE`/`--config FILE`: one rule
// for every command (daemon, status, serve, mirror), so they all find the same file.
//   1. $OMIRR_CONFIG, when set and not empty;
//   2. ./omirr.conf, when it exists (a node run from its own directory);
//   3. /etc/omirr/omirr.conf (the system-wide file the systemd unit uses).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_CONFIG_PATH } from '../daemon/paths.js';

/** The system-wide configuration (/etc/omirr/omirr.conf), the last choice of defaultConfigPath(). */
export const SYSTEM_CONFIG_PATH: string = DEFAULT_CONFIG_PATH;

export interface ConfigPathEnv {
  env?: NodeJS.ProcessEnv;
  /** Directory `./omirr.conf` is looked for in (default: process.cwd()). */
  cwd?: string;
}

/** The configuration file to read when none is named (see the rule above). */
export function defaultConfigPath(where: ConfigPathEnv = {}): string {
  const env = where.env ?? process.env;
  if (env.OMIRR_CONFIG) return env.OMIRR_CONFIG;
  const local = resolve(where.cwd ?? process.cwd(), 'omirr.conf');
  if (existsSync(local)) return local;
  return SYSTEM_CONFIG_PATH;
}

/**
 * For commands whose configuration is optional (`omirr mirror`, `omirr sync`): the file of
 * defaultConfigPath() when it was named by $OMIRR_CONFIG or exists, else undefined.
 */
export function optionalConfigPath(where: ConfigPathEnv = {}): string | undefined {
  const env = where.env ?? process.env;
  const p = defaultConfigPath(where);
  return env.OMIRR_CONFIG || existsSync(p) ? p : undefined;
}
