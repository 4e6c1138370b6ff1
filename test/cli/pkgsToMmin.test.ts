// `omirr pkgs-to-mmin` as a real process on temp files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_FILES, PKGS_TO_MMIN_CASES } from '../helpers/mmFixtures.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));

function omirr(args: string[], opts: { cwd: string; input?: string }) {
  const r = spawnSync(process.execPath, [bin, 'pkgs-to-mmin', ...args], {
    cwd: opts.cwd,
    input: opts.input ?? '',
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('omirr pkgs-to-mmin on package files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omirr-p2m-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'packages'));
  for (const [name, text] of Object.entries(PACKAGE_FILES)) writeFileSync(join(dir, 'packages', name), text);

  await t.test('matches the original on every fixture case', () => {
    for (const c of PKGS_TO_MMIN_CASES) {
      const r = omirr([...c.args, ...c.files.map((f) => `packages/${f}`)], { cwd: dir });
      assert.equal(r.stderr, '', c.files.join(' '));
      assert.equal(r.code, 0);
      assert.equal(r.stdout, c.out.map((l) => l + '\n').join(''), c.files.join(' '));
    }
  });

  await t.test('absolute paths give base names; -y N -n N forms', () => {
    const r = omirr(['-y', '20', '-n', '2', join(dir, 'packages', 'ftp.tex.ac.uk')], { cwd: '/' });
    assert.equal(r.code, 0);
    assert.equal(r.stdout.split('\n')[1], 'ftp.tex.ac.uk:ctan-macros 20 2');
  });

  await t.test('standard input when no files are given (site "-")', () => {
    const r = omirr(['-n4'], { cwd: dir, input: 'site=h\npackage=a\n\npackage=b\nx=1\n' });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '-:a 8 4\n-:b 8 4\n');
  });

  await t.test('a missing file is a clear error, exit 2, nothing printed', () => {
    const r = omirr(['packages/ftp.tex.ac.uk', 'packages/nope'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /pkgs-to-mmin: cannot read packages\/nope: ENOENT/);
  });

  await t.test('bad hours are a usage error', () => {
    for (const args of [['-y', 'x'], ['-n1.5'], ['-y']]) {
      const r = omirr([...args, 'packages/ftp.tex.ac.uk'], { cwd: dir });
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout, '');
    }
  });

  await t.test('its output drives the mm input parser (cmdin)', async () => {
    const { parseMmInput } = await import('../../src/core/mmInput.js');
    const r = omirr(['packages/ftp.tex.ac.uk'], { cwd: dir });
    const parsed = parseMmInput(r.stdout, 'cmdin');
    assert.deepEqual(parsed.warnings, []);
    assert.equal(parsed.statements.length, 4);
  });
});
