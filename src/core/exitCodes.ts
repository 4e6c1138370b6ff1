// Stable exit codes for every omirr command (documented in docs/cli.md), and the error for bad
// input. In core (pure, no I/O) because parsers below the CLI throw UsageError too.
export const EXIT = {
  /** Everything asked for was done. */
  OK: 0,
  /** Ran, but something failed: a job, a file transfer, a package. */
  FAILED: 1,
  /** Bad command line or bad configuration: nothing was done. */
  USAGE: 2,
  /** Could not reach or authenticate with a peer or site, or lost the connection to it mid-run. */
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
