// kill -9 of either side in the middle of a transfer through `omirr serve`: no partial file
// ever appears under its real name, and the next run completes the copy.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../../src/engine/paths.js';
import { makeKey, omirrBin, rmTemp, snapshot, startServe, tempDir, waitFor, writeConfig, type ServeProcess } from '../helpers/netFixtures.js';

const SIZE = 96 * 1024 * 1024;
let base: string;
let config: string;
let client: ReturnType<typeof makeKey>;
let serve: ServeProcess | undefined;

before(() => {
  base = tempDir('kill');
  makeKey(base, 'alpha');
  client = makeKey(base, 'beta');
  mkdirSync(join(base, 'src'));
  mkdirSync(join(base, 'dst'));
  writeFileSync(join(base, 'src', 'big.bin'), randomBytes(SIZE));
  writeFileSync(join(base, 'src', 'small.txt'), 'small\n');
  config = writeConfig(base, ['node = alpha', 'key = alpha.key', `peer = beta - ${client.fingerprint}`, 'tree = src src beta', 'tree = dst dst beta rw']);
});

after(async () => {
  await serve?.stop();
  rmTemp(base);
});

function startSync(src: string, dst: string, s: ServeProcess): { proc: ChildProcess; done: Promise<{ code: number | null; signal: string | null; stderr: string }> } {
  const proc = spawn(process.execPath, [omirrBin, 'sync', src, dst], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, OMIRR_KEY: client.file, OMIRR_PIN: s.fingerprint, OMIRR_LOG_LEVEL: 'warn' },
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((r) =>
    proc.on('close', (code, signal) => r({ code, signal, stderr })),
  );
  return { proc, done };
}

/** Bytes in temporary part files under `dir` (the transfer is under way when > 0). */
function partBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir)
    .filter((n) => n.startsWith(TEMP_PREFIX))
    .reduce((n, f) => {
      try {
        return n + statSync(join(dir, f)).size;
      } catch {
        return n;
      }
    }, 0);
}

async function killMidway(victim: () => ChildProcess, dir: string): Promise<void> {
  await waitFor(() => partBytes(dir) > 4 * 1024 * 1024, 30_000, 'the transfer to start');
  assert.ok(partBytes(dir) < SIZE, 'caught it in the middle');
  victim().kill('SIGKILL');
}

const url = (s: ServeProcess, tree: string): string => `omirr://127.0.0.1:${s.port}/${tree}`;

test('push: kill -9 the client, then the server; no partial file under its name; reruns complete', async () => {
  serve = await startServe(config);
  const dst = join(base, 'dst');
  // the client dies
  const a = startSync(join(base, 'src'), url(serve, 'dst'), serve);
  await killMidway(() => a.proc, dst);
  assert.equal((await a.done).signal, 'SIGKILL');
  assert.equal(existsSync(join(dst, 'big.bin')), false, 'no big.bin under its real name');
  // the server dies
  const b = startSync(join(base, 'src'), url(serve, 'dst'), serve);
  const s1 = serve;
  await killMidway(() => s1.proc, dst).catch(async (err) => {
    // a resumed transfer may finish before we catch it: then it must be complete
    if ((await b.done).code === 0) return;
    throw err;
  });
  await s1.kill9();
  const rb = await b.done;
  if (rb.code !== 0) assert.equal(existsSync(join(dst, 'big.bin')), false, 'still nothing under the real name');
  serve = await startServe(config);
  const c = startSync(join(base, 'src'), url(serve, 'dst'), serve);
  const rc = await c.done;
  assert.equal(rc.code, 0, rc.stderr);
  assert.deepEqual(snapshot(dst), snapshot(join(base, 'src')));
});

test('pull: kill -9 the receiving client, then the server; the rerun completes', async () => {
  serve ??= await startServe(config);
  const local = join(base, 'pulled');
  const z = startSync(url(serve, 'src'), local, serve);
  await killMidway(() => z.proc, local);
  assert.equal((await z.done).signal, 'SIGKILL');
  assert.equal(existsSync(join(local, 'big.bin')), false);
  // let the resumed run start over from a smaller prefix than it has, to catch it again
  for (const n of readdirSync(local)) if (n.startsWith(TEMP_PREFIX)) rmSync(join(local, n));
  const a = startSync(url(serve, 'src'), local, serve);
  const s1 = serve;
  await killMidway(() => s1.proc, local);
  await s1.kill9();
  const ra = await a.done;
  assert.notEqual(ra.code, 0, 'the client saw the server die');
  assert.equal(existsSync(join(local, 'big.bin')), false);
  serve = await startServe(config);
  const b = startSync(url(serve, 'src'), local, serve);
  const rb = await b.done;
  assert.equal(rb.code, 0, rb.stderr);
  assert.deepEqual(snapshot(local), snapshot(join(base, 'src')));
});
