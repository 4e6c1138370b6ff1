// Pairs the two halves of a rename seen by a watcher. fs.watch reports a rename as two
// 'rename' events (the old name vanished, the new name appeared) and does not expose
// inotify's IN_MOVED_FROM/IN_MOVED_TO cookie, so the halves are matched by inode: the
// new path's inode (from a quick lstat) equals the inode the old path had (from the
// index, or from what the watcher saw earlier). A rename is atomic and keeps the
// inode, so within one batch of events this pairing is exact.

export type WatchKind = 'file' | 'dir' | 'symlink' | 'other' | 'gone';

export interface SeenPath {
  path: string;
  kind: WatchKind;
  ino?: number;
}

export interface MovePair {
  from: string;
  to: string;
  kind: Exclude<WatchKind, 'gone'>;
  ino: number;
}

/**
 * Splits a batch into moves and the remaining changes. `inodeOf(path)` gives the inode a
 * vanished path had (undefined: unknown, the change stays a delete). Each vanished path
 * and each appeared path is used in at most one pair; the order of `changes` is kept.
 */
export function pairMoves(changes: SeenPath[], inodeOf: (path: string) => number | undefined): { moves: MovePair[]; rest: SeenPath[] } {
  const appearedByIno = new Map<number, SeenPath>();
  for (const c of changes) if (c.kind !== 'gone' && c.ino !== undefined && !appearedByIno.has(c.ino)) appearedByIno.set(c.ino, c);
  const paired = new Set<SeenPath>();
  const moves: MovePair[] = [];
  if (appearedByIno.size > 0) {
    for (const c of changes) {
      if (c.kind !== 'gone') continue;
      const ino = inodeOf(c.path);
      if (ino === undefined) continue;
      const to = appearedByIno.get(ino);
      if (to === undefined || paired.has(to) || to.path === c.path) continue;
      moves.push({ from: c.path, to: to.path, kind: to.kind as MovePair['kind'], ino });
      paired.add(to);
      paired.add(c);
    }
  }
  return { moves, rest: paired.size === 0 ? changes : changes.filter((c) => !paired.has(c)) };
}
