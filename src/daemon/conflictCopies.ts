// Conflict copies: the local loser of a concurrent change, kept beside the winner as
// NAME.omirr-conflict-... before the winner is written (src/daemon/treeReplica.ts decides
// when; src/core/conflict.ts makes the names). Every node facing the same conflict derives
// the same name, so copies made on different nodes merge instead of conflicting again.
import { constants as fsConstants } from 'node:fs';
import { chmod, copyFile, lstat, readlink, rename, symlink, unlink, utimes } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { conflictName } from '../core/conflict.js';
import { isLive, type IndexRecord } from '../core/treeIndex.js';
import { lastWriter, maxCounter } from '../core/version.js';
import type { LocalTree } from '../engine/localTree.js';
import { assertSafeRelPath } from '../engine/paths.js';
import type { Logger } from '../log.js';

/** How a conflict's loser was kept: copied, renamed aside (a directory), or already there. */
export type KeepHow = 'copied' | 'renamed' | 'existed';

/** A loser kept for `path` as `copy`, undone (undoKeepLoser) when the winner is not written after all. */
export interface ConflictCopy {
  path: string;
  copy: string;
  how: KeepHow;
}

/** The loser's conflict name with a tag after the node: `a.omirr-conflict-…-NODE-TAG.txt` (shortened like any conflict name). */
function taggedConflictName(path: string, loser: IndexRecord, tag: string): string {
  return conflictName(path, new Date(maxCounter(loser.version)), `${lastWriter(loser.version)}-${tag}`);
}

/**
 * Keeps the local loser of a conflict beside the winner before the winner is written:
 * files and links are copied (the original stays in place until the winner replaces it,
 * so a failed transfer loses nothing), a directory losing to a non-directory is renamed.
 *
 * The name (`copy`, from the losing version's second and writer) can already be taken:
 *  - by the same content: the copy another node made of this very loser, mirrored here
 *    already. Nothing to copy ('existed');
 *  - by other content: another loser of the same writer in the same second. The copy
 *    then gets the loser's content hash in its name (…-NODE-HASH8.EXT), which every node
 *    facing the same collision derives alike.
 * Throws when no name is free (the caller refuses the batch, nothing is lost).
 */
export async function keepLoser(tree: LocalTree, path: string, copy: string, loser: IndexRecord | undefined): Promise<ConflictCopy> {
  const abs = `${tree.root}/${path}`;
  const st = await lstat(abs);
  const target = st.isSymbolicLink() ? await readlink(abs) : undefined;
  const hash = st.isFile() && isLive(loser) && loser.entry.kind === 'file' ? loser.entry.hash : undefined;
  const names = [copy];
  if (hash !== undefined) names.push(taggedConflictName(path, loser!, hash.slice(0, 8)), taggedConflictName(path, loser!, hash.slice(0, 16)));
  for (const name of names) {
    assertSafeRelPath(name);
    const dst = `${tree.root}/${name}`;
    const there = await lstat(dst).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (there) {
      if (await sameLoser(tree, name, there, st, target, hash)) return { path, copy: name, how: 'existed' };
      continue;
    }
    if (st.isDirectory()) {
      await rename(abs, dst);
      return { path, copy: name, how: 'renamed' };
    }
    if (target !== undefined) await symlink(target, dst);
    else {
      await copyFile(abs, dst, fsConstants.COPYFILE_EXCL);
      await chmod(dst, st.mode & 0o7777);
      // the index's (rounded) mtime, not the sub-millisecond one: every node's copy of this
      // loser then has the same mtime, and the copies merge instead of conflicting again
      const mtimeMs = isLive(loser) ? loser.entry.mtimeMs : Math.round(st.mtimeMs);
      await utimes(dst, st.atime, new Date(mtimeMs));
    }
    return { path, copy: name, how: 'copied' };
  }
  throw new Error(`${path}: every conflict name is taken by other content (${names.join(', ')})`);
}

/** Is the existing `name` already a copy of the loser (same bytes, or the same link)? */
async function sameLoser(tree: LocalTree, name: string, there: Stats, st: Stats, target: string | undefined, hash: string | undefined): Promise<boolean> {
  if (target !== undefined) return there.isSymbolicLink() && (await readlink(`${tree.root}/${name}`)) === target;
  if (!st.isFile() || !there.isFile() || hash === undefined || there.size !== st.size) return false;
  return (await tree.hashFiles([name])).get(name) === hash;
}

/** Removes a copy keepLoser made (or renames the directory back); one found already there stays. */
export async function undoKeepLoser(root: string, k: ConflictCopy, log: Logger): Promise<void> {
  if (k.how === 'existed') return; // not ours to remove: it was there before
  try {
    if (k.how === 'renamed') await rename(`${root}/${k.copy}`, `${root}/${k.path}`);
    else await unlink(`${root}/${k.copy}`);
  } catch (err) {
    log.warn({ path: k.path, copy: k.copy, err: (err as Error).message }, 'could not undo a conflict copy');
  }
}
