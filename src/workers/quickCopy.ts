// The quick local sync's copy (src/engine/quickCopy.ts), run on the main thread once the
// quick check is done (a thread booted for a few small files took longer than their copy).
// It copies a rerun's few changed files with the io pool's own copy task, then, when every
// file was written, gives the directories they were renamed into their source's mode and
// mtime back with the pool's own apply task, as the full command's executor does
// (PlanRunner.applyDirAttrs).
import type { Expected, OpResult, TreeOp } from '../core/tree.js';
import { copyFiles, type CopyResult } from './copyTasks.js';
import { apply } from './fsTasks.js';

export interface QuickCopyJob {
  srcRoot: string;
  dstRoot: string;
  files: Expected[];
  /** setattr ops of the files' directories, children first; applied only when every file was written. */
  dirOps: TreeOp[];
  chown: boolean;
}

export interface QuickCopyDone {
  copy: CopyResult;
  /** Undefined when a file failed (the directories are then left to the full command). */
  dirs?: OpResult[];
}

export function quickCopy(job: QuickCopyJob): QuickCopyDone {
  const copy = copyFiles({ srcRoot: job.srcRoot, dstRoot: job.dstRoot, files: job.files, chown: job.chown });
  return copy.failed.length === 0 ? { copy, dirs: apply({ root: job.dstRoot, ops: job.dirOps, chown: job.chown }) } : { copy };
}
