// Itemized changes (issue 11, point 3): every action of a plan, one line per path, in the
// documented rsync-like form; nothing planned is left out, nothing unplanned is listed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/core/entry.js';
import { planSync } from '../../src/core/plan.js';
import { formatItem, itemizePlan } from '../../src/core/itemize.js';

const f = (path: string, size: number, mtimeMs = 1000, mode = 0o644): Entry => ({ path, kind: 'file', size, mtimeMs, mode });
const d = (path: string, mtimeMs = 1000, mode = 0o755): Entry => ({ path, kind: 'dir', size: 0, mtimeMs, mode });
const l = (path: string, target: string): Entry => ({ path, kind: 'symlink', size: 0, mtimeMs: 1000, mode: 0o777, target });

test('new, changed, attribute-only, deleted and replaced entries each get their line, in path order', () => {
  const src = [f('new.txt', 3), f('ch.txt', 9, 2000), f('mode.txt', 1, 1000, 0o600), d('dir'), d('dir/sub'), l('link', 'new.txt'), f('was-dir', 1), f('same', 1)];
  const dst = [f('ch.txt', 4, 1000), f('mode.txt', 1), d('dir', 1000, 0o700), f('stale.txt', 1), d('olddir'), f('olddir/x', 1), d('was-dir'), f('same', 1)];
  const plan = planSync(src, dst, { delete: true });
  const lines = itemizePlan(plan, dst).map(formatItem);
  assert.deepEqual(lines, [
    '>f.st.... ch.txt',
    '.d...p... dir/',
    'cd+++++++ dir/sub/',
    'cL+++++++ link -> new.txt',
    '.f...p... mode.txt',
    '>f+++++++ new.txt',
    '*deleting olddir/',
    '*deleting olddir/x',
    '*deleting stale.txt',
    '*deleting was-dir/',
    '>f+++++++ was-dir',
  ]);
});

test('every planned action appears exactly once; an unchanged tree lists nothing', () => {
  const src = Array.from({ length: 50 }, (_, i) => f(`f${i}`, i, 1000 + (i % 3)));
  const dst = Array.from({ length: 50 }, (_, i) => f(`f${i + 25}`, i + 25));
  const plan = planSync(src, dst, { delete: true });
  const items = itemizePlan(plan, dst);
  const planned = plan.transfers.length + plan.setattrs.length + plan.deletes.length + plan.mkdirs.length + plan.symlinks.length + (plan.replaced?.length ?? 0);
  assert.equal(items.length, planned);
  assert.equal(new Set(items.map((i) => `${i.action} ${i.path}`)).size, items.length);
  assert.deepEqual(itemizePlan(planSync(src, src, { delete: true }), src), []);
});
