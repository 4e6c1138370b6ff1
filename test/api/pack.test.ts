// `npm pack` yields a package that installs and runs in an empty directory: the CLI
// (`npx omirr`), the API (`import('omirr')`), a real `omirr sync` checked by hash, and the
// systemd unit from packaging/ pointing at the installed omirr.
// Dependencies come from the local npm cache (filled by `npm ci`), so this needs no network;
// when an offline install cannot resolve everything it retries with --prefer-offline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileHashes as hashes } from '../helpers/apiFixtures.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Process groups of the children still running (killed when the test ends, however it ends). */
const groups = new Set<number>();

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing of that group is left
  }
}

process.on('exit', () => {
  for (const pid of groups) killGroup(pid);
});

/**
 * Runs `cmd` in a process group of its own (detached), so that on a timeout, and once it has
 * exited, the whole group goes: npm runs its work in child processes, which a kill of npm
 * alone (execFile's timeout) would leave running after the test.
 */
function run(cmd: string, args: string[], cwd: string, timeout = 90_000, extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    // npm_config_* from a parent `npm test` would leak into the child npm (e.g. its prefix).
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))), ...extraEnv };
    const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = child.pid;
    if (pid !== undefined) groups.add(pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined) killGroup(pid);
    }, timeout);
    let code = 1;
    child.on('error', (err) => {
      stderr += `${err.message}\n`;
    });
    child.on('exit', (c) => {
      code = c ?? 1;
      // whatever it left behind (it would also hold the pipes open)
      if (pid !== undefined) killGroup(pid);
    });
    child.on('close', () => {
      clearTimeout(timer);
      if (pid !== undefined) groups.delete(pid);
      if (timedOut) stderr += `(killed after ${timeout} ms with its process group)\n`;
      done({ code: timedOut ? 1 : code, stdout, stderr });
    });
  });
}

/** Await every promise (nothing left running behind a failure), then throw the first failure. */
async function allOf(ps: Array<Promise<void>>): Promise<void> {
  const failed = (await Promise.allSettled(ps)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what} failed (${r.code})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

test('npm pack: the tarball installs in an empty directory and runs (CLI, API, sync)', { timeout: 180_000 }, async (t) => {
  // a timed-out test leaves its children's groups to this (and to the exit handler above)
  t.after(() => {
    for (const pid of groups) killGroup(pid);
  });
  assert.ok(existsSync(join(repoRoot, 'dist', 'src', 'index.js')), 'build first (npm run build)');
  const base = mkdtempSync(join(tmpdir(), 'omirr-pack-'));
  try {
    // --ignore-scripts: the build exists; `prepare` would rebuild (and clean dist/) under us.
    const packed = ok(await run(npm, ['pack', '--pack-destination', base, '--ignore-scripts', '--json'], repoRoot), 'npm pack');
    const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = join(base, info[0]!.filename);
    const files = new Set(info[0]!.files.map((f) => f.path));
    for (const f of [
      'bin/omirr.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli/main.js',
      'dist/src/workers/tasks.js',
      'docs/api.md',
      'package.json',
      // docs/daemon.md's first step installs the unit from the package.
      'packaging/omirr.service',
      'packaging/install-unit.sh',
      // docs/mm.md's quick start runs the example from the package as from a checkout.
      'examples/mm/run.sh',
      'examples/mm/mm.in',
      'examples/mm/upstream/b/data/part-0.csv',
    ]) {
      assert.ok(files.has(f), `${f} is in the package`);
    }
    assert.ok(![...files].some((f) => f.startsWith('dist/test/') || f.startsWith('src/') || f.startsWith('test/')), 'no tests or TypeScript sources');

    const app = join(base, 'app');
    mkdirSync(app);
    // what `npm init -y` writes, less an npm start
    writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'app', version: '1.0.0', private: true }, null, 2)}\n`);
    // --ignore-scripts: omirr has no install-time scripts (checked here, so one added later is
    // noticed and this flag reconsidered); it only skips the dependencies' optional native
    // builds (ssh2's crypto binding, cpu-features: node-gyp compiling C++, two thirds of this
    // file's CPU), which omirr does without: ssh2 falls back to its JavaScript code.
    const scripts = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
    for (const s of ['preinstall', 'install', 'postinstall']) assert.equal(scripts[s], undefined, `omirr's package.json has no ${s} script`);
    const common = ['install', tarball, '--no-audit', '--no-fund', '--no-update-notifier', '--ignore-scripts'];
    let inst = await run(npm, [...common, '--offline'], app);
    if (inst.code !== 0) inst = await run(npm, [...common, '--prefer-offline'], app);
    ok(inst, 'npm install <tarball>');

    // What follows are independent checks of the installed package: they run at the same time.
    await allOf([unitChecks(), cliChecks(), apiChecks(), syncChecks()]);

    async function unitChecks(): Promise<void> {
      // The systemd unit finds the installed omirr: install-unit.sh pins it (and node) by
      // absolute path; the shipped unit's `/usr/bin/env omirr` finds it on PATH.
      const pkgDir = join(app, 'node_modules', 'omirr');
      const unitDir = join(base, 'units');
      const withBin = { PATH: `${join(app, 'node_modules', '.bin')}:${dirname(process.execPath)}:/usr/bin:/bin` };
      ok(await run('/bin/sh', [join(pkgDir, 'packaging', 'install-unit.sh'), unitDir], app, 30_000, withBin), 'install-unit.sh');
      const shipped = readFileSync(join(pkgDir, 'packaging', 'omirr.service'), 'utf8');
      const unit = readFileSync(join(unitDir, 'omirr.service'), 'utf8');
      const exec = /^ExecStart=(\S+) (\S+) daemon -c \/etc\/omirr\/omirr\.conf$/m.exec(unit);
      assert.ok(exec, unit);
      assert.equal(exec[2], realpathSync(join(pkgDir, 'bin', 'omirr.js')), 'the installed omirr, by absolute path');
      assert.equal(exec[1], realpathSync(process.execPath), 'the node on PATH, by absolute path');
      assert.equal(unit.replace(/^ExecStart=.*$/m, ''), shipped.replace(/^ExecStart=.*$/m, ''), 'only ExecStart differs');
      const pinned = ok(await run(exec[1]!, [exec[2]!, '--version'], base), 'the pinned ExecStart');
      const viaEnv = /^ExecStart=(\/usr\/bin\/env) omirr daemon /m.exec(shipped);
      assert.ok(viaEnv, 'the shipped unit runs the omirr on PATH, not a hard-coded /usr/bin/omirr');
      const envRun = ok(await run(viaEnv[1]!, ['omirr', '--version'], base, 30_000, withBin), '/usr/bin/env omirr');
      assert.equal(envRun.stdout, pinned.stdout);
      assert.match(pinned.stdout, new RegExp(JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version.replace(/\./g, '\\.')));
    }

    async function cliChecks(): Promise<void> {
      const help = ok(await run(npx, ['--no', '--', 'omirr', '--help'], app), 'npx omirr --help');
      assert.match(help.stdout, /Usage: omirr/);
      for (const cmd of ['mm', 'mirror', 'sync', 'serve', 'machines']) assert.match(help.stdout, new RegExp(`\\b${cmd}\\b`));
    }

    async function apiChecks(): Promise<void> {
      const api = ok(
        await run(process.execPath, ['--input-type=module', '-e', "const m = await import('omirr'); console.log(JSON.stringify({ runMm: typeof m.runMm, mirrorTree: typeof m.mirrorTree, machine: m.mmJobMachine?.id, version: m.VERSION }));"], app),
        "import('omirr')",
      );
      const version = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version;
      assert.deepEqual(JSON.parse(api.stdout), { runMm: 'function', mirrorTree: 'function', machine: 'mmJob', version });
      assert.ok(existsSync(join(app, 'node_modules', 'omirr', 'dist', 'src', 'index.d.ts')), 'types installed');
      // The building blocks are reachable from an installed package only through omirr/internal.
      const internal = ok(
        await run(process.execPath, ['--input-type=module', '-e', "const i = await import('omirr/internal'); const m = await import('omirr'); console.log(JSON.stringify({ internal: typeof i.parseMmInput, public: typeof m.parseMmInput }));"], app),
        "import('omirr/internal')",
      );
      assert.deepEqual(JSON.parse(internal.stdout), { internal: 'function', public: 'undefined' });
      const deep = await run(process.execPath, ['--input-type=module', '-e', "await import('omirr/dist/src/core/mmInput.js')"], app);
      assert.notEqual(deep.code, 0, 'a deep import of a module file is refused (package.json exports)');
      assert.match(deep.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
    }

    async function syncChecks(): Promise<void> {
      // A real sync through the installed CLI, then the same through the installed API.
      const src = join(app, 'src');
      mkdirSync(join(src, 'sub'), { recursive: true });
      writeFileSync(join(src, 'a.txt'), 'packed and installed\n');
      writeFileSync(join(src, 'sub', 'b.bin'), Buffer.alloc(70_000, 3));
      ok(await run(npx, ['--no', '--', 'omirr', 'sync', src, join(app, 'dst-cli')], app), 'omirr sync');
      assert.deepEqual(hashes(join(app, 'dst-cli')), hashes(src));
      writeFileSync(
        join(app, 'sync.mjs'),
        "import { mirrorTree, closePools } from 'omirr';\n" +
          "const r = await mirrorTree(process.argv[2], process.argv[3]);\n" +
          'await closePools();\n' +
          'console.log(JSON.stringify({ ok: r.ok, filesSent: r.filesSent }));\n',
      );
      const viaApi = ok(await run(process.execPath, ['sync.mjs', src, join(app, 'dst-api')], app), 'mirrorTree from the installed package');
      assert.deepEqual(JSON.parse(viaApi.stdout), { ok: true, filesSent: 2 });
      assert.deepEqual(hashes(join(app, 'dst-api')), hashes(src));
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
