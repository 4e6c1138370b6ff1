import { test } from 'node:test';
import assert from 'node:assert/strict';
import { and, fromPromise, not, setup } from 'xstate';
import { activeStateIds, allStates, formatDelay, machineGraph } from '../../src/inspect/graph.js';
import { toMermaid } from '../../src/inspect/mermaid.js';
import { layoutGraph } from '../../src/inspect/layout.js';
import { toJsonSafe } from '../../src/inspect/jsonSafe.js';
import { demoPeerLink, demoSupervisor } from '../helpers/inspectDemoMachines.js';

test('graph: states, nesting, initial, final, parallel, invoke', () => {
  const g = machineGraph(demoSupervisor);
  assert.equal(g.id, 'demoSupervisor');
  assert.equal(g.root.initial, 'demoSupervisor.running');
  const running = g.root.children[0]!;
  assert.equal(running.type, 'parallel');
  assert.deepEqual(running.invoke, [
    { id: 'peer:alpha', src: 'peerLink' },
    { id: 'peer:beta', src: 'peerLink' },
  ]);
  assert.deepEqual(running.children.map((c) => c.key), ['links', 'scans']);
  assert.equal(g.root.children[1]!.type, 'final');
  assert.deepEqual(allStates(g).map((s) => s.path.join('.')), ['', 'running', 'running.links', 'running.links.watching', 'running.scans', 'running.scans.idle', 'running.scans.rescanning', 'done']);
  const toPeer = running.transitions.find((t) => t.event === 'TO_PEER')!;
  assert.deepEqual(toPeer.targets, [], 'targetless transition');
  assert.equal(machineGraph(demoSupervisor), g, 'cached');
});

test('graph: always, after (fixed and named delays), guards, root-level events', () => {
  const g = machineGraph(demoPeerLink);
  const byId = new Map(allStates(g).map((s) => [s.id, s]));
  assert.deepEqual(g.root.transitions, [{ event: 'STOP', kind: 'event', label: 'STOP', targets: ['demoPeerLink.stopped'] }]);
  const idle = byId.get('demoPeerLink.connected.idle')!;
  assert.deepEqual(idle.transitions, [{ event: '', kind: 'always', label: 'always', guard: 'hasOutbox', targets: ['demoPeerLink.connected.sending'] }]);
  const backoff = byId.get('demoPeerLink.backoff')!;
  assert.deepEqual(backoff.transitions.map((t) => [t.kind, t.label, t.delay, t.targets]), [['after', 'after retryDelay', 'retryDelay', ['demoPeerLink.connecting']]]);
  const connecting = byId.get('demoPeerLink.connecting')!;
  assert.deepEqual(connecting.transitions.map((t) => t.label), ['CONNECTED', 'LOST', 'after 10s']);
  assert.equal(byId.get('demoPeerLink.connected')!.initial, 'demoPeerLink.connected.idle');
});

test('graph: done/error of invoked actors, combined guards, reenter', () => {
  const m = setup({ actors: { doWork: fromPromise(async () => 1) }, guards: { a: () => true, b: () => true } }).createMachine({
    id: 'm',
    initial: 'x',
    states: {
      x: {
        invoke: { id: 'work', src: 'doWork', onDone: 'y', onError: { target: 'y', guard: and(['a', not('b')]) } },
        on: { AGAIN: { target: 'x', reenter: true } },
      },
      y: { initial: 'p', states: { p: { type: 'final' } }, onDone: 'x' },
    },
  });
  const g = machineGraph(m);
  const [x, y] = g.root.children;
  assert.deepEqual(x!.transitions.map((t) => [t.kind, t.label, t.guard, t.reenter]), [
    ['event', 'AGAIN', undefined, true],
    ['done', 'done(work)', undefined, undefined],
    ['error', 'error(work)', 'and(a, not(b))', undefined],
  ]);
  assert.deepEqual(y!.transitions.map((t) => [t.kind, t.label]), [['done', 'done']]);
});

test('activeStateIds maps a state value to lit nodes', () => {
  const g = machineGraph(demoSupervisor);
  assert.deepEqual(activeStateIds(g, { running: { links: 'watching', scans: 'idle' } }), [
    'demoSupervisor',
    'demoSupervisor.running',
    'demoSupervisor.running.links',
    'demoSupervisor.running.links.watching',
    'demoSupervisor.running.scans',
    'demoSupervisor.running.scans.idle',
  ]);
  assert.deepEqual(activeStateIds(g, 'done'), ['demoSupervisor', 'demoSupervisor.done']);
  assert.deepEqual(activeStateIds(g, 'nonsense'), ['demoSupervisor']);
});

test('formatDelay', () => {
  assert.deepEqual([250, 1000, 1500, 60_000, 90_000, 'retry'].map(formatDelay), ['250ms', '1s', '1.5s', '1m', '90s', 'retry']);
});

test('mermaid: composite states, initial, final, parallel regions, labelled transitions', () => {
  const out = toMermaid(machineGraph(demoPeerLink));
  assert.equal(
    out,
    `stateDiagram-v2
  state "demoPeerLink" as demoPeerLink {
    [*] --> demoPeerLink_connecting
    state "connecting" as demoPeerLink_connecting
    state "connected" as demoPeerLink_connected {
      [*] --> demoPeerLink_connected_idle
      state "idle" as demoPeerLink_connected_idle
      state "sending" as demoPeerLink_connected_sending
      demoPeerLink_connected_idle --> demoPeerLink_connected_sending : always [hasOutbox]
      demoPeerLink_connected_sending --> demoPeerLink_connected_idle : after 50ms
    }
    state "backoff" as demoPeerLink_backoff
    state "stopped" as demoPeerLink_stopped
    demoPeerLink_stopped --> [*]
    demoPeerLink_connecting --> demoPeerLink_connected : CONNECTED
    demoPeerLink_connecting --> demoPeerLink_backoff : LOST
    demoPeerLink_connecting --> demoPeerLink_backoff : after 10s
    demoPeerLink_connected --> demoPeerLink_backoff : LOST
    demoPeerLink_connected --> demoPeerLink_connected_sending : CHANGE
    demoPeerLink_backoff --> demoPeerLink_connecting : after retryDelay
  }
  demoPeerLink --> demoPeerLink_stopped : STOP
`,
  );
  const sup = toMermaid(machineGraph(demoSupervisor));
  assert.match(sup, /state "watching" as demoSupervisor_running_links_watching\n {6}}\n {6}--\n {6}state "scans"/);
  assert.match(sup, /demoSupervisor_running_scans_idle : invoke|state "running" as demoSupervisor_running \{/);
  assert.match(sup, /demoSupervisor_running --> demoSupervisor_running : TO_PEER \(internal\)/);
  assert.match(sup, /demoSupervisor_done --> \[\*\]/);
});

test('layout: every state boxed inside its parent, every transition has a path', () => {
  for (const m of [demoPeerLink, demoSupervisor]) {
    const g = machineGraph(m);
    const l = layoutGraph(g);
    const states = allStates(g);
    assert.equal(l.nodes.length, states.length);
    const box = new Map(l.nodes.map((n) => [n.id, n]));
    for (const s of states) {
      for (const c of s.children) {
        const p = box.get(s.id)!;
        const b = box.get(c.id)!;
        assert.ok(b.x >= p.x && b.y >= p.y && b.x + b.w <= p.x + p.w + 0.01 && b.y + b.h <= p.y + p.h + 0.01, `${c.id} inside ${s.id}`);
      }
      // siblings do not overlap
      for (const a of s.children) for (const b of s.children) {
        if (a === b) continue;
        const A = box.get(a.id)!;
        const B = box.get(b.id)!;
        assert.ok(A.x + A.w <= B.x || B.x + B.w <= A.x || A.y + A.h <= B.y || B.y + B.h <= A.y, `${a.id} and ${b.id} overlap`);
      }
    }
    const transitions = states.flatMap((s) => s.transitions.flatMap((t) => t.targets));
    assert.equal(l.edges.length, transitions.length);
    for (const e of l.edges) assert.match(e.d, /^M[\d.]+,[\d.]+ [CL]/);
    // transitions without a target are listed inside their state's box
    for (const s of states) for (const t of s.transitions) if (!t.targets.length) assert.ok(box.get(s.id)!.lines.includes(`↺ ${t.label}`), `${s.id} lists ${t.label}`);
    const root = box.get(g.root.id)!;
    assert.ok(l.width >= root.x + root.w && l.height >= root.y + root.h);
  }
});

test('toJsonSafe bounds size and never throws', () => {
  const cyc: Record<string, unknown> = { a: 1 };
  cyc.self = cyc;
  const out = toJsonSafe({
    cyc,
    big: 'x'.repeat(1000),
    buf: Buffer.alloc(5000),
    n: 10n,
    f: function named() {},
    inf: Infinity,
    map: new Map([['k', new Set([1, 2])]]),
    arr: Array.from({ length: 100 }, (_, i) => i),
    deep: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } },
    date: new Date(0),
    err: new Error('boom'),
  }) as Record<string, unknown>;
  assert.deepEqual(out.cyc, { a: 1, self: '[circular]' });
  assert.match(out.big as string, /^x{400}… \(1000 chars\)$/);
  assert.equal(out.buf, '[Buffer 5000 bytes]');
  assert.equal(out.n, '10n');
  assert.equal(out.f, '[function named]');
  assert.equal(out.inf, 'Infinity');
  assert.deepEqual(out.map, { k: [1, 2] });
  assert.equal((out.arr as unknown[]).length, 41);
  assert.equal((out.arr as unknown[])[40], '… 60 more');
  assert.deepEqual(out.deep, { a: { b: { c: { d: { e: '[object]' } } } } });
  assert.equal(out.date, '1970-01-01T00:00:00.000Z');
  assert.deepEqual(out.err, { error: 'Error', message: 'boom' });
  JSON.stringify(out);
});
