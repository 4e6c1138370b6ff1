// Names omirr cannot carry: paths are JSON strings (UTF-8) in the protocol, the index and the
// plan, so a file name that is not valid UTF-8 has no faithful form there, and a path
// longer than the kernel's PATH_MAX cannot be reached by a path-based call. Such entries are
// reported (never skipped silently) with their name escaped for people to read.

/**
 * `bytes` as text, valid UTF-8 kept as it is and every other byte written as `\xNN`
 * (a backslash as `\\`), so the report names the file unambiguously.
 */
export function escapeName(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = '';
  let i = 0;
  while (i < b.length) {
    const n = utf8SequenceLength(b, i);
    if (n === 0) {
      out += `\\x${b[i]!.toString(16).padStart(2, '0')}`;
      i++;
      continue;
    }
    const ch = b.toString('utf8', i, i + n);
    out += ch === '\\' ? '\\\\' : ch;
    i += n;
  }
  return out;
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
