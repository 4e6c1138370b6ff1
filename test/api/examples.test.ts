// Runs every program in examples/api/ (compiled to dist/examples/api/) as a real process,
// in real temp dirs, and checks what it did: file contents by hash, mm.status, the states
// its subscribers saw. docs/api.md quotes these programs, so this keeps the doc honest.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileHashes as hashes } from '../helpers/apiFixtures.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const examplesSrc = join(repoRoot, 'examples', 'api');
const examplesJs = join(repoRoot, 'dist', 'examples', 'api');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runExample(name: string, args: string[] = []): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [join(examplesJs, `${name}.js`), ...args], { cwd: repoRoot, timeout: 40_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number | string }).code as number | null) ?? 1 : 0;
      done({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

function json(r: Run): any {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!);
}

function temp(tag: string): string {
  return mkdtempSync(join(tmpdir(), `omirr-api-${tag}-`));
}

const tested = new Set<string>();
function exampleTest(name: string, fn: () => Promise<void>): void {
  tested.add(name);
  test(`examples/api/${name}.ts`, fn);
}

// Every program runs in its own temp directory: three at a time.
describe('examples/api', { concurrency: 3 }, () => {
  exampleTest('run-mirror', async () => {
    const home = temp('mirror-pkg');
    try {
      const out = json(await runExample('run-mirror', [home]));
      assert.equal(out.exitCode, 0);
      assert.deepEqual(out.packages, [{ name: 'docs', status: 'ok', filesGot: 2, failed: 0 }]);
      assert.equal(out.reported, true, 'mirror report lines reach out()');
      const want = hashes(join(home, 'upstream', 'docs'));
      delete want['scratch.tmp'];
      assert.deepEqual(hashes(join(home, 'mirror', 'docs')), want, 'the package mirrored, exclude_patt honoured');
      const again = json(await runExample('run-mirror', [home]));
      assert.equal(again.packages[0].filesGot, 0, 'a second run gets nothing');
      assert.deepEqual(hashes(join(home, 'mirror', 'docs')), want);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  exampleTest('mirror-tree', async () => {
    const base = temp('mirror');
    try {
      const src = join(base, 'src');
      mkdirSync(join(src, 'sub', 'deeper'), { recursive: true });
      writeFileSync(join(src, 'a.txt'), 'alpha\n');
      writeFileSync(join(src, 'sub', 'b.bin'), Buffer.from([0, 1, 2, 3, 255]));
      writeFileSync(join(src, 'sub', 'deeper', 'c.txt'), 'x'.repeat(100_000));
      writeFileSync(join(src, 'skip.tmp'), 'excluded');
      const dst = join(base, 'dst');
      mkdirSync(dst);
      writeFileSync(join(dst, 'stale.txt'), 'deleted by the mirror');

      const first = json(await runExample('mirror-tree', [src, dst]));
      assert.equal(first.ok, true);
      assert.equal(first.filesSent, 3);
      assert.equal(first.deleted, 1);
      assert.deepEqual(first.phases.slice(0, 2), ['scanning', 'planning']);
      const want = hashes(src);
      delete want['skip.tmp'];
      assert.deepEqual(hashes(dst), want);

      const second = json(await runExample('mirror-tree', [src, dst]));
      assert.equal(second.filesSent, 0, 'a second run has nothing to send');
      assert.deepEqual(hashes(dst), want);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  exampleTest('serve-and-pull', async () => {
    const base = temp('serve');
    try {
      const exp = join(base, 'export');
      mkdirSync(join(exp, 'd'), { recursive: true });
      writeFileSync(join(exp, 'index.html'), '<p>served</p>\n');
      writeFileSync(join(exp, 'd', 'data.bin'), Buffer.alloc(300_000, 7));
      const dst = join(base, 'pulled');
      const out = json(await runExample('serve-and-pull', [exp, dst]));
      assert.match(out.url, /^omirr:\/\/127\.0\.0\.1:\d+\/www$/);
      assert.match(out.fingerprint, /^SHA256:/);
      assert.equal(out.ok, true);
      assert.equal(out.filesSent, 2);
      assert.deepEqual(hashes(dst), hashes(exp));
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  exampleTest('run-mm', async () => {
    const home = temp('mm');
    try {
      const out = json(await runExample('run-mm', [home]));
      assert.equal(out.exitCode, 0);
      assert.deepEqual(out.results, [{ job: 'upstream:docs', outcome: 'succeeded', waitStatus: 0 }]);
      const states: string[] = out.trace['job:upstream:docs'];
      for (const s of ['"checking"', '"waitingForSlot"', '{"active":"running"}', '"done"']) assert.ok(states.includes(s), `${s} in ${states}`);
      assert.deepEqual(hashes(join(home, 'mirror', 'docs')), hashes(join(home, 'upstream', 'docs')));
      assert.match(readFileSync(join(home, 'mm.status'), 'utf8'), /^upstream:docs \d+ 0 [lu] \d+$/m);
      // A second run: the job's 24 h timer has not expired, so it is skipped (as mm does).
      const again = json(await runExample('run-mm', [home]));
      assert.equal(again.results[0].outcome, 'notDue');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  exampleTest('supervisor', async () => {
    const home = temp('sup');
    try {
      const out = json(await runExample('supervisor', [home]));
      assert.equal(out.node, 'example');
      assert.equal(out.root, 'supervising');
      assert.deepEqual(out.waiting.sort(), ['job:local:a="succeeded"', 'job:local:b="succeeded"']);
      for (const name of ['a', 'b']) {
        assert.deepEqual(hashes(join(home, 'mirror', name)), hashes(join(home, 'upstream', name)));
        assert.match(readFileSync(join(home, 'mm.status'), 'utf8'), new RegExp(`^local:${name} \\d+ 0 [lu] \\d+$`, 'm'));
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  exampleTest('daemon', async () => {
    const dir = temp('daemon');
    try {
      const out = json(await runExample('daemon', [dir]));
      assert.equal(out.node, 'alpha');
      assert.equal(out.ok, true);
      assert.equal(out.filesSent, 1);
      assert.deepEqual(hashes(join(dir, 'pulled')), hashes(join(dir, 'www')));
      assert.equal(out.paused, 'paused', 'omirr status shows the paused link');
      assert.equal(out.seen[0], 'paused');
      assert.equal(out.seen[1], 'connecting', 'RESUME reconnects at once');
      assert.deepEqual(out.children, ['peer:beta', 'tree:www']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  exampleTest('peer-link', async () => {
    const out = json(await runExample('peer-link'));
    assert.deepEqual(out.states, ['connecting', 'handshaking', 'live', 'paused', 'connecting', 'handshaking', 'live']);
    assert.equal(out.sessions, 2, 'RESUME opened a new session');
    assert.equal(out.connects, 2);
    assert.equal(out.remoteNode, 'beta');
  });

  test('every program in examples/api/ is run by this file', () => {
    const programs = readdirSync(examplesSrc)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.slice(0, -3))
      .sort();
    assert.deepEqual(programs, [...tested].sort());
  });
});
