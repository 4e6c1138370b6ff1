// The apply journal of one tree: the records from peers this node is about to apply (or
// adopt), appended and fsync'ed BEFORE the disk or the index changes, so that a batch can
// be acknowledged as soon as it is applied, without waiting for the (whole-index) save.
//
// Why it is needed (issue 9, item 2): after a crash, a file a peer's record put on disk
// but that the saved index does not know looks exactly like a file created locally while
// the daemon was down: it would get a new local version, newer than everything, and undo
// the deletes and edits made elsewhere meanwhile. With the journal, the load finds the
// record that put it there: when the disk holds exactly that record's state, the index
// takes the record's version (src/daemon/treeReplica.ts, recoverJournal).
//
// Lifecycle: appends go to <state>/trees/<tree>.journal. An index save first rotates the
// journal to .journal.old (new appends start a fresh file), and removes .old once the
// index it saved (which covers every record in .old) is durable. A load reads .old, then
// the current file; an incomplete last line (a crash mid-append) is ignored.
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { IndexRecord } from '../core/treeIndex.js';
import { isVersion } from '../core/version.js';
import type { Journal } from './ports.js';
import { mapSliced } from '../engine/turns.js';

function journalPath(stateDir: string, tree: string): string {
  return join(stateDir, 'trees', `${encodeURIComponent(tree)}.journal`);
}

export interface JournalEntry {
  peer: string;
  rec: IndexRecord;
}

/** At most this many lines are remembered as durable in the current file (ApplyJournal.durable). */
const DURABLE_LINES_MAX = 16_384;

/** The daemon's Journal (ports.ts): a file per tree, durable per append (O_DSYNC: one write, no separate fdatasync). */
export class ApplyJournal implements Journal {
  private fh: FileHandle | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly file: string;
  /**
   * Lines written durably (O_DSYNC) into the current file since the last rotation. A batch
   * journals its records in its first step and again before placing them (an index save in
   * between may have rotated the first entries away); when no rotation came between, the
   * same lines are already durable in this file and the second (synchronous) write (one
   * per received batch) are skipped. Cleared at rotation, bounded (forgetting only costs a
   * write).
   */
  private readonly durable = new Set<string>();
  /**
   * Each record's line, by the record object (records are values: never changed once made).
   * A received batch is appended twice (above), with the same record objects: the second
   * append neither encodes them again nor hashes new strings for `durable`.
   */
  private readonly lines = new WeakMap<IndexRecord, { peer: string; line: string }>();
  /** Appends that wrote (durably) something: for tests and figures. */
  writes = 0;

  constructor(
    private readonly stateDir: string,
    private readonly tree: string,
  ) {
    this.file = journalPath(stateDir, tree);
  }

  /** What this tree's journal holds (ApplyJournal.read). */
  entries(): Promise<JournalEntry[]> {
    return ApplyJournal.read(this.stateDir, this.tree);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Appends `records` from `peer` durably (one O_DSYNC write for all of them);
   * records already durable in the current file (the same lines, since the last rotation)
   * are not written again.
   */
  append(peer: string, records: IndexRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    // encoded in slices (a first start journals every file of the tree): the loop keeps turning
    const encoded = mapSliced(records, (rec) => {
      const known = this.lines.get(rec);
      if (known !== undefined && known.peer === peer) return known.line;
      const line = JSON.stringify({ peer, rec });
      this.lines.set(rec, { peer, line });
      return line;
    });
    return this.serial(async () => {
      // checked inside the serial section: only lines whose durable write has completed count
      const lines = (await encoded).filter((l) => !this.durable.has(l));
      if (lines.length === 0) return;
      if (!this.fh) {
        await mkdir(dirname(this.file), { recursive: true });
        // O_DSYNC: each write returns once its bytes are durable, as write + fdatasync would,
        // in one system call and one trip to the thread pool (every received batch, on
        // every receiver, and every local batch on the writer wait for it)
        this.fh = await open(this.file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC, 0o600);
      }
      const buf = Buffer.from(lines.join('\n') + '\n', 'utf8');
      // a short write (a full disk) is continued, and the next write reports the error
      for (let off = 0; off < buf.length; ) {
        const n = (await this.fh.write(buf, off)).bytesWritten;
        if (n <= 0) throw new Error(`${this.file}: the journal could not be written`);
        off += n;
      }
      this.writes++;
      if (this.durable.size + lines.length > DURABLE_LINES_MAX) this.durable.clear();
      if (lines.length <= DURABLE_LINES_MAX) for (const l of lines) this.durable.add(l);
    });
  }

  /**
   * Before an index save: what was journalled so far moves to .old; returns the function to
   * call once the save is durable (it removes .old: the index now covers it).
   */
  rotate(): Promise<() => Promise<void>> {
    return this.serial(async () => {
      // what the current file holds moves to .old, which goes once the index covers it:
      // from here on a record must be written again to be in the journal
      this.durable.clear();
      await this.fh?.close();
      this.fh = undefined;
      // .old may still exist when a previous save failed: its records are appended to this
      // rotation's, so none is forgotten
      const old = `${this.file}.old`;
      const prev = await readFile(old, 'utf8').catch(() => '');
      if (prev !== '') {
        const cur = await readFile(this.file, 'utf8').catch(() => '');
        const fh = await open(`${old}.tmp`, 'w', 0o600);
        await fh.writeFile(prev + cur);
        await fh.sync();
        await fh.close();
        await rename(`${old}.tmp`, old);
        await unlink(this.file).catch(() => undefined);
      } else await rename(this.file, old).catch(() => undefined);
      // the index being saved holds everything in .old (it was applied before this rotation)
      return () => this.serial(() => unlink(old).catch(() => undefined));
    });
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      await this.fh?.close();
      this.fh = undefined;
    });
  }

  /** The journalled records, oldest first (.old, then the current file); torn or bad lines skipped. */
  static async read(stateDir: string, tree: string): Promise<JournalEntry[]> {
    const f = journalPath(stateDir, tree);
    const out: JournalEntry[] = [];
    for (const p of [`${f}.old`, f]) {
      const text = await readFile(p, 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        try {
          const j = JSON.parse(line) as JournalEntry;
          if (j && typeof j.peer === 'string' && typeof j.rec?.entry?.path === 'string' && isVersion(j.rec.version)) out.push(j);
        } catch {
          /* the torn last line of a crash mid-append */
        }
      }
    }
    return out;
  }
}
