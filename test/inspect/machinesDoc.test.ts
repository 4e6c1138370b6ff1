// docs/machines.md is generated from the machines themselves; this fails when it drifts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { machines } from '../../src/machines/registry.js';
import { exportMachines, MACHINES_DOC_REGEN } from '../../src/inspect/machinesDoc.js';
import { allStates, machineGraph } from '../../src/inspect/graph.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('docs/machines.md matches the machines in the code', () => {
  const committed = fs.readFileSync(path.join(root, 'docs/machines.md'), 'utf8');
  const fresh = exportMachines(machines, 'markdown');
  if (committed !== fresh) {
    const a = committed.split('\n');
    const b = fresh.split('\n');
    const i = a.findIndex((line, n) => line !== b[n]);
    assert.fail(`docs/machines.md is out of date (first difference at line ${i + 1}: ${JSON.stringify(a[i])} vs ${JSON.stringify(b[i])}).\nRegenerate it with:\n  ${MACHINES_DOC_REGEN}`);
  }
});

test('every machine file in src/machines is in the registry', () => {
  const files = fs.readdirSync(path.join(root, 'src/machines')).filter((f) => f.endsWith('.ts') && f !== 'registry.ts');
  const src = fs.readFileSync(path.join(root, 'src/machines/registry.ts'), 'utf8');
  for (const f of files) {
    if (!/createMachine\(/.test(fs.readFileSync(path.join(root, 'src/machines', f), 'utf8'))) continue;
    assert.match(src, new RegExp(`from './${f.replace(/\.ts$/, '')}\\.js'`), `src/machines/${f} defines a machine but src/machines/registry.ts does not list it`);
  }
});

test('omirr machines --format json exports every registered machine', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/omirr.js'), 'machines', '--format', 'json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, { id: string }>;
  assert.deepEqual(Object.keys(out), machines.map((m) => m.name));
  for (const m of machines) assert.equal(out[m.name]!.id, m.machine.id);
  const one = spawnSync(process.execPath, [path.join(root, 'bin/omirr.js'), 'machines', '--machine', machines[0]!.name], { encoding: 'utf8' });
  assert.equal(one.status, 0, one.stderr);
  assert.match(one.stdout, /^%% .+\nstateDiagram-v2\n/);
  // every state of the machine appears in its diagram
  for (const s of allStates(machineGraph(machines[0]!.machine)).slice(1)) assert.ok(one.stdout.includes(`"${s.key}"`), s.id);
  const bad = spawnSync(process.execPath, [path.join(root, 'bin/omirr.js'), 'machines', '--format', 'svg'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown --format svg/);
});
