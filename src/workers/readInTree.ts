// Opening a file of a tree for reading, confined to the tree (issue 9: a peer that planted
// `root -> /` must not read `root/etc/shadow`). Two checks: before the open, every directory
// from the root down is a real directory (assertReadableInTree, the writers' chain check),
// and the last component is opened O_NOFOLLOW; after it, on Linux, the kernel's own name for
// the descriptor (/proc/self/fd/N) must lie below the root's real path, which also catches a
// directory swapped for a symlink between the check and the open.
//
// A reader made `byDirectory` (a copy task's: thousands of small files, directory by
// directory) does that check once per directory instead of once per file: it opens the
// directory itself (O_DIRECTORY | O_NOFOLLOW, after the same chain check), checks the
// directory's descriptor as above, and opens each file of it as /proc/self/fd/DIR/NAME,
// which the kernel resolves as openat(DIR, NAME) does: NAME looked up in that very
// directory, wherever it is now, the last component O_NOFOLLOW. Nothing swapped above the
// directory after its check changes which directory that is. One lookup in /proc per
// file instead of an open and a readlink there (~30 % of the CPU of opening and reading a
// small file). Without /proc, the per-file way.
import { closeSync, constants, openSync, readlinkSync, realpathSync } from 'node:fs';
import { assertReadableInTree, assertRealDirChain, assertSafeRelPath, baseOf, fsPath, parentOf, UnsafePathError } from './paths.js';

/** O_NONBLOCK: a file swapped for a FIFO since the scan must not hang the worker (regular files ignore it). */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** Opens files below one root for reading; one per task (it caches the verified directories). */
export class TreeReader {
  private readonly verified = new Set<string>();
  /** The root's real path and a '/', as bytes. */
  private realBase: Buffer | undefined;
  /** byDirectory: the directory last opened (relative path) and its checked descriptor; -1 none. */
  private dir = '';
  private dirFd = -1;
  private noProc = false;

  /** `byDirectory`: files opened through their directory's descriptor (see above); the owner calls close(). */
  constructor(
    readonly root: string,
    private readonly byDirectory = false,
  ) {}

  /** A read-only descriptor of `rel`, or throws (UnsafePathError when it is not in the tree). */
  open(rel: string, flags = READ_FLAGS): number {
    if (this.byDirectory && !this.noProc) {
      assertSafeRelPath(rel);
      const fd = this.dirDescriptor(parentOf(rel));
      if (fd >= 0) return openSync(fsPath(`/proc/self/fd/${fd}/${baseOf(rel)}`), flags | constants.O_NOFOLLOW);
    }
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

  /** Close the directory descriptor a byDirectory reader keeps. */
  close(): void {
    if (this.dirFd >= 0) closeSync(this.dirFd);
    this.dirFd = -1;
  }

  /** The checked descriptor of directory `dir` (relative; '' the root), kept until the next directory; -1 without /proc. */
  private dirDescriptor(dir: string): number {
    if (this.dirFd >= 0 && this.dir === dir) return this.dirFd;
    this.close();
    assertRealDirChain(this.root, dir, this.verified, false);
    const fd = openSync(fsPath(dir === '' ? this.root : `${this.root}/${dir}`), DIR_FLAGS);
    try {
      if (!this.assertOpenedInTree(fd, dir)) {
        this.noProc = true;
        closeSync(fd);
        return -1;
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.dir = dir;
    this.dirFd = fd;
    return fd;
  }

  /** Throws unless descriptor `fd` (of `rel`; '' the root itself) lies in the tree; false when there is no /proc to tell. */
  private assertOpenedInTree(fd: number, rel: string): boolean {
    let real: Buffer;
    try {
      real = readlinkSync(`/proc/self/fd/${fd}`, { encoding: 'buffer' });
    } catch {
      return false; // no /proc: the chain check stands alone
    }
    // compared as bytes: names that are not UTF-8 compare exactly (src/core/names.ts)
    if (!this.realBase) {
      const realRoot = realpathSync(fsPath(this.root), { encoding: 'buffer' });
      this.realBase = realRoot.equals(ROOT_DIR) ? ROOT_DIR : Buffer.concat([realRoot, ROOT_DIR]);
    }
    // the root itself: its real path is the base without the '/'
    if (rel === '' && real.length + 1 === this.realBase.length && this.realBase.subarray(0, real.length).equals(real)) return true;
    if (real.length < this.realBase.length || !real.subarray(0, this.realBase.length).equals(this.realBase)) throw new UnsafePathError(rel, 'resolves outside the tree');
    return true;
  }
}

const ROOT_DIR = Buffer.from('/');
