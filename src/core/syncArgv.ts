// A light reading of `omirr sync`'s arguments (SRC, DST and the options that decide how the
// ends are opened), made before the command's modules load, so that its ends can be started
// early: the ssh child of an ssh:// end (src/net/sshSpawn.ts), the scan of a local one
// (src/engine/localScan.ts). Only a guess: what is started is used only when the real
// command, parsed by commander, asks for exactly the same thing.

/** Options of `omirr sync` that take a value (so the value is not a positional argument). */
const SYNC_VALUE_OPTIONS = new Set(['--exclude', '--save-dir', '--streams', '--config', '-c', '--key', '--pin', '--secret-file', '--rsh', '--omirr-path', '--log-level', '--inspect', '--stately']);

export interface SyncArgv {
  src: string;
  dst: string;
  dryRun: boolean;
  /** Options given with a value, by name (`--rsh X` and `--rsh=X` alike; the last one wins). */
  opts: Record<string, string>;
}

/** SRC and DST of `omirr sync ARGS...` (ARGS without the command), or undefined if not exactly two. */
export function readSyncArgv(args: string[]): SyncArgv | undefined {
  const positional: string[] = [];
  const opts: Record<string, string> = {};
  let dryRun = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (a === '-n' || a === '--dry-run') dryRun = true;
    if (a.startsWith('-')) {
      const eq = a.indexOf('=');
      if (eq > 0) opts[a.slice(0, eq)] = a.slice(eq + 1);
      else if (SYNC_VALUE_OPTIONS.has(a) && i + 1 < args.length) opts[a] = args[++i]!;
      continue;
    }
    positional.push(a);
  }
  if (positional.length !== 2) return undefined;
  return { src: positional[0]!, dst: positional[1]!, dryRun, opts };
}
