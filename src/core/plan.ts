// Reconciliation for one-way sync and mirror packages (pure): given the source and
// destination listings and the options, decide what to create, copy, fix and delete.
// The transfer session (src/machines/transferSession.ts) executes a SyncPlan.
// STUB: the types are settled; planSync is being implemented.
import type { Entry } from './entry.js';
import type { Expected } from './tree.js';

export interface PlanOptions {
  /** Compare content hashes (entries must carry .hash) instead of size+mtime. */
  checksum?: boolean;
  /** Delete destination entries absent from the source (rsync --delete, mirror do_deletes). */
  delete?: boolean;
  /** Paths (relative, POSIX) to leave out on both sides: never copied, never deleted. */
  exclude?: (path: string, kind: Entry['kind']) => boolean;
  /** Source paths to copy; those not matching are "not kept" (mirror get_patt). */
  include?: (path: string, kind: Entry['kind']) => boolean;
  /** Only delete destination paths matching this (mirror delete_patt / delete_excl). */
  deletable?: (path: string, kind: Entry['kind']) => boolean;
  /** All-or-nothing limits on deletions: a count, or a percentage of the destination's files/dirs. */
  maxDeleteFiles?: number | { percent: number };
  maxDeleteDirs?: number | { percent: number };
  /** mirror's comparison rules; defaults give rsync's quick check (size or mtime differs). */
  getNewer?: boolean;
  getSizeChange?: boolean;
  getMissing?: boolean;
  force?: boolean;
  /** Ignore entries (both sides) whose mtime is older than this (epoch ms); mirror max_days. */
  notOlderThanMs?: number;
  /** Skip source files larger than this (mirror max_size). */
  maxSize?: number;
  /** Set mtimes on the destination (mirror force_times; rsync -t). Default true. */
  setTimes?: boolean;
  /** Mode to give new files/dirs instead of the source's (mirror file_mode/dir_mode when !mode_copy). */
  fileMode?: number;
  dirMode?: number;
  /** Create symlinks whose target does not exist (mirror make_bad_symlinks). */
  makeBadSymlinks?: boolean;
}

export interface SyncPlan {
  /** Directories to create, parents before children. */
  mkdirs: Entry[];
  /** Files whose content must be sent, with the attributes to set. */
  transfers: Expected[];
  /** Symlinks to create or replace. */
  symlinks: Entry[];
  /** Existing entries whose content is right but mode or mtime are not. */
  setattrs: Entry[];
  /** Destination entries to delete (or save aside), children before parents. */
  deletes: Entry[];
  /** Why deletes were withheld, if a limit was exceeded (all-or-nothing). */
  deletesRefused?: string;
  /** Entries of a kind omirr does not mirror, or otherwise skipped, with the reason. */
  skipped: Array<{ path: string; reason: string }>;
}

export function planSync(src: Entry[], dst: Entry[], opts: PlanOptions = {}): SyncPlan {
  void src;
  void dst;
  void opts;
  throw new Error('not implemented');
}
