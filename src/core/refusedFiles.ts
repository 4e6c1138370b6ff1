// Files a site's pack stream left out because the site answered "no" (an FTP 550, an SFTP
// status, an HTTP error: an error with a numeric reply code). The receiver sees only that
// they are missing ("not received"), and when the connection is lost later in the run those
// are summed up in one line (runMirror.ts lostSite): the reply is kept beside the stream so
// the failure names the path and what the site said. A failure without a reply (the socket
// reset or refused) is not kept: it is the lost connection's, said once.
import type { Readable } from 'node:stream';

const refusals = new WeakMap<Readable, Map<string, string>>();

/** An error that is the site's reply (it carries a numeric code: FTPError, SFTP status, HTTP status). */
export function isSiteReply(err: unknown): boolean {
  return typeof (err as { code?: unknown } | undefined)?.code === 'number';
}

/** Keep `refused` (path -> why) beside `stream`, filled while the stream runs. */
export function keepRefusals(stream: Readable, refused: Map<string, string>): void {
  refusals.set(stream, refused);
}

/** What the site said when it refused `path` in this stream, if it did. */
export function refusalOf(stream: Readable, path: string): string | undefined {
  return refusals.get(stream)?.get(path);
}
