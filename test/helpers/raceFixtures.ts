// The write race of issue 9, item 1, on real daemons: shared by the race test
// (test/integration/daemonRace.test.ts) and the soak (test/soak/soak.ts).
import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from './daemonFixtures.js';
import { rng } from '../../src/core/random.js';

export const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

export interface RaceResult {
  /** Contents written (all nodes). */
  written: number;
  /** Of those, found anywhere in the converged tree. */
  present: number;
  /** Each node's last write that exists neither as the file nor as a conflict copy. */
  lostLast: string[];
  /** Final contents of the shared name or its conflict copies that nobody wrote. */
  foreign: string[];
  /** For the failure message: each node's last content, and what the tree ended with. */
  detail: string;
}

/** Each node replaces `f.txt` `writes` times with a pause of 0-20 ms; returns what survived after convergence. */
export async function raceOneFile(c: Cluster, nodes: string[], writes: number, seed: number, inPlace: boolean): Promise<RaceResult> {
  const all = new Set<string>();
  const last = new Map<string, string>();
  const write = (n: string, i: number, rand: () => number) => {
    const root = c.tree(n);
    const content = `${n} write ${i} seed ${seed} ${rand()}\n`;
    all.add(sha(content));
    last.set(n, content);
    if (inPlace) writeFileSync(join(root, 'f.txt'), content);
    else {
      writeFileSync(join(root, `.tmp-${n}`), content);
      renameSync(join(root, `.tmp-${n}`), join(root, 'f.txt'));
    }
  };
  // An in-place write opens with O_TRUNC, then writes: for that instant the file is empty,
  // a state it really had (any reader could see it), and a daemon that looks then mirrors
  // it. Under load the writer can be descheduled between the two steps for longer than the
  // watcher's quiet time, so the empty content is one that was "written" here.
  if (inPlace) all.add(sha(''));
  const rands = nodes.map((_, k) => rng(seed * 7 + k));
  await Promise.all(
    nodes.map(async (n, k) => {
      for (let i = 0; i < writes - 1; i++) {
        write(n, i, rands[k]!);
        await new Promise((r) => setTimeout(r, Math.floor(rands[k]!() * 21)));
      }
    }),
  );
  // the last writes, concurrent by construction
  nodes.forEach((n, k) => write(n, writes - 1, rands[k]!));
  const snap = await c.converge(nodes, 60_000);
  const found = new Map<string, string[]>();
  const foreign: string[] = [];
  for (const [p, v] of Object.entries(snap)) {
    const m = /^file:([0-9a-f]{64}):/.exec(v);
    if (!m || !(p === 'f.txt' || p.startsWith('f.omirr-conflict-'))) continue;
    found.set(m[1]!, [...(found.get(m[1]!) ?? []), p]);
    if (!all.has(m[1]!)) foreign.push(p);
  }
  const lostLast = [...last].filter(([, content]) => !found.has(sha(content))).map(([n]) => n);
  const detail =
    [...last].map(([n, content]) => `${n}'s last: ${sha(content).slice(0, 12)} ${content.trim()}`).join('\n') +
    '\n' +
    Object.entries(snap)
      .filter(([p]) => p.startsWith('f'))
      .map(([p, v]) => `${p} = ${v.slice(5, 17)}`)
      .join('\n');
  return { written: all.size, present: [...all].filter((h) => found.has(h)).length, lostLast, foreign, detail };
}

