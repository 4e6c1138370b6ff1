// The hash task's kept form (src/workers/fsTasks.ts, hash with keepUpTo: what the daemon's
// local ingest hashes and sends inline) returns, with the bytes, the file's stat as it was
// when they were read. The daemon's lstat comes first and can be older: a file created
// and not yet written (its writer between open(2) and write(2)) is empty at the lstat and
// complete at the read. The version must describe the bytes hashed; with the lstat's size
// every peer fetched a content of the wrong size, and a second version followed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, lstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { entryFromStats } from '../../src/core/entry.js';
import { hash } from '../../src/workers/fsTasks.js';
import { statPaths } from '../../src/daemon/statPaths.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const root = tempDir('hash-kept-stat');
after(() => removeDir(root));

test('a file written after its lstat: the kept bytes come with the stat they were read at, not the lstat', async () => {
  writeFileSync(join(root, 'new.bin'), '');
  const [before] = await statPaths(root, ['new.bin']);
  assert.equal(typeof before === 'object' && !('error' in before) ? before.size : -1, 0, 'the lstat saw the empty file');
  const data = Buffer.alloc(4096, 7);
  appendFileSync(join(root, 'new.bin'), data);
  const [row] = hash({ root, paths: ['new.bin'], keepUpTo: 64 * 1024 });
  assert.ok(row && row.length === 4, 'a kept file comes with its stat');
  const [p, hex, bytes, st] = row;
  assert.equal(p, 'new.bin');
  assert.equal(hex, createHash('sha256').update(data).digest('hex'));
  assert.deepEqual(Buffer.from(bytes), data);
  assert.equal(st.size, 4096, 'the size of the bytes hashed');
  assert.deepEqual(st, entryFromStats('new.bin', lstatSync(join(root, 'new.bin'), { bigint: true })), 'the entry an lstat gives now, key order included');
});

test('a file larger than keepUpTo: hash only, no bytes and no stat (as before)', () => {
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(10_000, 1));
  const [row] = hash({ root, paths: ['big.bin'], keepUpTo: 4096 });
  assert.equal(row!.length, 2);
  assert.equal(row![1], createHash('sha256').update(Buffer.alloc(10_000, 1)).digest('hex'));
});
