// The quick starts in docs/ run as written. Each documented block is taken from the doc
// itself and run line by line, literally (/bin/sh -c LINE), in a temporary copy of the
// checkout with a temporary $HOME, and what it left is checked by content: the mirrors by
// SHA-256 against their sources, mm.status line by line, and the checkout left untouched.
// (README's `npm run demo` is test/integration/demo.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileHashes } from '../helpers/apiFixtures.js';
import { repoRoot } from '../helpers/mmWorld.js';
import { parseStatusFile } from '../../src/core/mmStatus.js';

/** The command lines of the first code block under `heading` in a doc (comments dropped). */
function quickStart(doc: string, heading: string): string[] {
  const text = readFileSync(join(repoRoot, 'docs', doc), 'utf8');
  const at = text.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `${doc} has "${heading}"`);
  const block = /\n```[a-z]*\n([\s\S]*?)\n```/.exec(text.slice(at));
  assert.ok(block, `${doc}: a code block under "${heading}"`);
  return block[1]!
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** A throw-away copy of the checkout: what a fresh clone has after `npm ci` (built). */
function copyCheckout(base: string): string {
  const root = join(base, 'omirr');
  mkdirSync(root);
  for (const part of ['bin', 'examples', 'docs', 'package.json']) cpSync(join(repoRoot, part), join(root, part), { recursive: true });
  // Built code and dependencies are read only: linked, not copied.
  for (const part of ['dist', 'node_modules']) symlinkSync(join(repoRoot, part), join(root, part));
  return root;
}

interface Shell {
  code: number | null;
  stdout: string;
  stderr: string;
  /** pino's messages from stderr (JSON lines: OMIRR_LOG_FORMAT=json; text is the default). */
  msgs: string[];
}

function sh(line: string, cwd: string, env: Record<string, string>): Shell {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|OMIRR_|XDG_STATE_HOME$)/i.test(k)));
  const r = spawnSync('/bin/sh', ['-c', line], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...base, OMIRR_LOG_FORMAT: 'json', PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, ...env },
  });
  const msgs = r.stderr
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return String(JSON.parse(l).msg);
      } catch {
        return l;
      }
    });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, msgs };
}

/** Every file of the mm example's sources arrived in its home's mirrors, byte for byte. */
function assertMirrored(home: string): void {
  const src = (p: string) => fileHashes(join(home, 'upstream', p));
  const tools = src('a/tools');
  delete tools['scratch.tmp']; // exclude_patt=\.tmp$
  assert.deepEqual(fileHashes(join(home, 'mirrors', 'a', 'docs')), src('a/docs'));
  assert.deepEqual(fileHashes(join(home, 'mirrors', 'a', 'tools')), tools);
  assert.deepEqual(fileHashes(join(home, 'mirrors', 'b', 'data')), src('b/data'));
  assert.equal(Object.keys(src('b/data')).length, 12, 'the example ships its source trees');
  const recs = parseStatusFile(readFileSync(join(home, 'mm.status'), 'utf8')).map((l) => ('record' in l ? l.record : undefined));
  assert.deepEqual(
    recs.map((r) => r && [r.sitePackage, r.status, r.locked]),
    [
      ['upstream-a:docs', 0, false],
      ['upstream-a:tools', 0, false],
      ['upstream-b:data', 0, false],
    ],
  );
  for (const sp of ['upstream-a:docs', 'upstream-a:tools', 'upstream-b:data']) assert.ok(existsSync(join(home, 'logs', sp)), `logs/${sp}`);
}

/** Paths of every file under dir (relative), for "nothing was written here". */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

test('docs/mm.md quick start, run literally in a fresh copy: mirrors by hash, mm.status, timers, checkout untouched', { timeout: 240_000 }, () => {
  const lines = quickStart('mm.md', '## Quick start');
  assert.equal(lines.length, 2, `two runs documented: ${JSON.stringify(lines)}`);
  const base = mkdtempSync(join(tmpdir(), 'omirr-docs-qs-'));
  try {
    const root = copyCheckout(base);
    const user = join(base, 'user-home');
    mkdirSync(user);
    const before = fileHashes(join(root, 'examples'));

    const first = sh(lines[0]!, root, { HOME: user });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const home = join(user, '.local', 'state', 'omirr', 'mm-example');
    assert.match(first.stdout, new RegExp(`^home: ${home}$`, 'm'));
    assert.match(first.stdout, /mm example: every package mirrored/);
    assertMirrored(home);

    const second = sh(lines[1]!, root, { HOME: user });
    assert.equal(second.code, 0, second.stdout + second.stderr);
    for (const sp of ['upstream-a:docs', 'upstream-a:tools', 'upstream-b:data']) {
      assert.ok(
        second.msgs.some((m) => new RegExp(`^Not trying ${sp}: \\d+ seconds to go$`).test(m)),
        `second run: Not trying ${sp}\n${second.stderr}`,
      );
    }

    // Nothing was written into the checkout.
    assert.deepEqual(fileHashes(join(root, 'examples')), before);
    assert.ok(!existsSync(join(root, 'mm.status')) && !existsSync(join(root, 'examples', 'mm', 'mm.status')));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('examples/mm/run.sh from any directory, with $OMIRR_EXAMPLE_HOME: state there, nothing in the working directory', { timeout: 120_000 }, () => {
  const base = mkdtempSync(join(tmpdir(), 'omirr-docs-qs-'));
  try {
    const root = copyCheckout(base);
    const elsewhere = join(base, 'somewhere', 'else');
    mkdirSync(elsewhere, { recursive: true });
    const home = join(base, 'state');
    const r = sh(`${join(root, 'examples', 'mm', 'run.sh')} -t`, elsewhere, { HOME: join(base, 'no-home'), OMIRR_EXAMPLE_HOME: home });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assertMirrored(home);
    assert.deepEqual(listing(elsewhere), [], 'the working directory is left alone');
    assert.ok(!existsSync(join(base, 'no-home')), '$HOME is not used when OMIRR_EXAMPLE_HOME is set');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
