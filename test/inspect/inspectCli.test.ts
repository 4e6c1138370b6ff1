// `omirr inspect` finds the inspector of a running process started with --inspect;
// /metrics serves omirr's metric set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const omirr = (args: string[], env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [path.join(root, 'bin/omirr.js'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

test('omirr inspect prints the URL of a running --inspect process; /metrics works', async () => {
  const rt = fs.mkdtempSync(path.join(os.tmpdir(), 'omirr-inspect-cli-'));
  const urlFile = path.join(rt, 'url.txt');
  const env = { OMIRR_RUNTIME_DIR: rt };
  const none = omirr(['inspect'], env);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no running omirr process with an inspector/);

  const child = spawn(process.execPath, [path.join(root, 'dist/test/helpers/inspectorDemo.js'), '--inspect', '127.0.0.1:0', '--inspect-url-file', urlFile], { stdio: 'pipe', env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  try {
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const { url } = JSON.parse((await lines.next()).value as string) as { url: string };
    assert.match(stderr, new RegExp(`omirr demo: inspector at ${url.replace(/[.]/g, '\\.')}`));

    const r = omirr(['inspect'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, url + '\n');
    const j = JSON.parse(omirr(['inspect', '--json'], env).stdout) as { url: string; pid: number; command: string };
    assert.deepEqual([j.url, j.pid, j.command], [url, child.pid, 'demo']);
    assert.equal(omirr(['inspect', '--url-file', urlFile], {}).stdout, url + '\n');
    assert.equal(omirr(['inspect', '--pid', '1'], env).status, 1);

    const metrics = await (await fetch(url + 'metrics')).text();
    assert.match(metrics, /^omirr_mm_job_runs_total\{job="site:pkg",result="succeeded"\} 1$/m);
    assert.match(metrics, /^omirr_mm_job_last_success_timestamp_seconds\{job="site:pkg"\} 1700000000$/m);
    assert.match(metrics, /^omirr_mm_job_duration_seconds_count\{job="site:pkg",result="succeeded"\} 1$/m);
    child.stdin.write('alpha CONNECTED\n');
    await lines.next();
    const m2 = await (await fetch(url + 'metrics')).text();
    assert.match(m2, /^omirr_peer_state\{peer="alpha",state="CONNECTED"\} 1$/m);
    assert.match(m2, /^omirr_peer_state\{peer="alpha",state="LOST"\} 0$/m);
  } finally {
    child.stdin.end();
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
  // the announcement and the url file go away with the process
  assert.equal(omirr(['inspect'], env).status, 1);
  assert.equal(fs.existsSync(urlFile), false);
  fs.rmSync(rt, { recursive: true, force: true });
});
