// Names that are not UTF-8 on an HTTP site against a real nginx with autoindex: nginx
// escapes a name's bytes in the href (`caf%E9.txt`), and the escapes are the name. Before,
// such an href failed to decode as UTF-8 and its file was skipped without a word; now the
// file, a directory of that kind and the files in it arrive under their exact bytes, and a
// rerun is a no-op.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytePath, byteTree, latin1 } from '../helpers/byteNames.js';
import { runOmirr } from '../helpers/omirrRun.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';
import { startNginx, type NginxServer } from '../helpers/nginxServer.js';


const omirr = (args: string[]) => runOmirr(args);

let base: string;
let site: string;
let nginx: NginxServer;

before(async () => {
  base = tempDir('http-names');
  site = join(base, 'site');
  const dir = latin1('r\xe9pertoire');
  mkdirSync(bytePath(site, dir), { recursive: true });
  writeFileSync(bytePath(site, latin1('caf\xe9.txt')), 'Latin-1 name\n');
  writeFileSync(bytePath(site, dir, latin1('\xfcber 100%.bin')), Buffer.alloc(40_000, 9));
  writeFileSync(bytePath(site, Buffer.from('na\u00efve.txt', 'utf8')), 'UTF-8 name\n');
  writeFileSync(join(site, 'plain.txt'), 'ascii\n');
  nginx = await startNginx({ root: site });
});

after(async () => {
  await nginx?.stop();
  if (base) removeDir(base);
});

test('http:// names that are not UTF-8 arrive under their exact bytes; a rerun is a no-op', () => {
  const dst = join(base, 'dst');
  const r = omirr(['sync', nginx.url('/'), dst, '--json']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.deepEqual(JSON.parse(r.stdout).failed, []);
  const want = byteTree(site);
  assert.equal(Object.keys(want).length, 4);
  assert.deepEqual(byteTree(dst), want);
  const again = omirr(['sync', nginx.url('/'), dst, '--json']);
  assert.equal(again.status, 0, again.stderr + again.stdout);
  assert.equal(JSON.parse(again.stdout).filesSent, 0, again.stdout);
});
