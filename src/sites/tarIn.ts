// Reading the engine's tar stream on a site that is written to (mirror's upload mode): each
// regular file entry in turn, with its checked path, size, resume offset and the sender's
// sha256 (docs/protocol.md, "Tar streams"). Anything else in the stream (a link, a device,
// an unsafe path, a malformed hash) refuses the whole stream, as the local receiver does.
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { assertSafeRelPath } from '../engine/paths.js';
import { SHA256_KEY } from '../workers/tarFormat.js';

export interface TarFileEntry {
  path: string;
  /** Bytes in this entry. */
  size: number;
  /** omirr.offset: the entry's data starts at this byte of the file. */
  offset: number;
  /** omirr.sha256: the whole file's sha256, when the sender sent it. */
  sha256?: string;
  /** The entry's data; the callback must consume it (or resume() it) before returning. */
  body: Readable;
}

export async function readTarEntries(tar: Readable, onFile: (e: TarFileEntry) => Promise<void>): Promise<void> {
  const ex = extract();
  tar.on('error', (err) => ex.destroy(err));
  tar.pipe(ex);
  try {
    for await (const entry of ex) {
      const h = entry.header as typeof entry.header & { pax?: Record<string, string> };
      if (h.type !== 'file') throw new Error(`tar entry ${JSON.stringify(h.name)}: not a regular file (${h.type})`);
      assertSafeRelPath(h.name);
      const pax = h.pax ?? {};
      const sha = pax[SHA256_KEY];
      if (sha !== undefined && !/^[0-9a-f]{64}$/.test(sha)) throw new Error(`tar entry ${h.name}: malformed ${SHA256_KEY}`);
      const offset = pax['omirr.offset'] === undefined ? 0 : Number(pax['omirr.offset']);
      if (!Number.isSafeInteger(offset) || offset < 0) throw new Error(`tar entry ${h.name}: bad omirr.offset`);
      const body = Readable.from(entry as AsyncIterable<Buffer>, { objectMode: false });
      await onFile({ path: h.name, size: h.size ?? 0, offset, ...(sha !== undefined ? { sha256: sha } : {}), body });
      // whatever the callback left unread
      if (!body.destroyed && !body.readableEnded) {
        body.resume();
        await finished(body);
      }
    }
  } finally {
    tar.unpipe(ex);
    if (!tar.readableEnded) tar.destroy();
  }
}
