// Stable exit codes for every omirr command (documented in docs/cli.md).
export const EXIT = {
  /** Everything asked for was done. */
  OK: 0,
  /** Ran, but something failed: a job, a file transfer, a package. */
  FAILED: 1,
  /** Bad command line or bad configuration: nothing was done. */
  USAGE: 2,
  /** Could not reach or authenticate with a peer or site. */
  CONNECT: 3,
  /** A lock is held by another live process. */
  LOCKED: 4,
  /** Internal error: a bug. */
  INTERNAL: 70,
} as const;

/** Thrown for bad input; the CLI prints the message (which names file:line) and exits USAGE. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(message: string, readonly exitCode: number = EXIT.USAGE) {
    super(message);
  }
}

/** Why a listen failed, in words (EADDRINUSE and EACCES are the operator's to fix: exit USAGE). */
export function listenReason(code: string | undefined): string {
  if (code === 'EADDRINUSE') return 'address already in use (another omirr serve or daemon, or another program; choose another port)';
  if (code === 'EACCES') return 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)';
  if (code === 'EADDRNOTAVAIL') return 'no such address on this host';
  return code ?? 'failed';
}
