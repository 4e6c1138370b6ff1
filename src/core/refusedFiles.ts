// Files a site's pack stream left out because the site answered "no" (an FTP 550, an SFTP
// status, an HTTP error: an error with a numeric reply code). The receiver sees only that
// they are missing ("not received"), and when the connection is lost later in the run those
// are summed up in one line (runMirror.ts lostSite): the reply is kept beside the stream so
// the failure names the path and what the site said. A failure without a reply (the socket
// reset or refused) is not kept: it is the lost connection's, said once.
import type { Readable } from 'node:stream';

const refusals = new WeakMap<Readable, Map<string, string>>();

/**
 * Reply codes that say the session or its connection failed, not that this file was refused:
 * FTP 421 (closing), 425/426 (data connection), 500 (vsftpd's "500 OOPS: child died" when its
 * session process is killed; a command not understood), 530 (not logged in); SFTP 6/7 (no
 * connection, connection lost). A file that failed so is the lost connection's, said once.
 */
const SESSION_FAILED = new Set([421, 425, 426, 500, 530, 6, 7]);

/** An error that is the site's refusal of a file (it carries a numeric code: FTPError, SFTP status, HTTP status; not one of SESSION_FAILED). */
export function isSiteReply(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && !SESSION_FAILED.has(code);
}

/** Keep `refused` (path -> why) beside `stream`, filled while the stream runs. */
export function keepRefusals(stream: Readable, refused: Map<string, string>): void {
  refusals.set(stream, refused);
}

/** What the site said when it refused `path` in this stream, if it did. */
export function refusalOf(stream: Readable, path: string): string | undefined {
  return refusals.get(stream)?.get(path);
}
