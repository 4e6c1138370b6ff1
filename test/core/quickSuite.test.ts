// `npm run test:quick` (issue 11, point 14): the pure core and machine tests, documented in
// the README beside `npm test`, below a Quick start that stays two commands. The quick suite
// must stay quick: its tests start no processes and open no sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

test('test:quick runs the core and machine tests and the README says so', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts['test:quick'] ?? '', /scripts\/test\.mjs dist\/test\/core\/ dist\/test\/machines\/$/);
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const quick = /## Quick start\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  assert.equal(quick.trimEnd().split('\n').length, 2, 'the Quick start is two commands');
  assert.match(readme.slice(readme.indexOf('## Quick start')), /npm run test:quick/);
});

test('the quick suite spawns no processes and opens no sockets', () => {
  for (const dir of ['core', 'machines']) {
    const d = join(repoRoot, 'test', dir);
    for (const f of readdirSync(d).filter((n) => n.endsWith('.test.ts'))) {
      const src = readFileSync(join(d, f), 'utf8');
      assert.doesNotMatch(src, /from 'node:(child_process|net|tls|http)'/, `${dir}/${f}`);
    }
  }
});
