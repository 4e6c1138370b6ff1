// Conflict copies: the local loser of a concurrent change, kept beside the winner as
// NAME.omirr-conflict-... (src/daemon/treeReplica.ts decides when; src/core/conflict.ts
// makes the names). Every node facing the same conflict derives the same first name, so
// copies made on different nodes merge instead of conflicting again.
//
// The loser is never copied: files and links are renamed aside at the moment the winner is
// placed (src/workers/safeWrite.ts, placeObject), so a process that holds the loser open
// keeps writing into the kept copy. A name list always ends in names nobody else uses
// (keepAside's numbered fallbacks): a loser is never dropped, and never wedges the link
// by refusing its batch (issue 9, item 3).
import { conflictName } from '../core/conflict.js';
import { expectOf, isLive, type IndexRecord, type KeepName, type TreeIndex } from '../core/treeIndex.js';
import { lastWriter, maxCounter } from '../core/version.js';
import { assertSafeRelPath } from '../engine/paths.js';
import { numberedName } from '../core/treeIndex.js';
import type { PlaceFs } from '../replica/placement.js';

/** The loser's conflict name with a tag after the node: `a.omirr-conflict-…-NODE-TAG.txt` (shortened like any conflict name). */
function taggedConflictName(path: string, loser: IndexRecord, tag: string): string {
  return conflictName(path, new Date(maxCounter(loser.version)), `${lastWriter(loser.version)}-${tag}`);
}

/**
 * The names to keep `loser` (our record of `path`) under, best first:
 *  - `copy`, the name every node derives from the losing version;
 *  - for a file, the same with the first 8 then 16 hex digits of its hash after the node:
 *    another loser of the same writer in the same second took `copy`, and every node facing
 *    that collision derives these alike.
 * A name already holding exactly this loser (the copy another node made, mirrored here, as
 * our index knows it) counts as kept. Past these, keepAside numbers its names.
 */
export function conflictKeepNames(index: TreeIndex, path: string, copy: string, loser: IndexRecord | undefined): KeepName[] {
  const names = [copy];
  const hash = isLive(loser) && loser.entry.kind === 'file' ? loser.entry.hash : undefined;
  if (hash !== undefined) names.push(taggedConflictName(path, loser!, hash.slice(0, 8)), taggedConflictName(path, loser!, hash.slice(0, 16)));
  return names.map((name) => {
    assertSafeRelPath(name);
    const there = index.get(name);
    const same =
      isLive(there) &&
      isLive(loser) &&
      there.entry.kind === loser.entry.kind &&
      (loser.entry.kind === 'file' ? there.entry.hash !== undefined && there.entry.hash === hash && there.entry.size === loser.entry.size : there.entry.target === loser.entry.target);
    return same ? { name, sameIf: expectOf(there) } : { name };
  });
}

/**
 * A directory that loses to a file or link is renamed, with its subtree, to the first free
 * name (lstat, then rename: a directory cannot be linked; only our own queue makes these
 * names). Returns the name it went to.
 */
export function keepDirAside(fs: PlaceFs, root: string, path: string, names: KeepName[]): string {
  const free = (n: string): boolean => {
    try {
      fs.lstat(`${root}/${n}`);
      return false;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw err;
    }
  };
  let name = names.find((k) => free(k.name))?.name;
  for (let i = 2; name === undefined; i++) if (free(numberedName(path, i))) name = numberedName(path, i);
  fs.rename(`${root}/${path}`, `${root}/${name}`);
  return name;
}
