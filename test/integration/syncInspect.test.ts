// Transfer sessions are visible to the inspector: the API's `inspect` option hands the
// transferSession actor to it (live, in /api/actors, while it transfers), the states go
// scanning -> planning -> transferring -> applying -> done, metrics count what moved, and
// `omirr sync --inspect` serves the inspector for the run.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InspectionEvent } from 'xstate';
import { describeTree, makeSampleTree, removeDir, tempDir } from '../helpers/engineFixtures.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { syncTrees } from '../../src/engine/syncTrees.js';
import { mirrorTree } from '../../src/api/mirrorTree.js';
import { combineInspectors, startInspector } from '../../src/inspect/server.js';
import { omirrMetrics } from '../../src/inspect/omirrMetrics.js';
import { MetricsRegistry } from '../../src/core/metrics.js';
import type { TreeOp, OpResult } from '../../src/core/tree.js';
import type { ActorSummary } from '../../src/inspect/collector.js';
import { closePools } from '../../src/workers/pool.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) removeDir(d);
  await closePools();
});

/** The transferSession states an inspection callback saw, in order (repeats collapsed). */
function sessionStates(): { inspect: (ev: InspectionEvent) => void; seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    inspect: (ev) => {
      if (ev.type !== '@xstate.snapshot') return;
      const snap = ev.snapshot as { machine?: { id?: string }; value?: unknown };
      if (snap.machine?.id !== 'transferSession') return;
      const v = JSON.stringify(snap.value).replace(/"/g, '');
      if (seen.at(-1) !== v) seen.push(v);
    },
  };
}

/** A destination whose first apply (the transfer's mkdirs) waits until the test lets it go. */
class GatedTree extends LocalTree {
  reached!: () => void;
  readonly atGate = new Promise<void>((r) => (this.reached = r));
  release!: () => void;
  private readonly gate = new Promise<void>((r) => (this.release = r));
  override async apply(ops: TreeOp[]): Promise<OpResult[]> {
    this.reached();
    await this.gate;
    return super.apply(ops);
  }
}

describe('transfer sessions in the inspector', () => {
  test('syncTrees({ inspect }): the session is live in /api/actors while transferring; states seen in order', async () => {
    const base = tempDir('inspect-sync');
    dirs.push(base);
    makeSampleTree(join(base, 'src'));
    const inspector = await startInspector({ port: 0 });
    const states = sessionStates();
    const src = new LocalTree(join(base, 'src'), { writable: false });
    const dst = new GatedTree(join(base, 'dst'), { writable: true, create: true });
    try {
      const running = syncTrees(src, dst, { inspect: combineInspectors(inspector.inspect, states.inspect) });
      await dst.atGate;
      const live = (await (await fetch(inspector.url + 'api/actors')).json()) as { actors: ActorSummary[] };
      const session = live.actors.find((a) => a.machineId === 'transferSession');
      assert.ok(session, `a transferSession actor is listed: ${JSON.stringify(live.actors.map((a) => a.machineId))}`);
      assert.equal(session.status, 'active');
      assert.deepEqual(session.value, 'transferring');
      const detail = (await (await fetch(inspector.url + `api/actors/${encodeURIComponent(session.id)}`)).json()) as {
        actor: { context: { label: string; planned?: { transfers: number } } };
      };
      assert.match(detail.actor.context.label, /src -> .*dst/);
      assert.equal(detail.actor.context.planned?.transfers, 49);
      dst.release();
      const r = await running;
      assert.equal(r.filesSent, 49);
      assert.deepEqual(describeTree(join(base, 'dst')), describeTree(join(base, 'src')));
      assert.deepEqual(states.seen, ['starting', 'scanning', 'planning', 'planned', 'transferring', 'applying', 'done'].filter((s) => states.seen.includes(s)));
      for (const s of ['scanning', 'planning', 'transferring', 'done']) assert.ok(states.seen.includes(s), `saw ${s}: ${states.seen.join(' -> ')}`);
      const ended = (await (await fetch(inspector.url + 'api/actors')).json()) as { actors: ActorSummary[] };
      const gone = ended.actors.find((a) => a.id === session.id);
      assert.ok(gone && gone.status === 'done', 'the ended session stays listed, done');
    } finally {
      dst.release();
      await Promise.allSettled([src.close(), dst.close()]);
      await inspector.close();
    }
  });

  test('mirrorTree({ inspect, metrics }): states and the files/bytes counters', async () => {
    const base = tempDir('inspect-mirror');
    dirs.push(base);
    makeSampleTree(join(base, 'src'));
    const reg = new MetricsRegistry();
    const states = sessionStates();
    const r = await mirrorTree(join(base, 'src'), join(base, 'dst'), { inspect: states.inspect, metrics: omirrMetrics(reg) });
    assert.equal(r.ok, true);
    for (const s of ['scanning', 'planning', 'transferring', 'done']) assert.ok(states.seen.includes(s), `saw ${s}: ${states.seen.join(' -> ')}`);
    const text = reg.render();
    const peer = r.dst.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    assert.ok(text.includes(`omirr_files_sent_total{peer="${peer}"} 49`), text);
    assert.ok(text.includes(`omirr_bytes_sent_total{peer="${peer}"} ${r.bytesSent}`), text);
    assert.ok(r.bytesSent > 0);
  });

  test('omirr sync SRC DST --inspect: serves the inspector for the run; the tree arrives', () => {
    const base = tempDir('inspect-cli');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    const rt = join(base, 'runtime');
    const r = spawnSync(process.execPath, [bin, 'sync', src, dst, '--json', '--inspect', '127.0.0.1:0'], {
      encoding: 'utf8',
      env: { ...process.env, OMIRR_LOG_LEVEL: 'warn', OMIRR_RUNTIME_DIR: rt },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /omirr sync: inspector at http:\/\/127\.0\.0\.1:\d+\//);
    const s = JSON.parse(r.stdout) as { ok: boolean; filesSent: number; src: string; dst: string };
    assert.deepEqual([s.ok, s.filesSent], [true, 49]);
    assert.deepEqual(Object.keys(s).slice(0, 3), ['src', 'dst', 'ok']);
    assert.deepEqual(describeTree(dst), describeTree(src));
  });
});
