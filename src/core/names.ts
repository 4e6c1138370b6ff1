// Names that are not UTF-8, carried byte-exactly (Python's PEP 383 "surrogateescape").
// Paths inside omirr are JS strings: in the protocol (JSON), the index, the plan, the logs.
// A file name on Linux is any bytes but '/' and NUL, not necessarily UTF-8. So a byte that
// is not part of well-formed UTF-8 travels as the lone surrogate U+DC80 + (byte - 0x80)
// (U+DC80..U+DCFF; such a byte is always >= 0x80): decodeName(bytes) makes the string,
// encodeName(string) gives the same bytes back. JSON carries lone surrogates as \udcXX
// escapes, so the protocol and the index need nothing more. At the file-system edge,
// fsPath() hands node:fs the exact bytes (a Buffer path) only when a path holds an escaped
// byte: the common path stays a plain string.
//
// One string per byte sequence: a string whose escapes would decode differently (escaped
// bytes that form valid UTF-8, or any other lone surrogate) is not canonical and refused
// (isCanonicalName; src/core/paths.ts unsafeReason), so two strings never name one file.

/** Thrown by encodeName for a string no byte sequence decodes to (a lone surrogate outside U+DC80..U+DCFF). */
export class NameEncodingError extends Error {
  override name = 'NameEncodingError';
}

const ESCAPE_BASE = 0xdc00;
/** Any UTF-16 surrogate: a string without one is plain (well-formed, nothing escaped). */
const ANY_SURROGATE = /[\uD800-\uDFFF]/;

/** Throws on anything but well-formed UTF-8; keeps a leading BOM (it is part of the name). */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isAscii(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/** `bytes` as a name string: valid UTF-8 as it is, every other byte as U+DC80..U+DCFF. */
export function decodeName(bytes: Uint8Array): string {
  const b = asBuffer(bytes);
  // the common name is short ASCII: a byte loop is cheaper than the strict decoder
  if (b.length <= 256 && isAscii(b)) return b.toString('latin1');
  try {
    return STRICT_UTF8.decode(b);
  } catch {
    // not UTF-8: escape the bytes that are not (below)
  }
  let out = '';
  let start = 0;
  let i = 0;
  while (i < b.length) {
    const n = utf8SequenceLength(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += b.toString('utf8', start, i) + String.fromCharCode(ESCAPE_BASE + b[i]!);
    start = ++i;
  }
  return out + b.toString('utf8', start);
}

/** The bytes `name` stands for (decodeName's inverse); throws NameEncodingError for a lone surrogate outside U+DC80..U+DCFF. */
export function encodeName(name: string): Buffer {
  if (!ANY_SURROGATE.test(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  const escaped: number[] = [];
  const flushEscaped = (): void => {
    if (escaped.length > 0) parts.push(Buffer.from(escaped.splice(0)));
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff) {
      const d = name.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++; // a pair: plain text
        continue;
      }
      throw new NameEncodingError(`lone surrogate U+${c.toString(16).toUpperCase()} in a name`);
    }
    if (c < 0xdc80 || c > 0xdcff) throw new NameEncodingError(`lone surrogate U+${c.toString(16).toUpperCase()} in a name`);
    if (start < i) {
      flushEscaped();
      parts.push(Buffer.from(name.slice(start, i), 'utf8'));
    }
    escaped.push(c - ESCAPE_BASE);
    start = i + 1;
  }
  flushEscaped();
  if (start < name.length) parts.push(Buffer.from(name.slice(start), 'utf8'));
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * Whether `name` holds an escaped byte (or any lone surrogate): its bytes are not its UTF-8.
 * isWellFormed alone (a string not well-formed holds a surrogate): it answers a string of
 * one-byte characters at once, where the surrogate regex read every character first, and
 * a scan asks it of every path (~130 ms a million paths less; docs/performance.md).
 */
export function hasEscapedBytes(name: string): boolean {
  return !(name as string & { isWellFormed(): boolean }).isWellFormed();
}

/**
 * Whether `name` is the one string of its bytes: plain text, or escapes that decodeName
 * would make (not bytes that form valid UTF-8 together, no other lone surrogate).
 */
export function isCanonicalName(name: string): boolean {
  if (!hasEscapedBytes(name)) return true;
  try {
    return decodeName(encodeName(name)) === name;
  } catch {
    return false;
  }
}

/** Bytes of `name` on the file system (Buffer.byteLength counts an escape as 3). */
export function nameByteLength(name: string): number {
  return hasEscapedBytes(name) ? encodeName(name).length : Buffer.byteLength(name);
}

/**
 * What node:fs gets for the path `p`: the string itself, or, when it holds escaped bytes,
 * the exact bytes (fs takes a Buffer path as the bytes of the name). Every file-system call
 * on a path of a tree goes through this.
 */
export function fsPath(p: string): string | Buffer {
  return hasEscapedBytes(p) ? encodeName(p) : p;
}

/**
 * A name for people (logs, status, reports): escaped bytes written as `\xNN`; a name
 * without any is shown as it is. Never for the file system.
 */
export function displayName(name: string): string {
  if (!hasEscapedBytes(name)) return name;
  let out = '';
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    out += ch.length === 1 && c >= 0xdc80 && c <= 0xdcff ? `\\x${(c - ESCAPE_BASE).toString(16).padStart(2, '0')}` : ch;
  }
  return out;
}

/** Characters encodeURIComponent leaves as they are. */
const URI_UNRESERVED = /^[A-Za-z0-9\-_.!~*'()]$/;

/**
 * encodeURIComponent over the name's bytes: the same text for a plain name, and `%NN` for
 * an escaped byte (where encodeURIComponent throws).
 */
export function percentEncodeName(name: string): string {
  if (!hasEscapedBytes(name)) return encodeURIComponent(name);
  let out = '';
  for (const byte of encodeName(name)) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && URI_UNRESERVED.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** percentEncodeName's inverse (decodeURIComponent for a plain name). */
export function percentDecodeName(s: string): string {
  const parts: Buffer[] = [];
  for (const m of s.matchAll(/%([0-9A-Fa-f]{2})|[^%]+|%/g)) parts.push(m[1] !== undefined ? Buffer.from([parseInt(m[1], 16)]) : Buffer.from(m[0], 'utf8'));
  return decodeName(Buffer.concat(parts));
}

/** Length of the well-formed UTF-8 sequence at b[i] (RFC 3629: no overlongs, no surrogates, at most U+10FFFF), or 0. */
function utf8SequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}
