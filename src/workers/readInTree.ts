// Opening a file of a tree for reading, confined to the tree (issue 9: a peer that planted
// `root -> /` must not read `root/etc/shadow`). Two checks: before the open, every directory
// from the root down is a real directory (assertReadableInTree, the writers' chain check),
// and the last component is opened O_NOFOLLOW; after it, on Linux, the kernel's own name for
// the descriptor (/proc/self/fd/N) must lie below the root's real path, which also catches a
// directory swapped for a symlink between the check and the open.
import { closeSync, constants, openSync, readlinkSync, realpathSync } from 'node:fs';
import { assertReadableInTree, fsPath, UnsafePathError } from './paths.js';

/** O_NONBLOCK: a file swapped for a FIFO since the scan must not hang the worker (regular files ignore it). */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Opens files below one root for reading; one per task (it caches the verified directories). */
export class TreeReader {
  private readonly verified = new Set<string>();
  /** The root's real path and a '/', as bytes. */
  private realBase: Buffer | undefined;

  constructor(readonly root: string) {}

  /** A read-only descriptor of `rel`, or throws (UnsafePathError when it is not in the tree). */
  open(rel: string, flags = READ_FLAGS): number {
    assertReadableInTree(this.root, rel, this.verified);
    const fd = openSync(fsPath(`${this.root}/${rel}`), flags | constants.O_NOFOLLOW);
    try {
      this.assertOpenedInTree(fd, rel);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return fd;
  }

  private assertOpenedInTree(fd: number, rel: string): void {
    let real: Buffer;
    try {
      real = readlinkSync(`/proc/self/fd/${fd}`, { encoding: 'buffer' });
    } catch {
      return; // no /proc: the chain check stands alone
    }
    // compared as bytes: names that are not UTF-8 compare exactly (src/core/names.ts)
    if (!this.realBase) {
      const realRoot = realpathSync(fsPath(this.root), { encoding: 'buffer' });
      this.realBase = realRoot.equals(ROOT_DIR) ? ROOT_DIR : Buffer.concat([realRoot, ROOT_DIR]);
    }
    if (real.length < this.realBase.length || !real.subarray(0, this.realBase.length).equals(this.realBase)) throw new UnsafePathError(rel, 'resolves outside the tree');
  }
}

const ROOT_DIR = Buffer.from('/');
