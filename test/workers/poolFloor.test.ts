// `omirr serve` keeps one io thread up while idle (keepIoThreadWarm): its next client's scan
// does not wait for a thread's boot. Idle threads retire after the pools' idle timeout
// (a server's SERVER_IDLE_MS, given 1 s here): the extract pool's, warmed after the io pool's and kept by nothing, is the clock.
// When it retires (piscina's workerDestroy event), the kept io thread must still be up. In a
// child process, whose pools are its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const poolModule = new URL('../../src/workers/pool.js', import.meta.url).href;

test('the io pool keeps its thread through an idle timeout after keepIoThreadWarm; an idle thread of a pool without it retires', async () => {
  const script = `
    const m = await import(${JSON.stringify(poolModule)});
    m.keepIoThreadWarm(1000);
    m.warmPools(['io'], 1);
    await m.warmed('io');
    m.warmPools(['extract'], 1);
    await m.warmed('extract');
    const ex = m.extractPool();
    const before = { io: m.ioPool().threads.length, extract: ex.threads.length };
    await new Promise((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error('no idle thread retired within 30 s')), 30000);
      ex.once('workerDestroy', () => {
        clearTimeout(guard);
        resolve();
      });
    });
    console.log(JSON.stringify({ min: m.ioPool().options.minThreads, before, io: m.ioPool().threads.length, extract: ex.threads.length }));
    await m.closePools();`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  const r = JSON.parse(stdout) as { min: number; before: { io: number; extract: number }; io: number; extract: number };
  assert.equal(r.min, 1);
  assert.deepEqual(r.before, { io: 1, extract: 1 });
  assert.equal(r.extract, 0, 'the extract pool\'s idle thread retired');
  assert.equal(r.io, 1, 'the kept io thread is still up');
});

// A server's clients come seconds apart (a watch's pushes, the benches' runs): after
// keepIoThreadWarm its other threads (a delta's second signing thread, the rebuild's extract
// thread) wait a minute idle, not a command's 5 s, so the next delta push does not boot them
// again (~100 ms of CPU each). A command's pools keep the 5 s.
test('after keepIoThreadWarm both pools retire idle threads after SERVER_IDLE_MS; a command\'s after 5 s', async () => {
  const script = (serve: boolean): string => `
    const m = await import(${JSON.stringify(poolModule)});
    ${serve ? 'm.keepIoThreadWarm();' : ''}
    const ex = m.extractPool();
    await ex.run(null, { name: 'ping' });
    console.log(JSON.stringify({ server: m.SERVER_IDLE_MS, io: m.ioPool().options.idleTimeout, extract: ex.options.idleTimeout, extractThreads: ex.threads.length }));
    await m.closePools();`;
  const run = async (serve: boolean) =>
    JSON.parse((await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script(serve)], { encoding: 'utf8' })).stdout) as { server: number; io: number; extract: number; extractThreads: number };
  const [served, command] = await Promise.all([run(true), run(false)]);
  assert.equal(served.server, 60_000);
  assert.deepEqual({ io: served.io, extract: served.extract }, { io: 60_000, extract: 60_000 });
  assert.equal(served.extractThreads, 1);
  assert.deepEqual({ io: command.io, extract: command.extract }, { io: 5_000, extract: 5_000 });
});

// keepIoThreadWarm after the extract pool was made could not change its idle timeout: loud.
test('keepIoThreadWarm after the extract pool was made throws', async () => {
  const script = `
    const m = await import(${JSON.stringify(poolModule)});
    m.extractPool();
    try { m.keepIoThreadWarm(); console.log('kept'); } catch (err) { console.log(err.message); }
    await m.closePools();`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.match(stdout, /extract pool was made before/);
});

// A sync's transfer starts while the io thread warmPools started still boots (its first
// requests go to the far end meanwhile): a task queued then must wait for that thread, not
// make piscina start a second one (50-100 ms of CPU on a two-core machine, for nothing).
test('a task queued while a warmed thread boots runs on it: no second thread', async () => {
  const script = `
    const m = await import(${JSON.stringify(poolModule)});
    m.warmPools(['io'], 1);
    const pool = m.ioPool();
    const r = await Promise.all([pool.run(null, { name: 'ping' })]);
    console.log(JSON.stringify({ max: pool.options.maxThreads, threads: pool.threads.length, ran: r.length }));
    await m.closePools();`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, OMIRR_THREADS: '2' } });
  const r = JSON.parse(stdout) as { max: number; threads: number; ran: number };
  assert.equal(r.max, 2, 'the pool could have started a second thread');
  assert.equal(r.ran, 1);
  assert.equal(r.threads, 1, 'one thread: the warmed one');
});

// A transfer's first pack (a sync's local source) or small unpack (`serve`'s `prepare`) runs on
// the thread warmed for it: that thread loads the tar tasks as it starts (`tarWarm`), while
// the listing is still compared, not in the first pack or extract after the plan (20-50 ms
// on the transfer's critical path). A thread warmed with a plain ping loads nothing more.
test('a thread warmed with tarWarm has the tar tasks loaded before its first task; a pinged one has not', async () => {
  const script = `
    const m = await import(${JSON.stringify(poolModule)});
    const pool = m.ioPool();
    m.warmPools(['io'], 1);
    await m.warmed('io');
    const pinged = await pool.run(null, { name: 'loadedTasks' });
    await m.closePools();
    m.warmPools(['io'], 1, 'tarWarm');
    await m.warmed('io');
    const warm = m.ioPool();
    const tarWarmed = await warm.run(null, { name: 'loadedTasks' });
    console.log(JSON.stringify({ pinged, tarWarmed, threads: warm.threads.length }));
    await m.closePools();`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, OMIRR_THREADS: '2' } });
  const r = JSON.parse(stdout) as { pinged: string[]; tarWarmed: string[]; threads: number };
  assert.deepEqual(r.pinged, [], 'a pinged thread loads no task module');
  assert.deepEqual(r.tarWarmed, ['tar'], 'the tar tasks are loaded');
  assert.equal(r.threads, 1, 'on the one warmed thread');
});

// A local copy's io threads are up when its scans end (they ran there): each loads the copy
// task then (warmIoTasks, syncTrees.ts), during the plan, not in its first batch after it.
test('warmIoTasks: every io thread already up loads the copy task', async () => {
  const script = `
    const m = await import(${JSON.stringify(poolModule)});
    m.warmPools(['io'], 2);
    await m.warmed('io');
    const pool = m.ioPool();
    const before = await Promise.all([0, 1].map(() => pool.run(null, { name: 'loadedTasks' })));
    m.warmIoTasks('copyWarm');
    await m.warmed('io');
    // (both threads idle: piscina gives each one of these)
    const after = await Promise.all([0, 1].map(() => pool.run(null, { name: 'loadedTasks' })));
    console.log(JSON.stringify({ before, after, threads: pool.threads.length }));
    await m.closePools();`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, OMIRR_THREADS: '2' } });
  const r = JSON.parse(stdout) as { before: string[][]; after: string[][]; threads: number };
  assert.deepEqual(r.before, [[], []], 'pinged threads load no task module');
  assert.equal(r.threads, 2, 'no thread started for it');
  assert.deepEqual(r.after, [['copy'], ['copy']], 'the copy task is loaded');
});

// A small local copy's one batch is queued right behind its thread's copy warm-up (the plan
// of a few files is quick): it waits for that thread, not for a second one piscina would
// start for it (50-100 ms of CPU, booting longer than the warm-up takes). Here the warm-up
// is asked for while the thread is still booting, as in a tiny tree's first copy.
test('warmIoTasks: a task queued behind the warm-up runs on the warmed thread; no thread is started for it', async () => {
  const script = `
    const m = await import(${JSON.stringify(poolModule)});
    m.warmPools(['io'], 1);
    const pool = m.ioPool();
    m.warmIoTasks('copyWarm', 1);
    const loaded = await pool.run(null, { name: 'loadedTasks' });
    console.log(JSON.stringify({ loaded, threads: pool.threads.length }));
    await m.closePools();`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, OMIRR_THREADS: '2' } });
  const r = JSON.parse(stdout) as { loaded: string[]; threads: number };
  assert.deepEqual(r.loaded, ['copy'], 'it ran after the warm-up, on its thread');
  assert.equal(r.threads, 1, 'no second thread started');
});
