// What a sync will do (or did), one line per path, in a compact form modelled on rsync's
// --itemize-changes (pure). Used by `omirr sync -i` and `omirr sync -n -v`; documented in
// docs/cli.md ("Itemized changes").
//
//   YXcstpogz PATH
//   Y  > a file's content is sent     c a directory or symlink is created (or a link's target changed)
//      . only attributes are set      * a message instead of flags: *deleting, *skipping
//   X  f file, d directory, L symlink
//   c  content (hash) differs   s size   t mtime   p permissions   o owner   g group   z (unused)
//   each is the letter when that attribute changes, `.` when not; `+++++++` for a new entry.
// A directory's path ends with `/`, a symlink shows `-> TARGET`.
import { displayName } from './names.js';
import type { Entry, EntryKind } from './entry.js';
import type { SyncPlan } from './plan.js';
import type { RootAttrs, RootAttrsChange } from './tree.js';

export type ItemAction = 'send' | 'mkdir' | 'symlink' | 'setattr' | 'delete' | 'skip';

export interface ItemizedChange {
  /** The 9-character code (`>f+++++++`, `*deleting`, ...). */
  code: string;
  action: ItemAction;
  path: string;
  kind: EntryKind;
  /** For symlinks: the target. */
  target?: string;
  /** For skipped entries: why. */
  reason?: string;
}

const KIND_LETTER: Record<EntryKind, string> = { file: 'f', dir: 'd', symlink: 'L' };
const NEW = '+++++++';

/** The seven attribute flags of `want` against what the destination has (`have`), or all `+` when new. */
function flags(want: Entry, have: Entry | undefined): string {
  if (!have || have.kind !== want.kind) return NEW;
  const differs = (letter: string, d: boolean): string => (d ? letter : '.');
  return [
    differs('c', want.kind === 'file' ? want.hash !== undefined && have.hash !== undefined && want.hash !== have.hash : want.target !== have.target),
    differs('s', want.kind === 'file' && want.size !== have.size),
    differs('t', want.mtimeMs !== have.mtimeMs),
    differs('p', want.mode !== have.mode),
    differs('o', want.uid !== undefined && have.uid !== undefined && want.uid !== have.uid),
    differs('g', want.gid !== undefined && have.gid !== undefined && want.gid !== have.gid),
    '.',
  ].join('');
}

/** Every action of a plan, one per path, sorted by path (a path's delete before its re-creation). */
export function itemizePlan(plan: SyncPlan, dst: ReadonlyMap<string, Entry> | readonly Entry[]): ItemizedChange[] {
  const have = dst instanceof Map ? dst : new Map((dst as readonly Entry[]).map((e) => [e.path, e]));
  const out: Array<ItemizedChange & { order: number }> = [];
  const add = (c: ItemizedChange, order: number): void => {
    out.push({ ...c, order });
  };
  for (const e of [...(plan.replaced ?? []), ...plan.deletes]) add({ code: '*deleting', action: 'delete', path: e.path, kind: e.kind }, 0);
  const replaced = new Set((plan.replaced ?? []).map((e) => e.path));
  const before = (e: Entry): Entry | undefined => (replaced.has(e.path) ? undefined : have.get(e.path));
  for (const e of plan.mkdirs) add({ code: `cd${flags(e, before(e))}`, action: 'mkdir', path: e.path, kind: 'dir' }, 1);
  for (const e of plan.transfers) add({ code: `>f${flags(e, before(e))}`, action: 'send', path: e.path, kind: 'file' }, 1);
  for (const e of plan.symlinks) add({ code: `cL${flags(e, before(e))}`, action: 'symlink', path: e.path, kind: 'symlink', ...(e.target !== undefined ? { target: e.target } : {}) }, 1);
  for (const e of plan.setattrs) add({ code: `.${KIND_LETTER[e.kind]}${flags(e, before(e))}`, action: 'setattr', path: e.path, kind: e.kind }, 1);
  for (const s of plan.skipped) add({ code: '*skipping', action: 'skip', path: s.path, kind: have.get(s.path)?.kind ?? 'file', reason: s.reason }, 2);
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.order - b.order));
  return out.map(({ order: _o, ...c }) => c);
}

/**
 * The destination root's own line, `./` as rsync's: the mode and mtime a run gives it
 * (core/plan.ts planRootAttrs, decided before anything is written), against what it has
 * (`have`; none: the root is made by this run).
 */
export function itemizeRoot(change: RootAttrsChange, have: RootAttrs | undefined): ItemizedChange {
  if (!have) return { code: `cd${NEW}`, action: 'mkdir', path: '.', kind: 'dir' };
  const t = change.mtimeMs !== undefined ? 't' : '.';
  const p = change.mode !== (have.mode & 0o7777) ? 'p' : '.';
  return { code: `.d..${t}${p}...`, action: 'setattr', path: '.', kind: 'dir' };
}

/** One itemized line: `CODE PATH` (`/` after a directory, `-> TARGET` after a link, `: REASON` after a skip). */
export function formatItem(c: ItemizedChange): string {
  // for people: bytes that are not UTF-8 as \xNN (src/core/names.ts)
  const path = c.kind === 'dir' ? `${displayName(c.path)}/` : displayName(c.path);
  const tail = c.target !== undefined ? ` -> ${displayName(c.target)}` : c.reason !== undefined ? `: ${c.reason}` : '';
  return `${c.code} ${path}${tail}`;
}
