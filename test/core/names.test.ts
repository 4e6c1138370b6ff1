import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeName } from '../../src/core/names.js';

test('escapeName keeps valid UTF-8 and writes every other byte as \\xNN', () => {
  assert.equal(escapeName(Buffer.from('plain é ü 😀')), 'plain é ü 😀');
  assert.equal(escapeName(Buffer.from([0x61, 0xff, 0xfe, 0x62])), 'a\\xff\\xfeb');
  assert.equal(escapeName(Buffer.from([0xc3, 0x28])), '\\xc3(', 'a lead byte without its continuation');
  assert.equal(escapeName(Buffer.from([0xed, 0xa0, 0x80])), '\\xed\\xa0\\x80', 'an encoded surrogate is not UTF-8');
  assert.equal(escapeName(Buffer.from([0xc0, 0xaf])), '\\xc0\\xaf', 'an overlong form is not UTF-8');
  assert.equal(escapeName(Buffer.from('a\\b')), 'a\\\\b', 'a backslash is doubled: the escape is unambiguous');
});
