// follow_local_symlinks, as mirror's local scan does it: a local symlink whose path (relative
// to local_dir) matches the pattern is not seen as a link but as what it points to. A link
// to a directory is a directory, and (when recursive) what is inside it is scanned as if it
// were there; a link to a file is a file with the target's size, time and mode; a link to
// nothing is left out ("unknown file type"). So a symlinked local directory is kept and
// filled, never replaced by a real one.
//
// The engine never writes through a symlink (src/workers/paths.ts assertRealDirChain), so
// each followed directory becomes a root of its own: a LocalTree at the link's real target,
// which the package explicitly asked to mirror into. `LocalRoots` routes a local_dir path to
// the tree that holds it and rewrites plans and operations for each.
import { realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Entry } from '../core/entry.js';
import type { SyncPlan } from '../core/plan.js';
import type { OpResult, TreeOp } from '../core/tree.js';
import { LocalTree } from '../engine/localTree.js';
import type { Logger } from '../log.js';

export interface FollowedRoot {
  /** The link's path relative to local_dir. */
  prefix: string;
  /** The absolute real directory it points to. */
  real: string;
}

/**
 * The local scan with matching symlinks followed (mirror's get_local_directory_details).
 * `entries` is the plain scan of `root`; followed directories are scanned in turn.
 */
export async function followLinks(
  root: string,
  entries: Entry[],
  follow: RegExp,
  opts: { recursive: boolean; log: Logger; warn: (line: string) => void },
): Promise<{ entries: Entry[]; roots: FollowedRoot[] }> {
  const roots: FollowedRoot[] = [];
  const out: Entry[] = [];
  const visit = async (base: string, prefix: string, list: Entry[], chain: string[]): Promise<void> => {
    for (const e of list) {
      const path = prefix ? `${prefix}/${e.path}` : e.path;
      if (e.kind !== 'symlink' || !follow.test(path)) {
        out.push({ ...e, path });
        continue;
      }
      let st;
      const abs = join(base, e.path);
      try {
        st = statSync(abs);
      } catch {
        opts.warn(`unknown file type ${path}, skipping (follow_local_symlinks: the link points to nothing)`);
        continue;
      }
      const stamp = { size: st.isFile() ? st.size : 0, mtimeMs: Math.round(st.mtimeMs), mode: st.mode & 0o7777 };
      if (st.isFile()) {
        out.push({ path, kind: 'file', ...stamp });
        continue;
      }
      if (!st.isDirectory()) {
        opts.warn(`unknown file type ${path}, skipping`);
        continue;
      }
      const real = realpathSync(abs);
      // A link to a directory that holds the one being scanned (or is it) would be scanned forever.
      if (chain.some((c) => c === real || c.startsWith(real + '/'))) {
        opts.warn(`${path}: follow_local_symlinks loops back into the tree (${real}); not followed`);
        out.push({ ...e, path });
        continue;
      }
      out.push({ path, kind: 'dir', ...stamp });
      roots.push({ prefix: path, real });
      if (!opts.recursive) continue;
      const inner = await new LocalTree(real, { writable: false, log: opts.log }).scan({ recursive: true });
      await visit(real, path, inner, [...chain, real]);
    }
  };
  await visit(root, '', entries, [realpathSync(root)]);
  return { entries: out, roots };
}

/** The trees of a package's local side: local_dir itself and each followed directory. */
export class LocalRoots {
  readonly trees: LocalTree[];
  /** Followed roots, longest prefix first (index i + 1 in `trees`). */
  private readonly followed: FollowedRoot[];

  constructor(
    main: LocalTree,
    roots: FollowedRoot[],
    opts: { writable: boolean; log: Logger },
  ) {
    this.followed = roots;
    this.trees = [main, ...roots.map((r) => new LocalTree(r.real, { writable: opts.writable, log: opts.log }))];
  }

  get main(): LocalTree {
    return this.trees[0]!;
  }

  /** The prefix (local_dir-relative) of tree i: '' for local_dir. */
  prefixOf(i: number): string {
    return i === 0 ? '' : this.followed[i - 1]!.prefix;
  }

  /** Is this path a followed link itself (it stays: mirror's rmdir of a link fails)? */
  isFollowedLink(path: string): boolean {
    return this.followed.some((r) => r.prefix === path);
  }

  /** The tree holding `path` and the path inside it (the deepest followed link above it). */
  route(path: string): { tree: number; rel: string } {
    let best = -1;
    for (let i = 0; i < this.followed.length; i++) {
      const p = this.followed[i]!.prefix;
      if (path.startsWith(p + '/') && (best < 0 || p.length > this.followed[best]!.prefix.length)) best = i;
    }
    return best < 0 ? { tree: 0, rel: path } : { tree: best + 1, rel: path.slice(this.followed[best]!.prefix.length + 1) };
  }

  /** A plan per tree (paths relative to it). The followed links themselves are never removed. */
  split(plan: SyncPlan): SyncPlan[] {
    if (this.followed.length === 0) return [plan]; // local_dir alone: the plan as it is
    const plans: SyncPlan[] = this.trees.map(() => ({ replaced: [], mkdirs: [], transfers: [], symlinks: [], setattrs: [], deletes: [], skipped: [] }));
    const put = <K extends 'replaced' | 'mkdirs' | 'transfers' | 'symlinks' | 'setattrs' | 'deletes'>(key: K, list: SyncPlan[K] | undefined): void => {
      for (const e of list ?? []) {
        if ((key === 'deletes' || key === 'replaced') && this.isFollowedLink(e.path)) continue;
        // A followed directory the site has as a file or link: mirror renames the new file
        // over the link, leaving what the link points to alone. The link is not "removed
        // first", and nothing below it is removed as part of the replacement.
        if (key === 'replaced' && this.route(e.path).tree !== 0) continue;
        const { tree, rel } = this.route(e.path);
        (plans[tree]![key] as Entry[]).push({ ...e, path: rel });
      }
    };
    put('replaced', plan.replaced);
    put('mkdirs', plan.mkdirs);
    put('transfers', plan.transfers);
    put('symlinks', plan.symlinks);
    put('setattrs', plan.setattrs);
    put('deletes', plan.deletes);
    plans[0]!.skipped = plan.skipped;
    if (plan.deletesRefused) plans[0]!.deletesRefused = plan.deletesRefused;
    return plans;
  }

  /** Entries of one tree, relative to it (for the executor's source / target listings). */
  entriesOf(i: number, entries: Entry[]): Entry[] {
    if (this.followed.length === 0) return entries;
    const out: Entry[] = [];
    for (const e of entries) {
      const r = this.route(e.path);
      if (r.tree === i) out.push({ ...e, path: r.rel });
    }
    return out;
  }

  /** Apply operations, each on the tree that holds its path; results in the order given, with local_dir paths. */
  async apply(ops: TreeOp[]): Promise<OpResult[]> {
    if (this.followed.length === 0) return this.main.apply(ops);
    const groups = new Map<number, Array<{ i: number; op: TreeOp }>>();
    ops.forEach((op, i) => {
      const r = this.route(op.path);
      const g = groups.get(r.tree) ?? [];
      g.push({ i, op: { ...op, path: r.rel } });
      groups.set(r.tree, g);
    });
    const out: OpResult[] = new Array(ops.length);
    for (const [tree, g] of groups) {
      const res = await this.trees[tree]!.apply(g.map((x) => x.op));
      res.forEach((r, k) => (out[g[k]!.i] = { ...r, path: ops[g[k]!.i]!.path }));
    }
    return out;
  }

  async close(): Promise<void> {
    for (const t of this.trees) await t.close().catch(() => {});
  }
}
