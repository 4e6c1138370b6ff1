// `omirr serve --stdio PATH`: the far side of every ssh:// sync, alone in its module so that
// src/cli/main.ts runs it (with the usual arguments) loading only what it serves with: not
// commander, not `serve`'s config paths (api/configPath.ts -> daemon/paths.ts ->
// daemon/controlSocket.ts and node:net, ~5-25 ms of loading on the far side's critical path:
// docs/performance.md, "ssh:// start-up (issue 12, this round)").
import type { LevelWithSilent } from 'pino';
import { createLogger } from '../log.js';
import { serveStdio } from '../net/server.js';
import { EXIT } from './exitCodes.js';
import { ProtocolError } from '../net/frames.js';

/** Also run straight from src/cli/main.ts, without commander, when its arguments are only these flags (docs/performance.md, "Eleventh version"). */
export async function runServeStdio(path: string, flags: { writable?: boolean; logLevel?: LevelWithSilent }): Promise<void> {
  const log = createLogger({ level: flags.logLevel, name: 'omirr-serve' });
  const ended = await serveStdio({ input: process.stdin, output: process.stdout, root: path, writable: flags.writable === true, log });
  // the pools' module is there only when a tree was opened (engine/localTree.ts loads it)
  await (await import('../workers/pool.js')).closePools();
  // a peer that broke the protocol was dropped (and logged): not a clean end
  if (ended instanceof ProtocolError) process.exitCode = EXIT.FAILED;
}
