// An in-memory file system for the replica simulation: the ReplicaFs calls the real executor
// and placing code make (src/replica/ports.ts, executor.ts, placement.ts), with POSIX semantics where they matter (rename
// replaces, link never does, rmdir only empty, hard links share an inode), plus the raw
// calls a simulated user makes. Errors can be injected: EPERM for everything created in a
// locked directory, ENOSPC for everything that allocates.
import type { AttrChange, ReplicaFs } from '../../src/replica/ports.js';

interface FileInode {
  kind: 'file';
  ino: number;
  content: string;
  mode: number;
  mtimeMs: number;
}
/** What open(2) gives a process: the inode (MemFs.open, writeHandle). */
export interface FileHandle {
  readonly inode: FileInode;
}
type Node = FileInode | { kind: 'dir'; ino: number; mode: number } | { kind: 'symlink'; ino: number; target: string };

function fail(code: string, p: string): never {
  throw Object.assign(new Error(`${code}: ${p}`), { code });
}

function parent(p: string): string {
  return p.slice(0, p.lastIndexOf('/')) || '/';
}

export class MemFs implements ReplicaFs {
  readonly nodes = new Map<string, Node>();
  private nextIno = 1;
  // Freed inode numbers, reused last-freed first, as ext4 does within a burst: a new file
  // often gets the number of the one just replaced, so identity by (inode, size, mtime)
  // is tested as the kernel makes it (inodes someone opened are never reused here).
  private readonly freeInos: number[] = [];
  private readonly pinned = new Set<Node>();
  /** Directories whose entries cannot be created or removed (EPERM). */
  readonly locked = new Set<string>();
  /** Every allocation fails (ENOSPC). */
  full = false;

  constructor(root: string) {
    this.nodes.set(root, { kind: 'dir', ino: this.newIno(), mode: 0o755 });
  }

  private newIno(): number {
    return this.freeInos.pop() ?? this.nextIno++;
  }

  /** Names each inode has (hard links share one). */
  private readonly nlink = new Map<Node, number>();

  private named(n: Node): Node {
    this.nlink.set(n, (this.nlink.get(n) ?? 0) + 1);
    return n;
  }

  /** `n` lost a name: its number is free once no name and no handle holds it. */
  private release(n: Node | undefined): void {
    if (!n) return;
    const left = (this.nlink.get(n) ?? 1) - 1;
    if (left > 0) return void this.nlink.set(n, left);
    this.nlink.delete(n);
    if (!this.pinned.has(n)) this.freeInos.push(n.ino);
  }

  private get(p: string): Node {
    const n = this.nodes.get(p);
    if (!n) fail('ENOENT', p);
    return n;
  }

  private checkParent(p: string): void {
    const d = this.nodes.get(parent(p));
    if (!d) fail('ENOENT', p);
    if (d.kind !== 'dir') fail('ENOTDIR', p);
    if (this.locked.has(parent(p))) fail('EPERM', p);
  }

  private children(p: string): string[] {
    const pre = p + '/';
    const out: string[] = [];
    for (const k of this.nodes.keys()) if (k.startsWith(pre) && !k.slice(pre.length).includes('/')) out.push(k.slice(pre.length));
    return out;
  }

  lstat(p: string) {
    const n = this.get(p);
    return {
      isFile: () => n.kind === 'file',
      isDirectory: () => n.kind === 'dir',
      isSymbolicLink: () => n.kind === 'symlink',
      size: n.kind === 'file' ? n.content.length : 0,
      mtimeMs: n.kind === 'file' ? n.mtimeMs : 0,
      mode: n.kind === 'symlink' ? 0o777 : n.mode,
      ino: n.ino,
      uid: 0,
      gid: 0,
    };
  }

  readlink(p: string): string {
    const n = this.get(p);
    if (n.kind !== 'symlink') fail('EINVAL', p);
    return n.target;
  }

  rename(a: string, b: string): void {
    const n = this.get(a);
    this.checkParent(b);
    if (this.locked.has(parent(a))) fail('EPERM', a);
    if (a === b) return;
    if (b.startsWith(a + '/')) fail('EINVAL', b);
    const there = this.nodes.get(b);
    // two names of one inode: POSIX rename does nothing at all
    if (there === n) return;
    if (there) {
      if (there.kind === 'dir' && n.kind !== 'dir') fail('EISDIR', b);
      if (there.kind !== 'dir' && n.kind === 'dir') fail('ENOTDIR', b);
      if (there.kind === 'dir' && this.children(b).length > 0) fail('ENOTEMPTY', b);
    }
    if (n.kind === 'dir') {
      const pre = a + '/';
      for (const [k, v] of [...this.nodes]) {
        if (k.startsWith(pre)) {
          this.nodes.delete(k);
          this.nodes.set(b + k.slice(a.length), v);
        }
      }
    }
    this.nodes.delete(a);
    this.nodes.set(b, n);
    if (there !== undefined) this.release(there);
  }

  link(a: string, b: string): void {
    const n = this.get(a);
    if (n.kind === 'dir') fail('EPERM', a);
    if (this.nodes.has(b)) fail('EEXIST', b);
    this.checkParent(b);
    if (this.full) fail('ENOSPC', b);
    this.nodes.set(b, this.named(n));
  }

  unlink(p: string): void {
    const n = this.get(p);
    if (n.kind === 'dir') fail('EISDIR', p);
    if (this.locked.has(parent(p))) fail('EPERM', p);
    this.nodes.delete(p);
    this.release(n);
  }

  symlink(target: string, p: string): void {
    if (this.nodes.has(p)) fail('EEXIST', p);
    this.checkParent(p);
    if (this.full) fail('ENOSPC', p);
    this.nodes.set(p, this.named({ kind: 'symlink', ino: this.newIno(), target }));
  }

  mkdir(p: string, opts: { mode: number }): void {
    if (this.nodes.has(p)) fail('EEXIST', p);
    this.checkParent(p);
    if (this.full) fail('ENOSPC', p);
    this.nodes.set(p, this.named({ kind: 'dir', ino: this.newIno(), mode: opts.mode }));
  }

  rmdir(p: string): void {
    const n = this.get(p);
    if (n.kind !== 'dir') fail('ENOTDIR', p);
    if (this.children(p).length > 0) fail('ENOTEMPTY', p);
    if (this.locked.has(parent(p))) fail('EPERM', p);
    this.nodes.delete(p);
    this.release(n);
  }

  readdir(p: string): string[] {
    const n = this.get(p);
    if (n.kind !== 'dir') fail('ENOTDIR', p);
    return this.children(p).sort();
  }

  readFile(p: string): string {
    const n = this.get(p);
    if (n.kind !== 'file') fail('EISDIR', p);
    return n.content;
  }

  writeFile(p: string, data: string): void {
    this.createFile(p, data, 0o600, 0);
  }

  // --- the simulated user's and the stager's calls ---

  /** A new inode with `content` at `p` (O_EXCL: fails if p exists). */
  createFile(p: string, content: string, mode: number, mtimeMs: number): void {
    if (this.nodes.has(p)) fail('EEXIST', p);
    this.checkParent(p);
    if (this.full) fail('ENOSPC', p);
    this.nodes.set(p, this.named({ kind: 'file', ino: this.newIno(), content, mode, mtimeMs }));
  }

  /** Rewrites the file at `p` in place (same inode). */
  writeInPlace(p: string, content: string, mtimeMs: number): void {
    const n = this.get(p);
    if (n.kind !== 'file') fail('EISDIR', p);
    n.content = content;
    n.mtimeMs = mtimeMs;
  }

  /** An open file: the inode, whatever later happens to its path (open(2) without O_TRUNC). */
  open(p: string): FileHandle {
    const n = this.get(p);
    if (n.kind !== 'file') fail('EISDIR', p);
    this.pinned.add(n);
    return { inode: n };
  }

  /** Writes through a handle: into the inode it was opened on, even when renamed away or unlinked since. */
  writeHandle(h: FileHandle, content: string, mtimeMs: number): void {
    h.inode.content = content;
    h.inode.mtimeMs = mtimeMs;
  }

  /** ReplicaFs.setAttrs: mode and mtime of a file, mode of a directory (a symlink has neither here). */
  setAttrs(p: string, a: AttrChange): void {
    const n = this.get(p);
    if (n.kind === 'file') {
      if (a.mode !== undefined) n.mode = a.mode & 0o7777;
      if (a.mtimeMs !== undefined) n.mtimeMs = a.mtimeMs;
    } else if (n.kind === 'dir' && a.mode !== undefined) n.mode = a.mode & 0o7777;
  }

  content(p: string): string | undefined {
    const n = this.nodes.get(p);
    return n?.kind === 'file' ? n.content : undefined;
  }

  /** Every path under `root` (relative), sorted. */
  walk(root: string): string[] {
    const pre = root + '/';
    return [...this.nodes.keys()].filter((k) => k.startsWith(pre)).map((k) => k.slice(pre.length)).sort();
  }
}
