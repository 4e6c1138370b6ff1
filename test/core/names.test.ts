import { test } from 'node:test';
import assert from 'node:assert/strict';

import { randomBytes } from 'node:crypto';
import {
  decodeName,
  displayName,
  encodeName,
  fsPath,
  hasEscapedBytes,
  isCanonicalName,
  nameByteLength,
  NameEncodingError,
  percentDecodeName,
  percentEncodeName,
} from '../../src/core/names.js';
import { rng } from '../helpers/fidelityFixtures.js';

/** Byte strings that stress UTF-8 boundaries: random bytes, mixed with valid sequences and their broken prefixes. */
function nastyBytes(r: () => number): Buffer {
  const pieces: Buffer[] = [];
  const n = 1 + Math.floor(r() * 12);
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.3) pieces.push(Buffer.from([Math.floor(r() * 256)]));
    else if (k < 0.5) pieces.push(Buffer.from(['é', '😀', '中', 'a', '\uFFFD', '\uFEFF', '\u{10FFFF}'][Math.floor(r() * 7)]!));
    else if (k < 0.7) pieces.push(Buffer.from('😀中é').subarray(0, Math.floor(r() * 9))); // cut mid-sequence
    else if (k < 0.85) pieces.push(Buffer.from([[0xed, 0xa0, 0x80], [0xed, 0xb2, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xe0, 0x80, 0xaf]][Math.floor(r() * 5)]!).subarray(0)); // surrogates, overlongs, > U+10FFFF
    else pieces.push(randomBytes(1 + Math.floor(r() * 6)));
  }
  return Buffer.concat(pieces);
}

test('decodeName/encodeName round-trip every byte string exactly (random and boundary-heavy, 5,000 cases)', () => {
  const r = rng(0xc0ffee);
  for (let i = 0; i < 5_000; i++) {
    const b = i % 2 === 0 ? randomBytes(1 + Math.floor(r() * 40)) : nastyBytes(r);
    const s = decodeName(b);
    assert.ok(encodeName(s).equals(b), `round trip of ${b.toString('hex')}`);
    assert.ok(isCanonicalName(s), `decodeName makes canonical strings: ${b.toString('hex')}`);
    assert.equal(nameByteLength(s), b.length);
    assert.equal(decodeName(encodeName(s)), s);
    assert.equal(percentDecodeName(percentEncodeName(s)), s);
  }
});

test('every single byte and every pair of bytes round-trips', () => {
  for (let a = 0; a < 256; a++) {
    assert.ok(encodeName(decodeName(Buffer.from([a]))).equals(Buffer.from([a])));
    for (let b = 0; b < 256; b++) {
      const buf = Buffer.from([a, b]);
      assert.ok(encodeName(decodeName(buf)).equals(buf), buf.toString('hex'));
    }
  }
});

test('valid UTF-8 decodes to itself, nothing escaped, and the fs gets the plain string', () => {
  for (const s of ['plain', 'é ü', '😀 emoji', '\uFFFD literal replacement char', '\uFEFFbom first', '\u{10FFFF}', 'a/b/c', '']) {
    assert.equal(decodeName(Buffer.from(s, 'utf8')), s);
    assert.equal(hasEscapedBytes(s), false);
    assert.equal(fsPath(s), s, 'a plain path is passed as a string');
    assert.equal(percentEncodeName(s), encodeURIComponent(s));
    assert.equal(displayName(s), s);
  }
});

test('a byte that is not UTF-8 becomes U+DC80..U+DCFF; fsPath gives fs the exact bytes', () => {
  const latin1 = Buffer.from([0x66, 0xff, 0x2e, 0x74, 0x78, 0x74]);
  const s = decodeName(latin1);
  assert.equal(s, 'f\uDCFF.txt');
  assert.equal(hasEscapedBytes(s), true);
  const p = fsPath(`/root/dir/${s}`);
  assert.ok(Buffer.isBuffer(p));
  assert.ok(p.equals(Buffer.concat([Buffer.from('/root/dir/'), latin1])));
  assert.equal(displayName(s), 'f\\xff.txt');
  assert.equal(nameByteLength(s), 6);
  assert.equal(percentEncodeName(s), 'f%FF.txt');
  assert.equal(decodeName(Buffer.from([0xc3, 0x28])), '\uDCC3(', 'a lead byte without its continuation');
  assert.equal(decodeName(Buffer.from([0xed, 0xa0, 0x80])), '\uDCED\uDCA0\uDC80', 'an encoded surrogate is escaped byte by byte');
  assert.equal(JSON.parse(JSON.stringify(s)), s, 'JSON carries the escape');
  assert.match(JSON.stringify(s), /\\udcff/);
});

test('no other lone surrogate is accepted, and escapes that spell valid UTF-8 are not canonical (one string per name)', () => {
  for (const bad of ['\uD800', 'a\uDBFFb', '\uDC00', '\uDC7F', '\uDD00', '\uDFFF', 'x\uD83D']) {
    assert.throws(() => encodeName(bad), NameEncodingError, JSON.stringify(bad));
    assert.throws(() => fsPath(bad), NameEncodingError);
    assert.equal(isCanonicalName(bad), false, JSON.stringify(bad));
  }
  // C3 A9 is 'é': its escaped spelling would name the same file as 'é'
  assert.equal(isCanonicalName('\uDCC3\uDCA9'), false);
  assert.equal(isCanonicalName('\uDCE9'), true, 'a lone E9 is canonical');
  assert.equal(isCanonicalName('\uD83D\uDE00'), true, 'a surrogate pair is plain text');
  assert.equal(isCanonicalName('\uD800\uDC80'), true, 'U+10080 is a pair, not an escape');
  assert.equal(hasEscapedBytes('\uD800\uDC80'), false);
});

test('paths and link targets from a peer: escaped bytes accepted and measured in bytes; any other lone surrogate or a second spelling of a name refused', async () => {
  const { unsafeReason, MAX_NAME_BYTES } = await import('../../src/core/paths.js');
  const { wireEntry } = await import('../../src/net/validate.js');
  const { ProtocolError } = await import('../../src/net/frames.js');
  assert.equal(unsafeReason('dir-\uDCE9/f\uDCFF.txt'), null);
  assert.equal(unsafeReason('\uDCFF'.repeat(MAX_NAME_BYTES)), null, '255 escaped bytes are 255 bytes, not 765');
  assert.match(unsafeReason('\uDCFF'.repeat(MAX_NAME_BYTES + 1)) ?? '', /name too long/);
  for (const bad of ['a\uD800', '\uDC00x', 'x/\uDFFF', '\uDCC3\uDCA9', 'caf\uDCC3\uDCA9']) assert.match(unsafeReason(bad) ?? '', /canonical/, JSON.stringify(bad));
  const entry = (o: Record<string, unknown>) => ({ kind: 'symlink', mtimeMs: 0, mode: 0o777, size: 0, ...o });
  assert.equal(wireEntry(entry({ path: 'l\uDCFC', target: 't\uDCFF' })).target, 't\uDCFF');
  assert.throws(() => wireEntry(entry({ path: 'l', target: 't\uD800' })), ProtocolError);
  assert.throws(() => wireEntry(entry({ path: 'l', target: '\uDCC3\uDCA9' })), ProtocolError);
  assert.throws(() => wireEntry(entry({ path: '\uDCC3\uDCA9', target: 'x' })), ProtocolError);
});

test('an ASCII path (its own one-pass check) gets the same verdict as the same path spelled with a non-ASCII name (the general check)', async () => {
  const { unsafeReason, MAX_NAME_BYTES, MAX_PATH_BYTES } = await import('../../src/core/paths.js');
  const cases: Array<[string, string | null]> = [
    ['a', null],
    ['a/b/c.txt', null],
    ['.a/..b/...', null],
    ['a.', null],
    ['x/.', '"." segment'],
    ['./x', '"." segment'],
    ['a/../b', '".." segment'],
    ['..', '".." segment'],
    ['a//b', 'empty segment'],
    ['a/', 'empty segment'],
    ['/a', 'absolute'],
    ['a\0b', 'contains NUL'],
    ['', 'empty'],
    ['n'.repeat(MAX_NAME_BYTES), null],
    ['d/' + 'n'.repeat(MAX_NAME_BYTES + 1), 'name too long'],
    [('d'.repeat(200) + '/').repeat(20) + 'e'.repeat(MAX_PATH_BYTES - 20 * 201), null],
    [('d'.repeat(200) + '/').repeat(20) + 'e'.repeat(MAX_PATH_BYTES - 20 * 201 + 1), 'too long'],
    ['a/./../b', '"." segment'],
  ];
  for (const [p, want] of cases) {
    assert.equal(unsafeReason(p), want, JSON.stringify(p).slice(0, 80));
    // the general check gives the same verdict: one more segment with a non-ASCII name (two
    // bytes, within every limit) in front, and a path that is two bytes shorter for the lengths
    if (p === '' || p.startsWith('/') || p.includes('\0') || p.length > MAX_PATH_BYTES - 3) continue;
    assert.equal(unsafeReason(`é/${p}`), want, `é/${JSON.stringify(p).slice(0, 80)}`);
  }
});
