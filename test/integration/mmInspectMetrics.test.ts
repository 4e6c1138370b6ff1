// `omirr mm --inspect`: /metrics counts the job runs by result, with their durations and
// the time of the last success, while mm is still running (a third job waits for a file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeHome, omirrBin, removeHome, writeScript } from '../helpers/mmWorld.js';

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20)); // poll interval, not a synchronisation sleep
  }
}

test('omirr mm --inspect: /metrics has the job runs by result, durations and last success', async () => {
  const home = makeHome('omirr-mm-metrics-');
  const rt = mkdtempSync(join(tmpdir(), 'omirr-mm-metrics-rt-'));
  // The job command: `ok` succeeds, `bad` exits 3, `wait` runs until the test creates `go`.
  writeScript(home, 'job.sh', [
    'case "$2" in',
    '  ok) exit 0 ;;',
    '  bad) exit 3 ;;',
    '  wait) while [ ! -e go ]; do sleep 0.05; done; exit 0 ;;',
    'esac',
  ].join('\n'));
  writeFileSync(join(home, 'mm.in'), ['max=3', "mirror=exec ./job.sh $site '$package'", 's:ok 1 1', 's:bad 1 1', 's:wait 1 1', ''].join('\n'));
  const child = spawn(process.execPath, [omirrBin, 'mm', '--inspect=127.0.0.1:0', 'mm.in'], {
    cwd: home,
    env: { ...process.env, OMIRR_RUNTIME_DIR: rt },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const url = await until('the inspector URL', () => /inspector at (\S+)/.exec(stderr)?.[1]);
    const text = await until('both finished jobs in /metrics', async () => {
      const t = await (await fetch(url + 'metrics')).text();
      return /omirr_mm_job_runs_total\{job="s:bad"/.test(t) && /omirr_mm_job_runs_total\{job="s:ok"/.test(t) ? t : undefined;
    });
    assert.match(text, /^omirr_mm_job_runs_total\{job="s:ok",result="succeeded"\} 1$/m);
    assert.match(text, /^omirr_mm_job_runs_total\{job="s:bad",result="failed"\} 1$/m);
    assert.match(text, /^omirr_mm_job_duration_seconds_count\{job="s:ok",result="succeeded"\} 1$/m);
    assert.match(text, /^omirr_mm_job_duration_seconds_count\{job="s:bad",result="failed"\} 1$/m);
    assert.match(text, /^omirr_mm_job_duration_seconds_bucket\{job="s:ok",result="succeeded",le="\+Inf"\} 1$/m);
    const last = /^omirr_mm_job_last_success_timestamp_seconds\{job="s:ok"\} (\d+)$/m.exec(text);
    assert.ok(last, 'time of the last success of s:ok');
    assert.ok(Math.abs(Number(last[1]) - Date.now() / 1000) < 120, `last success ${last[1]} is now`);
    assert.doesNotMatch(text, /omirr_mm_job_last_success_timestamp_seconds\{job="s:bad"\}/);
    // The waiting job is still running: no result for it yet.
    assert.doesNotMatch(text, /omirr_mm_job_runs_total\{job="s:wait"/);
    assert.equal(child.exitCode, null, 'mm is still running');

    writeFileSync(join(home, 'go'), '');
    assert.equal(await exited, 1, `a job failed: exit 1\n${stderr}`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    removeHome(home);
    rmSync(rt, { recursive: true, force: true });
  }
});
