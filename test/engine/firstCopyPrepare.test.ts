// A first copy (an empty destination) prepares its transfer while the source is still being
// walked: the executor's modules and the ends' preparations start when the destination's
// scan comes back empty, not after the whole source's scan and the plan. A destination
// with entries, and a dry run, prepare nothing early. The copy itself stays the same:
// contents, modes and mtimes equal to the source's, no temporary left.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { LocalTree } from '../../src/engine/localTree.js';
import { syncTrees } from '../../src/engine/syncTrees.js';
import type { Entry } from '../../src/core/entry.js';
import type { ScanOptions } from '../../src/core/tree.js';
import { closePools } from '../../src/workers/pool.js';
import { describeTree, makeSampleTree, removeDir, tempDir, tempFiles } from '../helpers/engineFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

/** A source whose scan answers only once `release` is called (the walk of a big tree, held). */
class HeldSource extends LocalTree {
  release!: () => void;
  private readonly gate = new Promise<void>((r) => (this.release = r));
  scanStarted = false;
  override async scan(opts: ScanOptions = {}): Promise<Entry[]> {
    this.scanStarted = true;
    const entries = await super.scan(opts);
    await this.gate;
    return entries;
  }
}

/** A destination that records when it was asked to prepare a transfer. */
class WatchedDestination extends LocalTree {
  preparedCalls = 0;
  scanned: Promise<void>;
  private onScanned!: () => void;
  constructor(root: string) {
    super(root, { writable: true, create: true });
    this.scanned = new Promise((r) => (this.onScanned = r));
  }
  override async scan(opts: ScanOptions = {}): Promise<Entry[]> {
    const entries = await super.scan(opts);
    this.onScanned();
    return entries;
  }
  override prepareTransfer(): void {
    this.preparedCalls++;
    super.prepareTransfer();
  }
}

/** After the destination's scan has answered and every reaction to it has run (a macrotask turn later). */
async function afterDestinationScan(dst: WatchedDestination): Promise<void> {
  await dst.scanned;
  await new Promise((r) => setImmediate(r));
}

test('first copy: the transfer is prepared while the source is still being walked', async () => {
  const base = tempDir('firstprep');
  dirs.push(base);
  const srcRoot = join(base, 'src');
  makeSampleTree(srcRoot);
  const src = new HeldSource(srcRoot, { writable: false });
  const dst = new WatchedDestination(join(base, 'dst'));
  const run = syncTrees(src, dst);
  // the source's scan is held: the preparation must come without it
  await afterDestinationScan(dst);
  assert.equal(dst.preparedCalls, 1, 'prepareTransfer was called before the source scan answered');
  assert.ok(src.scanStarted);
  src.release();
  const r = await run;
  assert.deepEqual(r.failed, []);
  assert.equal(r.filesSent, 49);
  assert.equal(dst.preparedCalls, 1, 'prepared once, not again after the plan');
  assert.deepEqual(describeTree(dst.root), describeTree(srcRoot));
  assert.deepEqual(tempFiles(dst.root), []);
});

test('a destination with entries, or a dry run, prepares nothing before the source is walked', async () => {
  const base = tempDir('firstprep-no');
  dirs.push(base);
  const srcRoot = join(base, 'src');
  makeSampleTree(srcRoot);
  // a dry run into an empty destination
  const dry = new HeldSource(srcRoot, { writable: false });
  const dryDst = new WatchedDestination(join(base, 'dry'));
  const dryRun = syncTrees(dry, dryDst, { dryRun: true });
  await afterDestinationScan(dryDst);
  assert.equal(dryDst.preparedCalls, 0, 'a dry run prepares no transfer');
  dry.release();
  await dryRun;
  assert.equal(dryDst.preparedCalls, 0);
  // a destination holding one file: a rerun, not a first copy
  const dstRoot = join(base, 'dst');
  const first = new WatchedDestination(dstRoot);
  writeFileSync(join(srcRoot, 'extra'), 'x');
  const held = new HeldSource(srcRoot, { writable: false });
  held.release();
  await syncTrees(held, first);
  writeFileSync(join(srcRoot, 'one'), 'changed after the first copy');
  const src = new HeldSource(srcRoot, { writable: false });
  const dst = new WatchedDestination(dstRoot);
  const run = syncTrees(src, dst);
  await afterDestinationScan(dst);
  assert.equal(dst.preparedCalls, 0, 'not prepared before the source scan answered');
  src.release();
  const r = await run;
  assert.deepEqual(r.failed, []);
  assert.equal(dst.preparedCalls, 1, 'prepared after the plan, as before');
  assert.deepEqual(describeTree(dstRoot), describeTree(srcRoot));
});
