// The opener registry: schemes dispatch to their registered loader; unknown schemes are
// refused with the list of known ones; and a local-only sync loads no driver (no TLS, no
// basic-ftp, no ssh2): checked in a fresh process, since this one may have loaded them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tree } from '../../src/core/tree.js';
import { openerLoader, registerOpener, registeredSchemes, schemeOf } from '../../src/engine/openers.js';
import { isRemoteSpec, openTree } from '../../src/engine/openTree.js';
import '../../src/sites/register.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

test('schemes: registered built-ins, case-insensitive, a plug-in scheme, unknown ones refused', async () => {
  for (const s of ['omirr', 'ssh', 'ftp', 'ftps', 'http', 'https', 'sftp']) assert.ok(registeredSchemes().includes(s), s);
  assert.equal(schemeOf('FTP://h/x'), 'ftp');
  assert.equal(schemeOf('/srv/x'), undefined);
  assert.equal(isRemoteSpec('sftp://h/x'), true);
  assert.equal(isRemoteSpec('./x'), false);
  let opened = '';
  registerOpener('testproto', async () => async (spec) => {
    opened = spec;
    return { label: spec } as unknown as Tree;
  });
  assert.ok(openerLoader('TESTPROTO'));
  assert.equal((await openTree('testproto://a/b')).label, 'testproto://a/b');
  assert.equal(opened, 'testproto://a/b');
  await assert.rejects(openTree('gopher://h/x'), /unsupported URL scheme .*ftp:\/\//);
  assert.throws(() => registerOpener('bad scheme', async () => async () => ({}) as Tree), /bad scheme/);
});

test('a local-only sync loads no site driver, TLS or ssh code; an ftp:// spec loads them on demand', () => {
  const dir = tempDir('openers');
  try {
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'a', 'f'), 'x');
    const api = fileURLToPath(new URL('../../src/api/mirrorTree.js', import.meta.url));
    const openTreeJs = fileURLToPath(new URL('../../src/engine/openTree.js', import.meta.url));
    const pool = fileURLToPath(new URL('../../src/workers/pool.js', import.meta.url));
    const script = `
      import { createRequire } from 'node:module';
      const { mirrorTree } = await import(${JSON.stringify(api)});
      const { closePools } = await import(${JSON.stringify(pool)});
      const loaded = () => ({
        drivers: Object.keys(createRequire(import.meta.url).cache).filter((k) => /basic-ftp|ssh2/.test(k)).length,
        tls: process.moduleLoadList.includes('NativeModule tls'),
      });
      await mirrorTree(${JSON.stringify(join(dir, 'a'))}, ${JSON.stringify(join(dir, 'b'))});
      await closePools();
      const local = loaded();
      const { openTree } = await import(${JSON.stringify(openTreeJs)});
      await openTree('ftp://127.0.0.1:1/').catch(() => {});
      console.log(JSON.stringify({ local, ftp: loaded() }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.deepEqual(out.local, { drivers: 0, tls: false });
    assert.equal(out.ftp.drivers > 0, true);
  } finally {
    removeDir(dir);
  }
});
