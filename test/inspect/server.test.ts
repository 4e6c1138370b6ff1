import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { createActor, fromPromise, setup } from 'xstate';
import { startInspector, combineInspectors } from '../../src/inspect/server.js';
import { ActorCollector } from '../../src/inspect/collector.js';
import { listInspectors, readUrlFile } from '../../src/inspect/announce.js';
import { parseInspectAddress } from '../../src/inspect/address.js';
import { loadStatelyInspector, StatelyUnavailableError } from '../../src/inspect/stately.js';
import { demoSupervisor } from '../helpers/inspectDemoMachines.js';

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
      })
      .on('error', reject);
  });
}

/** Reads SSE messages until `pred` accepts one (or times out). */
function sseUntil(url: string, pred: (msg: { actors: { id: string; name: string; value?: unknown }[]; changed: string[] }) => boolean, onOpen: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('no matching SSE message within 5 s'));
    }, 5000);
    const req = http.get(url, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let buf = '';
      let opened = false;
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (!data) continue;
          if (!opened) {
            opened = true;
            onOpen();
          }
          if (pred(JSON.parse(data.slice(6)))) {
            clearTimeout(timer);
            req.destroy();
            resolve();
          }
        }
      });
    });
    req.on('error', () => {});
  });
}

test('inspector serves the page, actors, details, charts, a live stream and metrics', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omirr-inspect-'));
  const urlFile = path.join(dir, 'url');
  const insp = await startInspector({ urlFile, announce: 'test', announceDir: dir, flushMs: 10 });
  const sup = createActor(demoSupervisor, { inspect: insp.inspect });
  try {
    assert.match(insp.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(readUrlFile(urlFile), insp.url);
    assert.deepEqual(listInspectors(dir).map((a) => [a.url, a.pid, a.command]), [[insp.url, process.pid, 'test']]);
    sup.start();

    const page = await get(insp.url);
    assert.equal(page.status, 200);
    assert.match(page.type, /text\/html/);
    assert.match(page.body, /src="\/inspector\.js"/);
    assert.doesNotMatch(page.body, /(src|href)="(https?:)?\/\//, 'nothing loaded from another host');
    assert.equal((await get(insp.url + 'inspector.js')).status, 200);
    assert.equal((await get(insp.url + 'nope')).status, 404);
    assert.equal((await get(insp.url + 'api/actors', { host: 'evil.example:80' })).status, 403);

    const { actors } = JSON.parse((await get(insp.url + 'api/actors')).body) as { actors: { id: string; name: string; parent?: string; graphId?: string }[] };
    assert.deepEqual(actors.map((a) => a.name), ['demoSupervisor', 'peer:alpha', 'peer:beta']);
    const rootId = actors[0]!.id;
    assert.ok(actors.slice(1).every((a) => a.parent === rootId));
    const alpha = actors[1]!;

    // the stream reports alpha's change
    await sseUntil(
      insp.url + 'api/stream',
      (m) => m.changed.includes(alpha.id) && JSON.stringify(m.actors.find((a) => a.id === alpha.id)?.value) === '{"connected":"idle"}',
      () => sup.send({ type: 'TO_PEER', peer: 'alpha', event: { type: 'CONNECTED' } }),
    );

    const detail = JSON.parse((await get(insp.url + 'api/actors/' + encodeURIComponent(alpha.id))).body).actor;
    assert.deepEqual(detail.value, { connected: 'idle' });
    assert.deepEqual(detail.active, ['demoPeerLink', 'demoPeerLink.connected', 'demoPeerLink.connected.idle']);
    assert.deepEqual(detail.context, { peer: 'alpha', attempts: 0, outbox: 0, bytesSent: 0 });
    assert.deepEqual(detail.events.map((e: { type: string; from?: string; value?: unknown }) => [e.type, e.from, e.value]), [
      ['xstate.init', rootId, 'connecting'],
      ['CONNECTED', rootId, { connected: 'idle' }],
    ]);
    assert.equal(typeof detail.events[1].at, 'number');

    const beta = actors[2]!;
    const bd = JSON.parse((await get(insp.url + 'api/actors/' + encodeURIComponent(beta.id))).body).actor;
    assert.deepEqual(bd.timers.map((t: { label: string; delayMs: number }) => [t.label, t.delayMs]), [['after 10s', 10_000]]);

    const graph = JSON.parse((await get(insp.url + 'api/graphs/' + alpha.graphId)).body);
    assert.equal(graph.graph.id, 'demoPeerLink');
    assert.equal(graph.layout.nodes.length, 7);
    assert.equal((await get(insp.url + 'api/graphs/nope')).status, 404);

    insp.metrics.counter({ name: 'omirr_test_total', help: 'test', labelNames: ['peer'] }).inc({ peer: 'alpha' });
    const metrics = await get(insp.url + 'metrics');
    assert.match(metrics.type, /^text\/plain; version=0\.0\.4/);
    assert.match(metrics.body, /omirr_test_total\{peer="alpha"\} 1\n/);

    // stopping a peer ends it; it stays listed with its final state lit
    sup.send({ type: 'TO_PEER', peer: 'alpha', event: { type: 'STOP' } });
    const ended = JSON.parse((await get(insp.url + 'api/actors/' + encodeURIComponent(alpha.id))).body).actor;
    assert.equal(ended.status, 'done');
    assert.equal(typeof ended.endedAt, 'number');
    assert.deepEqual(ended.active, ['demoPeerLink', 'demoPeerLink.stopped']);
  } finally {
    sup.stop();
    await insp.close();
  }
  assert.equal(fs.existsSync(urlFile), false, 'url file removed on close');
  assert.deepEqual(listInspectors(dir), [], 'announcement removed on close');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('collector: non-machine actors, ended actors pruned, listeners isolated', async () => {
  const col = new ActorCollector({ keepEnded: 1, maxEvents: 2 });
  const changes: string[] = [];
  col.subscribe((c) => changes.push(c.type));
  col.subscribe(() => {
    throw new Error('a broken listener');
  });
  const m = setup({ actors: { work: fromPromise(async () => ({ files: 3 })) } }).createMachine({
    id: 'runner',
    initial: 'running',
    states: { running: { invoke: { id: 'w', src: 'work', onDone: 'done' }, on: { PING: {} } }, done: { type: 'final' } },
  });
  const a = createActor(m, { inspect: col.inspect });
  a.start();
  for (let i = 0; i < 5; i++) a.send({ type: 'PING' });
  const list = col.list();
  assert.deepEqual(list.map((x) => [x.name, x.src, x.machineId]), [['runner', undefined, 'runner'], ['w', 'work', undefined]]);
  assert.equal(col.get(list[0]!.id)!.events.length, 2, 'event ring bounded');
  assert.equal(col.get(list[0]!.id)!.eventCount, 6);
  await new Promise<void>((r) => a.subscribe({ complete: () => r() }));
  // both ended; only the most recently ended one is kept
  assert.equal(col.list().length, 1);
  assert.equal(col.list()[0]!.status, 'done');
  assert.ok(changes.includes('removed') && changes.includes('ended'));
  assert.equal(col.get('nope'), undefined);
});

test('combineInspectors calls every given function', () => {
  const seen: string[] = [];
  const f = combineInspectors((e) => seen.push('a' + e.type), undefined, false, (e) => seen.push('b' + e.type));
  f({ type: '@xstate.actor' } as never);
  assert.deepEqual(seen, ['a@xstate.actor', 'b@xstate.actor']);
});

test('parseInspectAddress', () => {
  assert.deepEqual(parseInspectAddress(true), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseInspectAddress(undefined), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseInspectAddress('9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseInspectAddress('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 });
  assert.deepEqual(parseInspectAddress('localhost'), { host: 'localhost', port: 0 });
  assert.deepEqual(parseInspectAddress('[::1]:80'), { host: '::1', port: 80 });
  assert.deepEqual(parseInspectAddress('127.0.0.2:'), { host: '127.0.0.2', port: 0 });
  assert.throws(() => parseInspectAddress('host:99999'), /bad port/);
  assert.throws(() => parseInspectAddress('a:b:c'), /cannot parse/);
});

test('--stately without @statelyai/inspect gives a clear error; with it, events reach it', async () => {
  await assert.rejects(
    loadStatelyInspector(true, async () => {
      throw new Error("Cannot find package '@statelyai/inspect'");
    }),
    (err: Error) => err instanceof StatelyUnavailableError && /npm install @statelyai\/inspect/.test(err.message),
  );
  const got: string[] = [];
  const fake = { createSkyInspector: () => ({ inspect: { next: (e: { type: string }) => got.push('sky ' + e.type) } }), createWebSocketInspector: (o: { url: string }) => ({ inspect: (e: { type: string }) => got.push(o.url + ' ' + e.type) }) };
  (await loadStatelyInspector(true, async () => fake)).inspect({ type: '@xstate.actor' } as never);
  (await loadStatelyInspector('ws://127.0.0.1:1', async () => fake)).inspect({ type: '@xstate.event' } as never);
  assert.deepEqual(got, ['sky @xstate.actor', 'ws://127.0.0.1:1 @xstate.event']);
});
