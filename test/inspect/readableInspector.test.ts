// The inspector as a person reads it (issue 11, point 13): actors named `peer beta`,
// `tree www`, `job site:pkg` (not `0.mmJob.active.locking`), finished actors hidden unless
// asked for, and charts whose edge labels never sit on top of each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createActor, fromPromise, setup } from 'xstate';
import { actorLabel } from '../../src/core/actorLabel.js';
import { ActorCollector } from '../../src/inspect/collector.js';
import { machineGraph } from '../../src/inspect/graph.js';
import { labelBox, layoutGraph } from '../../src/inspect/layout.js';
import { machines } from '../../src/machines/registry.js';
import { repoRoot } from '../helpers/daemonFixtures.js';

test('actor labels: tree, peer, job, invoked steps in words, anything else as it is', () => {
  assert.equal(actorLabel('tree:www'), 'tree www');
  assert.equal(actorLabel('peer:beta'), 'peer beta');
  assert.equal(actorLabel('job:site:pkg'), 'job site:pkg');
  assert.equal(actorLabel('0.mmJob.active.locking', 'lockJob'), 'lock job');
  assert.equal(actorLabel('0.mmJob.active.locking'), 'locking');
  assert.equal(actorLabel('daemon'), 'daemon');
  assert.equal(actorLabel('session'), 'session');
});

test('the collector gives every actor its label', () => {
  const child = fromPromise(async () => 1);
  const parent = setup({ actors: { lockJob: child } }).createMachine({
    id: 'job',
    initial: 'locking',
    states: { locking: { invoke: { src: 'lockJob', onDone: 'done' } }, done: { type: 'final' } },
  });
  const root = setup({ actors: { job: parent } }).createMachine({ id: 'sup', invoke: { id: 'job:www:site', src: 'job' } });
  const c = new ActorCollector();
  const a = createActor(root, { inspect: c.inspect });
  a.start();
  const labels = c.list().map((s) => s.label);
  assert.deepEqual(labels, ['sup', 'job www:site', 'lock job']);
  a.stop();
});

test('finished actors are hidden until "show finished" is ticked', () => {
  const html = readFileSync(join(repoRoot, 'assets', 'inspector', 'index.html'), 'utf8');
  const box = /<input[^>]*id="show-ended"[^>]*>/.exec(html)?.[0] ?? '';
  assert.ok(box, 'the checkbox exists');
  assert.doesNotMatch(box, /\bchecked\b/);
});

test('no two edge labels of any chart overlap', () => {
  for (const m of machines) {
    const l = layoutGraph(machineGraph(m.machine));
    const boxes = l.edges.map((e) => ({ label: e.label, ...labelBox(e) }));
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i]!, boxes[j]!];
        const hit = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        assert.ok(!hit, `${m.name}: "${a.label}" overlaps "${b.label}"`);
      }
      assert.ok(boxes[i]!.y + boxes[i]!.h <= l.height, `${m.name}: "${boxes[i]!.label}" inside the drawing`);
    }
  }
});
