// A sync that fails midway still says what it had done by then: executePlan's error carries
// its partial result (partialResultOf), and a file the site refused (an FTP 550) before then
// is among its failures, with the site's reply. runMirror counts it, so a package whose site
// was lost later names that file and how many files it got (seen in CI at load: a run that
// failed after its stream had ended said "0 of 200 files got by then" and not the 550).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalTree } from '../../src/engine/localTree.js';
import { executePlan } from '../../src/engine/executePlan.js';
import { partialResultOf } from '../../src/engine/syncResult.js';
import { keepRefusals } from '../../src/core/refusedFiles.js';
import { encodeFileHeader, END_OF_ARCHIVE, padding } from '../../src/workers/tarFormat.js';
import { planSync } from '../../src/core/plan.js';
import type { Tree, TreeOp } from '../../src/core/tree.js';
import { closePools } from '../../src/workers/pool.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

test("executePlan: a failure after the stream keeps the stream's result, a refusal with its reply among it", async () => {
  const base = tempDir('refused-lost');
  dirs.push(base);
  const srcRoot = join(base, 'src');
  mkdirSync(join(srcRoot, 'd'), { recursive: true });
  for (const n of ['f000', 'f001', 'f002']) writeFileSync(join(srcRoot, 'd', n), `${n}\n`);
  const real = new LocalTree(srcRoot, { writable: false });
  const realDst = new LocalTree(join(base, 'dst'), { writable: true, create: true });
  // the site's pack stream: f000 refused with a reply (left out), f001 sent whole, then the
  // end: f002 never came (its connection lost)
  const pack = (): Readable => {
    const s = Readable.from([encodeFileHeader('d/f001', 5, 0o644, Date.now()), Buffer.from('f001\n'), Buffer.alloc(padding(5)), END_OF_ARCHIVE]);
    keepRefusals(s, new Map([['d/f000', 'the site refused it: 550 Failed to open file.']]));
    return s;
  };
  // ...and the step after the stream fails (the directories' attributes: the disk gone; the
  // directory itself is made before the stream, as always)
  const src = delegate(real, { pack });
  const dst = delegate(realDst, {
    apply: (ops: TreeOp[]) => (ops.every((o) => o.op === 'mkdir') ? realDst.apply(ops) : Promise.reject(new Error('EIO: i/o error, the disk is gone'))),
    applyAfterUnpack: undefined,
  }, true);
  const plan = planSync(await real.scan(), []);
  assert.equal(plan.transfers.length, 3);
  const err = await executePlan(src, dst, plan).then(
    () => assert.fail('a sync whose last step failed succeeded'),
    (e: unknown) => e,
  );
  assert.match(String(err), /the disk is gone/);
  const partial = partialResultOf(err);
  assert.ok(partial, `no partial result on the error: ${String(err)}`);
  assert.equal(partial.filesSent, 1);
  assert.equal(readFileSync(join(base, 'dst', 'd', 'f001'), 'utf8'), 'f001\n');
  assert.deepEqual(
    partial.failed.filter((f) => f.path === 'd/f000'),
    [{ path: 'd/f000', error: 'not sent: the site refused it: 550 Failed to open file.' }],
  );
  assert.match(partial.failed.find((f) => f.path === 'd/f002')?.error ?? '', /^not received/);
});

/**
 * `tree` with some of its members replaced (the rest its own, bound to it). An instance of
 * LocalTree to the executor only when `local` (it copies file to file between two of them).
 */
function delegate(tree: LocalTree, over: Record<string, unknown>, local = false): Tree {
  return new Proxy(tree, {
    getPrototypeOf: () => (local ? LocalTree.prototype : Object.prototype),
    get(t, k) {
      if (typeof k === 'string' && k in over) return over[k];
      const v = Reflect.get(t, k, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  }) as unknown as Tree;
}
