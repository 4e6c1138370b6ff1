// `omirr serve` keeps one io thread up while idle (keepIoThreadWarm): its next client's scan
// does not wait for a thread's boot. Threads retire after the pool's idle timeout (5 s), so
// the check waits past it; in a child process, whose pools are its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const poolModule = new URL('../../src/workers/pool.js', import.meta.url).href;

async function threadsAfterIdle(warm: boolean): Promise<{ min: number; before: number; after: number }> {
  const script = `
    const m = await import(${JSON.stringify(poolModule)});
    ${warm ? 'm.keepIoThreadWarm();' : "m.warmPools(['io'], 1);"}
    await m.warmed('io');
    const p = m.ioPool();
    const before = p.threads.length;
    await new Promise((r) => setTimeout(r, 6000)); // past the 5 s idle timeout: what is idle retires
    console.log(JSON.stringify({ min: p.options.minThreads, before, after: p.threads.length }));
    await m.closePools();`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(stdout) as { min: number; before: number; after: number };
}

test('the io pool: one thread kept through idleness after keepIoThreadWarm, none without it', async () => {
  // both at once: each waits out the idle timeout
  const [warm, cold] = await Promise.all([threadsAfterIdle(true), threadsAfterIdle(false)]);
  assert.equal(warm.min, 1);
  assert.ok(warm.before >= 1);
  assert.equal(warm.after, 1, 'the kept thread is still up');
  assert.equal(cold.min, 0);
  assert.ok(cold.before >= 1);
  assert.equal(cold.after, 0, 'an idle thread retires');
});
