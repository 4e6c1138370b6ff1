// The CLI's exit codes live in src/core/exitCodes.ts (parsers below the CLI throw UsageError
// too, and dependencies point down); re-exported here so the commands keep importing them
// from their own directory.
export { EXIT, UsageError } from '../core/exitCodes.js';

/** Why a listen failed, in words (EADDRINUSE and EACCES are the operator's to fix: exit USAGE). */
export function listenReason(code: string | undefined): string {
  if (code === 'EADDRINUSE') return 'address already in use (another omirr serve or daemon, or another program; choose another port)';
  if (code === 'EACCES') return 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)';
  if (code === 'EADDRNOTAVAIL') return 'no such address on this host';
  return code ?? 'failed';
}
