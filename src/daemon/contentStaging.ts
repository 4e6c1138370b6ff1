// Step 2 of a remote batch (src/daemon/treeReplica.ts, applyRemote): the contents a batch
// needs, fetched from the sender OFF the tree's queue into a staging directory inside the
// tree (same file system, so placing a file is one rename; ignored by scans and the
// watcher), hash-verified, with mode and mtime set, then placed. One staging at a time per
// sender (one staging directory each), placed before the next; partial large files stay
// there for a resume.
import { readdir, rm, rmdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Expected } from '../core/tree.js';
import type { IndexRecord } from '../core/treeIndex.js';
import { LocalTree } from '../engine/localTree.js';
import type { Logger } from '../log.js';
import type { ContentFetcher } from './peerProtocol.js';
import { deltaCandidates, stageDeltas } from './deltaFetch.js';

/** Contents fetched from one peer are staged here, inside the tree. */
const STAGE_PREFIX = '.omirr-part.stage-';
/** A sender's staging directory is kept this long after its last batch (for the next one). */
const STAGE_KEEP_MS = 2000;
/** Files at least this large are resumed after a broken transfer (the staging LocalTree's resumeMin). */
const RESUME_MIN = 1 << 20;

export interface Staged {
  root: string;
  written: Set<string>;
  aborted?: string;
  /** The LocalTree over the staging directory (kept with it for the sender's next batch). */
  tree?: LocalTree;
}

export interface ContentStagerOptions {
  /** The tree's name (what the sender is asked for) and its root directory. */
  tree: string;
  root: string;
  log: Logger;
  /** Whether owner and group are mirrored now (asked at each staging). */
  owner: () => boolean;
  /** Called once per fetch request made. */
  onFetch: () => void;
}

/** What a receiver expects of a file record's content: its attributes (owner only when mirrored), no inode. */
export function expectedFile(r: IndexRecord, owner: boolean): Expected {
  const { uid, gid, ino: _ino, ...e } = r.entry;
  return { ...e, ...(owner && uid !== undefined ? { uid } : {}), ...(owner && gid !== undefined ? { gid } : {}), kind: 'file' } as Expected;
}

export class ContentStager {
  /** Content streams being received (abortAll breaks them off: the batches are sent again later). */
  private readonly fetching = new Set<Readable>();
  /** Per sender: the tail of its staging chain. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Per sender: its staging directory, kept for its next batch (with the LocalTree over it), and when it goes. */
  private readonly removals = new Map<string, { timer: NodeJS.Timeout; root: string; tree: LocalTree }>();

  constructor(private readonly opts: ContentStagerOptions) {}

  /**
   * The contents of `recs`, from `peer`, into its staging directory; then `place` puts what
   * still wins into the tree (and says whether it `placedAll`); then what was not placed
   * goes (partial large files stay for a resume when the transfer broke off). One unit per sender, after the previous one from
   * the same peer: its batches share one directory, so a batch stages only once the one
   * before it is placed and cleared (a sender keeps several batches in flight).
   * Resolves with what `place` returned and whether the transfer broke off, before the
   * directory is cleared: the sender's acknowledgement does not wait for the removal.
   */
  stageAndPlace<R extends { placedAll?: boolean }>(peer: string, recs: IndexRecord[], fetch: ContentFetcher, inline: Map<string, Buffer> | undefined, place: (staged: Staged) => Promise<R>): Promise<R & { aborted?: string }> {
    return new Promise((resolve, reject) => {
      this.serialPerPeer(peer, async () => {
        const staged = await this.stageNow(peer, recs, fetch, inline);
        let placed: R | undefined;
        try {
          const out = await place(staged);
          placed = out;
          resolve({ ...out, ...(staged.aborted ? { aborted: staged.aborted } : {}) });
        } catch (err) {
          reject(err);
        }
        if (staged.aborted) {
          // its partial large files stay for the retry to resume: no removal pending
          this.cancelRemoval(peer);
          return;
        }
        // A sender that keeps sending (a write every few ms) stages into the same directory
        // again: when this batch left it empty (every file placed, none in a subdirectory)
        // it is removed once the sender has been quiet for STAGE_KEEP_MS, not after each
        // batch (a mkdir, an rmdir and two watcher events per batch on every receiver).
        // Anything left (files that lost, subdirectories) goes at once, as before: the next
        // batch starts from an empty directory, where no leftover can be in its way.
        const empty = placed?.placedAll === true && [...staged.written].every((p) => !p.includes('/'));
        if (empty) this.removeLater(peer, staged.root, staged.tree);
        else {
          this.cancelRemoval(peer);
          await this.remove(staged.root);
        }
      }).catch(reject);
    });
  }

  /** Removes a staging directory: usually one rmdir; leftovers (subdirectories, files that lost) need the recursive walk. */
  private async remove(root: string): Promise<void> {
    await rmdir(root).catch(() => rm(root, { recursive: true, force: true }));
  }

  /** The staging directory of `peer` goes once the peer has sent nothing for STAGE_KEEP_MS (in its chain: never under a batch). */
  private removeLater(peer: string, root: string, tree: LocalTree | undefined): void {
    clearTimeout(this.removals.get(peer)?.timer);
    if (tree === undefined) return void this.removals.delete(peer);
    const timer = setTimeout(() => this.removeNow(peer), STAGE_KEEP_MS);
    timer.unref();
    this.removals.set(peer, { timer, root, tree });
  }

  private cancelRemoval(peer: string): void {
    clearTimeout(this.removals.get(peer)?.timer);
    this.removals.delete(peer);
  }

  private removeNow(peer: string): Promise<void> {
    const r = this.removals.get(peer);
    if (!r) return Promise.resolve();
    clearTimeout(r.timer);
    this.removals.delete(peer);
    return this.serialPerPeer(peer, async () => {
      // a batch staged since then scheduled its own removal: it is kept for that one
      if (!this.removals.has(peer)) await this.remove(r.root);
    });
  }

  /**
   * At start: removes the staging directories that are empty (a crash can leave the one
   * kept for a sender's next batch); one with partial large files stays for a resume.
   */
  async tidyEmpty(): Promise<void> {
    const names = await readdir(this.opts.root).catch(() => [] as string[]);
    for (const n of names) if (n.startsWith(STAGE_PREFIX)) await rmdir(`${this.opts.root}/${n}`).catch(() => undefined);
  }

  /** Resolves once every staging and removal queued so far is over, the kept directories removed (close). */
  async idle(): Promise<void> {
    while (this.chains.size > 0 || this.removals.size > 0) {
      for (const peer of [...this.removals.keys()]) void this.removeNow(peer);
      await Promise.allSettled([...this.chains.values()]);
    }
  }

  /** Breaks off every content stream being received. */
  abortAll(err: Error): void {
    for (const t of this.fetching) t.destroy(err);
  }

  private serialPerPeer<T>(peer: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(peer) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(peer, tail);
    void tail.then(() => {
      if (this.chains.get(peer) === tail) this.chains.delete(peer);
    });
    return run;
  }

  private async stageNow(peer: string, all: IndexRecord[], fetch: ContentFetcher, inline?: Map<string, Buffer>): Promise<Staged> {
    const root = `${this.opts.root}/${STAGE_PREFIX}${peer}`;
    // the kept directory's tree (it knows the directory is there: no stat, no mkdir), or a new one
    const kept = this.removals.get(peer);
    const tree = kept?.root === root ? kept.tree : new LocalTree(root, { writable: true, create: true, log: this.opts.log, resumeMin: RESUME_MIN });
    const owner = this.opts.owner();
    // contents that came inline with their records: written here like fetched ones (sha256
    // checked), so every file is put in place the same guarded way; one that cannot be
    // written is fetched instead
    const written = new Set<string>();
    let recs = all;
    if (inline && inline.size > 0) {
      const puts = all.filter((r) => inline.has(r.entry.path));
      const res = await tree.apply(puts.map((r) => ({ op: 'put', path: r.entry.path, file: expectedFile(r, owner), data: inline.get(r.entry.path)!, staged: true })));
      res.forEach((x, i) => {
        if (x.ok) written.add(puts[i]!.entry.path);
        else this.opts.log.warn({ path: x.path, from: peer, error: x.error }, 'inline content not written; fetching it');
      });
      recs = all.filter((r) => !written.has(r.entry.path));
      if (recs.length === 0) return { root, written, tree };
    }
    let expect = recs.map((r) => expectedFile(r, owner));
    // No file large enough to have been resumed: nothing to look up before asking, so the
    // request goes out at once and the staging directory is made while the sender packs
    // (unpack waits for it). This keeps the mkdir of the staging root off the latency path.
    let offsets = new Map<string, number>();
    if (expect.some((e) => e.size >= RESUME_MIN)) offsets = await tree.resumeOffsets(expect);
    else void tree.resumeOffsets([]).catch(() => undefined); // starts ready(): mkdir of the root
    // changed large files this tree has an old version of: as deltas when the peer does them
    const deltaFetch = fetch.delta?.();
    const cands = deltaFetch ? deltaCandidates(expect, offsets) : [];
    if (deltaFetch && cands.length > 0) {
      await tree.resumeOffsets([]); // the staging directory exists
      const d = await stageDeltas(cands, {
        tree: this.opts.tree,
        treeRoot: this.opts.root,
        stageRoot: root,
        log: this.opts.log,
        fetch: deltaFetch,
        track: (s, on) => void (on ? this.fetching.add(s) : this.fetching.delete(s)),
      });
      for (const p of d.written) written.add(p);
      expect = expect.filter((e) => !d.written.has(e.path));
      if (expect.length === 0) return { root, written, tree };
    }
    this.opts.onFetch();
    const tar = fetch(this.opts.tree, expect.map((e) => ({ path: e.path, ...(offsets.get(e.path) ? { offset: offsets.get(e.path) } : {}) })));
    this.fetching.add(tar);
    try {
      const res = await tree.unpack(tar, expect);
      for (const f of res.failed) this.opts.log.debug({ path: f.path, error: f.error }, 'content not taken (a newer version follows)');
      for (const p of res.written) written.add(p);
      return { root, written, tree, ...(res.aborted ? { aborted: res.aborted } : {}) };
    } finally {
      this.fetching.delete(tar);
    }
  }
}
