import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lostRootReason } from '../../src/replica/rootGuard.js';

test('lostRootReason: a changed device with most of the tree gone is refused; anything less is not', () => {
  const refused = [
    { devKnown: 40, devNow: 65024, live: 1000, vanished: 1000 }, // the empty mount point
    { devKnown: 40, devNow: 65024, live: 3, vanished: 2 },
  ];
  for (const c of refused) assert.match(lostRootReason(c) ?? '', /another file system/, JSON.stringify(c));
  const taken = [
    { devKnown: 40, devNow: 40, live: 1000, vanished: 1000 }, // the user emptied it: same device
    { devKnown: undefined, devNow: 40, live: 10, vanished: 10 }, // an index from before the device was kept
    { devKnown: 40, devNow: 41, live: 1000, vanished: 3 }, // renumbered after a reboot, the tree is there
    { devKnown: 40, devNow: 41, live: 10, vanished: 5 }, // half: not more than half
    { devKnown: 40, devNow: 41, live: 0, vanished: 0 },
  ];
  for (const c of taken) assert.equal(lostRootReason(c), null, JSON.stringify(c));
});
