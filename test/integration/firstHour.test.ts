// An operator's first hour (issue 11), as real omirr processes: a typo in omirr.conf stops
// the daemon with file:line; `omirr status` finds a daemon wherever the daemon put its state;
// logs are text unless JSON is asked for; `--inspect ADDR` works with a space; usage errors
// are one line; a port in use is exit 2; a missing source creates nothing; counts read well.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, omirrBin, until } from '../helpers/daemonFixtures.js';
import { controlSocketFor } from '../../src/daemon/paths.js';

const base = mkdtempSync(join(tmpdir(), 'omirr-first-hour-'));
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map((c) => exited(c, 5000).catch(() => undefined)));
  rmSync(base, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A clean environment: no inherited OMIRR_* that would decide for the test. */
function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OMIRR_')) env[k] = v;
  return { ...env, ...extra };
}

function run(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [omirrBin, ...args], { cwd: opts.cwd ?? base, env: envWith(opts.env ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Start a daemon; resolves once it has logged its whole `daemon running` line (its control
 * socket listens before that line) and then `omirr status STATUSARGS` answers, where the case
 * is about status finding it (`statusArgs` given). Asked from the start, every 50 ms, each
 * `omirr status` a process of its own, a daemon's start under load cost a few of them that
 * could only fail; a case about something else asks none.
 */
async function startDaemon(args: string[], statusArgs: string[] | undefined, env: Record<string, string> = {}): Promise<{ proc: ChildProcess; stderr: () => string }> {
  let err = '';
  const proc = spawn(process.execPath, [omirrBin, 'daemon', ...args], { cwd: base, env: envWith(env), stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(proc);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the daemon logged no 'daemon running' in 20 s: ${err}`)), 20_000);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`daemon exited ${code}: ${err}`));
    };
    proc.once('exit', onExit);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const at = err.indexOf('daemon running');
      if (at >= 0 && err.includes('\n', at)) {
        clearTimeout(timer);
        proc.off('exit', onExit);
        resolve();
      }
    });
  });
  if (statusArgs) {
    await until(async () => {
      if (proc.exitCode !== null) throw new Error(`daemon exited ${proc.exitCode}: ${err}`);
      return (await run(['status', ...statusArgs], { env })).code === 0 ? true : undefined;
    }, 'the daemon to answer omirr status', 20_000);
  }
  return { proc, stderr: () => err };
}

async function stop(proc: ChildProcess): Promise<void> {
  proc.kill('SIGTERM');
  assert.equal(await exited(proc, 20_000), 0);
}

// Every case has its own directory under base (and its own state, node and port): three at a time.
describe('the first hour', { concurrency: 3 }, () => {
  test('a misspelt keyword stops the daemon: exit 2, file:line and "did you mean listen?"', async () => {
    const dir = join(base, 'typo');
    mkdirSync(join(dir, 'www'), { recursive: true });
    const conf = join(dir, 'omirr.conf');
    writeFileSync(conf, `node = alpha\nlisen = 127.0.0.1:17884\nstate = ${join(dir, 'state')}\ntree = www ${join(dir, 'www')}\n`);
    const r = await run(['daemon', '-c', conf]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${conf.replace(/[.]/g, '\\.')}:2: unknown keyword 'lisen' \\(did you mean listen\\?\\)`));
    assert.equal(existsSync(join(dir, 'state')), false, 'nothing was started');
  });

  test('omirr status finds the daemon as the daemon chose its state: --state-dir, OMIRR_STATE_DIR, state =, the host name', async () => {
    const dir = join(base, 'find');
    mkdirSync(join(dir, 'www'), { recursive: true });
    const conf = join(dir, 'omirr.conf');
    // no node = (the daemon names itself after the host), no state =
    writeFileSync(conf, `tree = www ${join(dir, 'www')}\n`);
    const xdg = join(dir, 'xdg');

    const sd = join(dir, 'given');
    const d1 = await startDaemon(['-c', conf, '--state-dir', sd], ['-c', conf, '--state-dir', sd], { XDG_STATE_HOME: xdg });
    const viaEnv = await run(['status', '-c', conf, '--json'], { env: { OMIRR_STATE_DIR: sd, XDG_STATE_HOME: xdg } });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(JSON.parse(viaEnv.stdout).node, hostname());
    const noConf = await run(['status', '--json'], { cwd: dir + '/www', env: { OMIRR_STATE_DIR: sd, OMIRR_CONFIG: '' } });
    assert.equal(noConf.code, 0, `OMIRR_STATE_DIR alone: ${noConf.stderr}`);
    await stop(d1.proc);

    // no node =: both sides name the node after the host (status used to look under "default")
    assert.equal(controlSocketFor({}, { XDG_STATE_HOME: xdg }), controlSocketFor({ node: hostname() }, { XDG_STATE_HOME: xdg }));
    if (process.getuid?.() !== 0) {
      // the default state directory: $XDG_STATE_HOME/omirr/<host name>, found from the config alone
      // (as root it would be /var/lib/omirr/<host>: not a place for a test to write)
      const d2 = await startDaemon(['-c', conf], ['-c', conf], { XDG_STATE_HOME: xdg });
      assert.ok(existsSync(join(xdg, 'omirr', hostname())));
      await stop(d2.proc);
    }

    // state = in the config
    writeFileSync(conf, `state = ${join(dir, 'fromconf')}\ntree = www ${join(dir, 'www')}\n`);
    const d3 = await startDaemon(['-c', conf], ['-c', conf], { XDG_STATE_HOME: xdg });
    assert.ok(existsSync(join(dir, 'fromconf')));
    await stop(d3.proc);
  });

  test('logs are text lines by default (not a terminal); --log-format json and OMIRR_LOG_FORMAT=json give JSON', async () => {
    const dir = join(base, 'logs');
    mkdirSync(join(dir, 'www'), { recursive: true });
    const conf = join(dir, 'omirr.conf');
    writeFileSync(conf, `node = logger\nstate = ${join(dir, 'state')}\ntree = www ${join(dir, 'www')}\n`);
    for (const [args, env, json] of [
      [[], {}, false],
      [['--log-format', 'json'], {}, true],
      [[], { OMIRR_LOG_FORMAT: 'json' }, true],
      [['--log-format=text'], { OMIRR_LOG_FORMAT: 'json' }, false],
    ] as Array<[string[], Record<string, string>, boolean]>) {
      // (the log line is the case: no status asked)
      const d = await startDaemon(['-c', conf, ...args], undefined, env);
      await until(async () => (/daemon running/.test(d.stderr()) ? true : undefined), 'the running line');
      const line = d.stderr().split('\n').find((l) => l.includes('daemon running'))!;
      if (json) assert.equal(JSON.parse(line).msg, 'daemon running', line);
      else assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO  omirr-daemon: daemon running node=logger /, line);
      await stop(d.proc);
    }
    const bad = await run(['status', '-c', conf], { env: { OMIRR_LOG_FORMAT: 'xml' } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /OMIRR_LOG_FORMAT: expected text or json, got 'xml'/);
  });

  test('--inspect ADDR with a space works on sync and mm; a bare --inspect does not eat the next word', async () => {
    const dir = join(base, 'inspect');
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'src', 'a.txt'), 'hello\n');
    const s = await run(['sync', '--inspect', '127.0.0.1:0', join(dir, 'src'), join(dir, 'dst')]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stderr, /omirr sync: inspector at http:\/\/127\.0\.0\.1:\d+\//);
    assert.equal(readFileSync(join(dir, 'dst', 'a.txt'), 'utf8'), 'hello\n');
    const bare = await run(['sync', join(dir, 'src'), '--inspect', join(dir, 'dst2')]);
    assert.equal(bare.code, 0, bare.stderr);
    assert.equal(readFileSync(join(dir, 'dst2', 'a.txt'), 'utf8'), 'hello\n');
    const colon = await run(['sync', '--inspect', ':0', join(dir, 'src'), join(dir, 'dst3')]);
    assert.equal(colon.code, 0, colon.stderr);
    assert.equal(readFileSync(join(dir, 'dst3', 'a.txt'), 'utf8'), 'hello\n');
    // mm reads in.mm (its one line is reported by name), not "127.0.0.1:0"
    writeFileSync(join(dir, 'in.mm'), `home=${dir}\nnot an mm line\n`);
    const mm = await run(['mm', '--inspect', '127.0.0.1:0', 'in.mm'], { cwd: dir });
    assert.equal(mm.code, 0, mm.stderr);
    assert.match(mm.stderr, /omirr mm: inspector at http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(mm.stderr, /in\.mm:2: Cannot parse, so skipping: not an mm line/);
  });

  test('a usage error is one line and where the help is; a port in use is exit 2; a missing source creates nothing', async () => {
    const dir = join(base, 'usage');
    mkdirSync(dir, { recursive: true });
    const u = await run(['sync', '--bogus', 'a', 'b']);
    assert.equal(u.code, 2);
    assert.deepEqual(u.stderr.trimEnd().split('\n'), ["omirr sync: unknown option '--bogus'", 'see `omirr sync --help`']);

    const blocker = createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', res));
    const port = (blocker.address() as { port: number }).port;
    try {
      mkdirSync(join(dir, 't'));
      writeFileSync(join(dir, 'serve.conf'), `node = s\nlisten = 127.0.0.1:${port}\nkey = ${join(dir, 's.key')}\ntree = t ${join(dir, 't')}\n`);
      assert.equal((await run(['keygen', '--out', join(dir, 's.key')])).code, 0);
      const s = await run(['serve', '-c', join(dir, 'serve.conf')]);
      assert.equal(s.code, 2, s.stderr);
      assert.match(s.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
      assert.doesNotMatch(s.stderr, /internal error/);
    } finally {
      blocker.close();
    }

    const m = await run(['sync', join(dir, 'nope'), join(dir, 'dst')]);
    assert.notEqual(m.code, 0);
    assert.match(m.stderr, /no such directory/);
    assert.equal(existsSync(join(dir, 'dst')), false, 'the destination was not created');

    mkdirSync(join(dir, 'one'));
    writeFileSync(join(dir, 'one', 'f'), 'x');
    const v = await run(['sync', '-v', join(dir, 'one'), join(dir, 'two')]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^sent 1 file \(1 B\), 0 dirs created, 0 symlinks, 0 attrs set, 0 deleted in [\d.]+ s, \d+(\.\d)? (B|KiB|MiB)\/s$/m);
  });

  test('a tree whose directory does not exist says why: error log line, LAST ERROR column, --json lastError', async () => {
    const dir = join(base, 'missing-tree');
    mkdirSync(dir, { recursive: true });
    const conf = join(dir, 'omirr.conf');
    const gone = join(dir, 'not-there');
    writeFileSync(conf, `node = m\nstate = ${join(dir, 'state')}\ntree = www ${gone}\n`);
    // status is asked below, once the daemon has logged the failure (each ask is an omirr process)
    const d = await startDaemon(['-c', conf], undefined);
    const logged = await until(async () => d.stderr().split('\n').find((l) => / ERROR +omirr-daemon: tree www: /.test(l)), 'the error line');
    assert.match(logged, /ENOENT/);
    const json = await until(async () => {
      const r = await run(['status', '-c', conf, '--json']);
      const s = JSON.parse(r.stdout) as { trees: Array<{ state: string; lastError?: string | null }> };
      return s.trees[0]?.state === 'failed' && s.trees[0].lastError ? s.trees[0] : undefined;
    }, 'the tree to fail');
    assert.match(json.lastError!, new RegExp(`${gone.replace(/[.]/g, '\\.')}.*(ENOENT|no such)`));
    const text = await run(['status', '-c', conf]);
    assert.match(text.stdout, /NAME +PATH +STATE +FILES +OUT OF SYNC +LAST CHANGE +PEERS +(MODE +)?LAST ERROR/);
    assert.match(text.stdout, new RegExp(`www +${gone.replace(/[.]/g, '\\.')} +failed .*ENOENT`));
    await stop(d.proc);
  });

  test('sync -n -v and -i list every change per path; --json gives one JSON line per change, then the summary', async () => {
    const dir = join(base, 'itemize');
    mkdirSync(join(dir, 'src', 'dir'), { recursive: true });
    mkdirSync(join(dir, 'dst'), { recursive: true });
    writeFileSync(join(dir, 'src', 'new.txt'), 'new\n');
    writeFileSync(join(dir, 'src', 'dir', 'deep.txt'), 'deep\n');
    writeFileSync(join(dir, 'dst', 'stale.txt'), 'stale\n');
    const src = join(dir, 'src');
    const dst = join(dir, 'dst');
    // the roots' own attributes equal: their `./` line is the test below's
    const rootTime = new Date('2024-05-01T00:00:00Z');
    for (const d of [src, dst]) utimesSync(d, rootTime, rootTime);
    const dry = await run(['sync', '-n', '-v', '--delete', src, dst]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(dry.stdout.split('\n').slice(0, 4), ['cd+++++++ dir/', '>f+++++++ dir/deep.txt', '>f+++++++ new.txt', '*deleting stale.txt']);
    assert.match(dry.stdout, /would send 2 files/);
    assert.equal(readFileSync(join(dst, 'stale.txt'), 'utf8'), 'stale\n', 'a dry run changes nothing');
    assert.equal(existsSync(join(dst, 'new.txt')), false);

    const j = await run(['sync', '-i', '--json', '--delete', src, dst]);
    assert.equal(j.code, 0, j.stderr);
    const lines = j.stdout.trimEnd().split('\n').map((s) => JSON.parse(s) as Record<string, unknown>);
    assert.deepEqual(lines.slice(0, -1).map((x) => [x.code, x.action, x.path]), [
      ['cd+++++++', 'mkdir', 'dir'],
      ['>f+++++++', 'send', 'dir/deep.txt'],
      ['>f+++++++', 'send', 'new.txt'],
      ['*deleting', 'delete', 'stale.txt'],
    ]);
    assert.equal(lines.at(-1)!.ok, true);
    assert.equal(readFileSync(join(dst, 'dir', 'deep.txt'), 'utf8'), 'deep\n');
    assert.equal(existsSync(join(dst, 'stale.txt')), false);
    const again = await run(['sync', '-i', '--delete', src, dst]);
    assert.equal(again.stdout, '', 'nothing left to do, nothing listed');
    // the destination root itself, as rsync's `./`: its mtime, then its mode, to be set
    utimesSync(src, new Date('2023-01-01T00:00:00Z'), new Date('2023-01-01T00:00:00Z'));
    const root = await run(['sync', '-i', src, dst]);
    assert.equal(root.stdout, '.d..t.... ./\n', root.stderr);
    assert.equal(statSync(dst).mtimeMs, statSync(src).mtimeMs);
    chmodSync(src, 0o750);
    const mode = await run(['sync', '-i', '--json', src, dst]);
    assert.deepEqual(JSON.parse(mode.stdout.split('\n')[0]!), { code: '.d...p...', action: 'setattr', path: '.', kind: 'dir' });
    assert.equal(statSync(dst).mode & 0o777, 0o750);
    assert.equal((await run(['sync', '-i', src, dst])).stdout, '', 'the root set: nothing listed');
    const made = await run(['sync', '-n', '-v', src, join(dir, 'new-dst')]);
    assert.equal(made.stdout.split('\n')[0], 'cd+++++++ ./', 'a destination root to be made');
  });
});
