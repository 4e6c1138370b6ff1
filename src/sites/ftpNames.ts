// Names on an FTP control connection are bytes, not text. A server on a Unix file system
// sends and takes a file's name as the bytes the file system holds (vsftpd does no
// conversion), and an old site's names are often Latin-1 or KOI8, not UTF-8. So the control
// connection runs in `latin1`, where each byte is one character and back, and names cross
// it through these two functions: a name string (src/core/names.ts: UTF-8 as text, any other
// byte escaped) becomes the bytes it stands for, and a server's bytes become the name
// string, so `caf\xe9.txt` is listed, fetched and written under exactly its own bytes.
import { decodeName, encodeName } from '../core/names.js';

/** Printable ASCII and the tab: the same characters in every form (the common name). */
const PLAIN = /^[\x09\x20-\x7e]*$/;

/** `name` (a path or command argument) as the latin1 string that writes its exact bytes. */
export function toWire(name: string): string {
  return PLAIN.test(name) ? name : encodeName(name).toString('latin1');
}

/** Text the server sent (read as latin1) as name strings: UTF-8 where it is, other bytes escaped. */
export function fromWire(text: string): string {
  return PLAIN.test(text) ? text : decodeName(Buffer.from(text, 'latin1'));
}
