// How a receiver reports a file it could not write: the path, and the file-system error
// spelled out, the same on both ends of a transfer (the receiver's log, the sender's output).

/**
 * What a failed write of `path` is reported as: the path, and for a file-system error its
 * code spelled out ("no space left on device"), which the receiver logs and the sender shows.
 */
export function writeErrorMessage(path: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && typeof e.syscall === 'string') {
    const what = WRITE_ERRORS[e.code] ?? e.message.replace(/^[A-Z]+: /, '').replace(/, \w+$/, '');
    return `${path}: ${what} (${e.code} in ${e.syscall})`;
  }
  return (err as Error)?.message ?? String(err);
}

const WRITE_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'input/output error',
  EFBIG: 'file too large',
};
