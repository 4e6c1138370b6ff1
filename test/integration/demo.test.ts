// The README's Quick start runs `npm run demo`: keep it true. The demo checks its own
// results by SHA-256 (mm packages against their sources, daemon trees across nodes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const demo = fileURLToPath(new URL('../../../scripts/demo.mjs', import.meta.url));

test('npm run demo: the mm part and the three-daemon part both verify by hash', () => {
  const r = spawnSync(process.execPath, [demo], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /ok {3}upstream-b:data: 12\/12 files identical/);
  assert.match(r.stdout, /^demo ok$/m);
  assert.match(r.stdout, /ok {2}edit index\.html on gamma: on alpha and beta after/);
  assert.match(r.stdout, /^daemon demo ok$/m);
});
