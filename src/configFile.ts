// Reading omirr.conf from disk: the I/O edge of src/core/config.ts (which only parses), so
// the core stays pure. Every command and the daemon load their configuration through here.
// Beside log.ts (not in src/actors) because src/net reads configurations too and
// dependencies point down.
import { readFileSync } from 'node:fs';
import { ConfigError, parseConfig, type OmirrConfig } from './core/config.js';

/** Read and parse a configuration file; an unreadable or bad one throws ConfigError (file:line). */
export function loadConfig(path: string): OmirrConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ loc: { file: path, line: 0 }, message: `cannot read: ${(err as Error).message}` }]);
  }
  return parseConfig(text, path);
}
