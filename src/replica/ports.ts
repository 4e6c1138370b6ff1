// The interfaces the replica's executor (executor.ts) talks to, and their node:fs forms.
// The simulation (test/sim/) implements the same over an in-memory file system with
// injected EPERM, ENOSPC and crashes.
import * as nodeFs from 'node:fs';
import { mtimeSeconds } from '../core/entry.js';
import { fsPath } from '../core/names.js';
import { nodePlaceFs, type PlaceFs } from './placement.js';

/** Attributes set on an object that is already in place (a directory made, a file whose bytes are the same). */
export interface AttrChange {
  mode?: number;
  mtimeMs?: number;
  mtimeNs?: number;
  uid?: number;
  gid?: number;
}

/**
 * The synchronous file-system calls of the executor: placing's (PlaceFs: lstat, readlink,
 * rename, link, unlink, symlink, mkdir, rmdir, readdir, small state files) and setAttrs.
 */
export interface ReplicaFs extends PlaceFs {
  /** chmod and utimes (a symlink: only its mtime), lchown when uid/gid are given. */
  setAttrs(abs: string, a: AttrChange): void;
}

/** The real file system. */
export const nodeReplicaFs: ReplicaFs = {
  ...nodePlaceFs,
  setAttrs(absPath, a) {
    // a name that is not UTF-8 reaches the kernel as its exact bytes (src/core/names.ts)
    const abs = fsPath(absPath);
    const st = nodeFs.lstatSync(abs);
    const mtime = a.mtimeMs !== undefined ? mtimeSeconds({ mtimeMs: a.mtimeMs, ...(a.mtimeNs !== undefined ? { mtimeNs: a.mtimeNs } : {}) }) : undefined;
    if (st.isSymbolicLink()) {
      if (mtime !== undefined) nodeFs.lutimesSync(abs, Date.now() / 1000, mtime);
    } else {
      if (a.mode !== undefined) nodeFs.chmodSync(abs, a.mode & 0o7777);
      if (mtime !== undefined) nodeFs.utimesSync(abs, Date.now() / 1000, mtime);
    }
    if (a.uid !== undefined || a.gid !== undefined) nodeFs.lchownSync(abs, a.uid ?? -1, a.gid ?? -1);
  },
};
