// tempPathFor's fast paths (no byte count for a short well-formed name, the tag's hex by
// table) must give exactly the names of the plain formula: a partial file of an earlier run
// is found again by its name, and every name stays within NAME_MAX. Where the plain formula
// cut a long name inside a pair (and refused the half), a name is made now, cut before it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeName, isCanonicalName, nameByteLength } from '../../src/core/names.js';
import { MAX_NAME_BYTES, RESUMABLE_MIN, TEMP_PREFIX } from '../../src/core/paths.js';
import { tempPathFor } from '../../src/core/tempPath.js';
import { rng } from '../helpers/fidelityFixtures.js';

/** The formula as it was written before the fast paths (byte count always, toString(16) halves). */
function plainTempPathFor(e: { path: string; size: number; mtimeMs: number; hash?: string }): string {
  const key = `${e.path}\0${e.size}\0${e.mtimeMs}\0${e.hash ?? ''}`;
  let tag: string;
  if (e.size >= RESUMABLE_MIN) tag = createHash('sha256').update(key).digest('hex').slice(0, 12);
  else {
    let a = 0x811c9dc5;
    let b = 0x050c5d1f;
    for (let i = 0; i < key.length; i++) {
      a = Math.imul(a ^ key.charCodeAt(i), 0x01000193);
      b = Math.imul(b ^ key.charCodeAt(i), 0x01000193);
    }
    const hex8 = (x: number): string => (x >>> 0).toString(16).padStart(8, '0');
    tag = (hex8(a) + hex8(b)).slice(0, 12);
  }
  let base = e.path.slice(e.path.lastIndexOf('/') + 1);
  while (nameByteLength(base) > MAX_NAME_BYTES - 30) base = base.slice(0, -1);
  if (/[\uD800-\uDBFF]$/.test(base)) base = base.slice(0, -1);
  const i = e.path.lastIndexOf('/');
  const dir = i < 0 ? '' : e.path.slice(0, i);
  return `${dir ? dir + '/' : ''}${TEMP_PREFIX}${base}.${tag}`;
}

test('tempPathFor: the same names as the plain formula, at every length around the fast path and the cut', () => {
  const r = rng(12);
  const units = ['a', 'Z', '0', '.', '-', 'é', '中', '😀', '\uDCFF', '\uDC80', ' '];
  let checked = 0;
  let cut = 0;
  for (const unit of units) {
    for (let n = 1; n <= 260; n++) {
      const name = unit.repeat(n);
      if (nameByteLength(name) > MAX_NAME_BYTES) continue;
      for (const dir of ['', 'd', 'a/b c/é']) {
        const path = dir ? `${dir}/${name}` : name;
        for (const size of [0, 1, 4095, RESUMABLE_MIN - 1, RESUMABLE_MIN]) {
          const e = { path, size, mtimeMs: Math.floor(r() * 2e12) };
          let want: string;
          try {
            want = plainTempPathFor(e);
          } catch (err) {
            // the plain formula cut a long name of pairs inside one and then refused the half
            // (a legal name, e.g. 57-63 emoji, had no temporary): now cut before the pair
            assert.match((err as Error).message, /lone surrogate/);
            const got = tempPathFor(e);
            const name = got.slice(got.lastIndexOf('/') + 1);
            assert.ok(isCanonicalName(name), `${JSON.stringify(got)}: no half pair`);
            // prefix (12) + base + '.' + tag (13): the base at most 225 bytes, and less than one 4-byte character short of it
            const baseBytes = nameByteLength(name) - TEMP_PREFIX.length - 13;
            assert.ok(baseBytes <= MAX_NAME_BYTES - 30 && baseBytes > MAX_NAME_BYTES - 34, `as long as fits: ${baseBytes}`);
            assert.ok(name.startsWith(`${TEMP_PREFIX}${unit}`) && got.startsWith(dir ? `${dir}/` : TEMP_PREFIX));
            cut++;
            continue;
          }
          const got = tempPathFor(e);
          assert.equal(got, want, `${JSON.stringify(path)} size ${size}`);
          assert.ok(nameByteLength(got.slice(got.lastIndexOf('/') + 1)) <= MAX_NAME_BYTES, 'within NAME_MAX');
          checked++;
        }
      }
    }
  }
  // mixed names: random bytes (escapes), multi-byte characters and pairs cut at any point
  for (let k = 0; k < 3000; k++) {
    const bytes = Buffer.alloc(1 + Math.floor(r() * 240));
    for (let i = 0; i < bytes.length; i++) bytes[i] = r() < 0.7 ? 0x61 + Math.floor(r() * 26) : 0x80 + Math.floor(r() * 0x7f);
    const name = decodeName(bytes).replaceAll('/', '_');
    const e = { path: `x/${name}`, size: Math.floor(r() * 2 * RESUMABLE_MIN), mtimeMs: Math.floor(r() * 2e12), ...(r() < 0.3 ? { hash: 'ab'.repeat(32) } : {}) };
    assert.equal(tempPathFor(e), plainTempPathFor(e), JSON.stringify(e.path));
    checked++;
  }
  assert.ok(checked > 10_000);
  assert.ok(cut > 0, 'long names of pairs were cut');
});
