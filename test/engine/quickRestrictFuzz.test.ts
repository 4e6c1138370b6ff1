// The quick local check's restricted scans (src/engine/quickLocal.ts, engine/localScan.ts
// ScanRestriction), as an adversary: random differences between two synced trees (new,
// removed, rewritten and re-moded files, a directory turned into a file, new nested
// directories, symlinks, whole top-level directories added or removed, on either side), then
// the check and the full command with --delete, in this process. Each round the destination
// must equal the source and the next check must find a no-op; the rounds that go through
// restricted scans are counted, so the test fails if they stop being exercised. Seeded and
// replayable (OMIRR_TEST_SEED).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quickLocalSync } from '../../src/engine/quickLocal.js';
import { offerScan, restrictionOf, takePrescan } from '../../src/engine/localScan.js';
import { mirrorTree } from '../../src/api/mirrorTree.js';
import { closePools } from '../../src/workers/pool.js';
import { rng } from '../../src/core/random.js';
import { describeTree, removeDir, tempDir } from '../helpers/engineFixtures.js';

const SEED = process.env.OMIRR_TEST_SEED ? Number(process.env.OMIRR_TEST_SEED) : Math.floor(Math.random() * 1_000_000);
const ROUNDS = 30;
const base = tempDir('restrictfuzz');
after(async () => {
  removeDir(base);
  await closePools();
});

test(`${ROUNDS} rounds of random differences: --delete through the restricted scans leaves the source's copy, and the next check is a no-op`, async (t) => {
  t.diagnostic(`seed ${SEED} (replay: OMIRR_TEST_SEED=${SEED})`);
  const next = rng(SEED);
  const pick = (n: number): number => Math.floor(next() * n);
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  for (let d = 0; d < 12; d++) {
    mkdirSync(join(src, `d${d}`, 'sub'), { recursive: true });
    for (let f = 0; f < 30; f++) writeFileSync(join(src, `d${d}`, `f${f}`), `${d} ${f}`);
    writeFileSync(join(src, `d${d}`, 'sub', 'deep'), 'deep');
  }
  writeFileSync(join(src, 'top'), 'top');
  symlinkSync('d1/f1', join(src, 'link'));
  await mirrorTree(src, dst);
  // a change to one side; a path that a change before removed is left alone
  const change = (round: number, k: number): void => {
    const side = pick(2) === 0 ? src : dst;
    const dir = join(side, `d${pick(12)}`);
    const file = join(dir, `f${pick(34)}`);
    if (!existsSync(dir)) return;
    switch (pick(9)) {
      case 0: return writeFileSync(join(dir, `n${round}-${k}`), `new ${round} ${k}`);
      case 1: return rmSync(file, { force: true });
      case 2: return existsSync(file) ? chmodSync(file, 0o600) : undefined;
      case 3: return existsSync(file) ? writeFileSync(file, `rewritten ${round}`, { flag: 'a' }) : undefined;
      case 4: rmSync(join(dir, 'sub'), { recursive: true, force: true }); return writeFileSync(join(dir, 'sub'), 'was a directory');
      case 5: mkdirSync(join(dir, `nd${round}`, 'x'), { recursive: true }); return writeFileSync(join(dir, `nd${round}`, 'x', 'y'), 'nested');
      case 6: return existsSync(join(dir, `l${round}`)) ? undefined : symlinkSync('../top', join(dir, `l${round}`));
      case 7: return rmSync(dir, { recursive: true, force: true });
      default: mkdirSync(join(side, `z${round}`), { recursive: true }); return writeFileSync(join(side, `z${round}`, 'f'), `z ${round}`);
    }
  };
  let restricted = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const changes = 1 + pick(6);
    for (let k = 0; k < changes; k++) change(round, k);
    // the check hands both scans over (a difference was made, unless the changes cancelled out)
    if (await quickLocalSync(src, dst)) continue;
    const offered = takePrescan(src);
    if (offered) {
      const scan = await offered;
      if (restrictionOf(scan)) restricted++;
      // (given back as the check left it, for the full command to take)
      offerScan(src, scan, restrictionOf(scan));
    }
    const r = await mirrorTree(src, dst, { delete: true });
    assert.deepEqual(r.failed, [], `round ${round}`);
    assert.deepEqual(describeTree(dst), describeTree(src), `round ${round}: the copy (seed ${SEED})`);
    assert.equal(await quickLocalSync(src, dst), true, `round ${round}: the next check is a no-op (seed ${SEED})`);
  }
  assert.ok(restricted >= ROUNDS / 2, `restricted scans in ${restricted} of ${ROUNDS} rounds`);
});
