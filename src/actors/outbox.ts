// The durable per-peer outbox: every local change a peer has not yet acknowledged.
//
// Why a log per peer: one slow, stopped or cut-off peer must never delay the others, and
// it must catch up from exactly where it stopped, after a restart of either side. So each
// peer link reads its own log from its own acknowledged cursor; appending never waits
// for any reader.
//
// On disk (one directory per peer):
//   <firstSeq>.log   segments of records, one record per line:
//                    `<seq>\t<crc32 hex of json>\t<json {at, change}>\n`
//                    a segment is named after the sequence number of its first record,
//                    padded to 16 digits, so a directory listing sorts them.
//   acked            the highest acknowledged sequence number ("<seq>\n"), replaced atomically.
//
// Durability (the fsync policy):
//   - append() resolves once the record has been written to the kernel (write(2)), so a
//     crash of the daemon process loses nothing that append() reported.
//   - fsync 'interval' (default): the active segment is fsynced at most every
//     fsyncIntervalMs (100 ms), so a power failure or kernel crash loses at most that
//     window; 'always' fsyncs before append() resolves (group commit: one fsync covers
//     every record written in the same batch); 'never' leaves it to the kernel.
//   - the acked cursor is written lazily (at most every ackPersistMs, and on close): losing
//     it only makes the link resend records the peer already has, which the receiver
//     recognises by their versions and ignores.
//   - a crash in the middle of an append leaves a torn last line: open() checks every line
//     of the last segment (crc32) and truncates the segment after the last good record.
//
// Compaction: a segment is deleted once every record in it is acknowledged; the active
// segment is rolled over when it exceeds segmentBytes, so a drained outbox shrinks to one
// small file. Memory is bounded: records live on disk; in memory are the segment list,
// the write batch in progress, one read position and the latest written records (at most
// 16,384 records or 4 MiB), from which a peer that keeps up is served without disk reads.
import { EventEmitter } from 'node:events';
import { promises as fsp, constants as fsc } from 'node:fs';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface OutboxOptions<T = unknown> {
  /** Directory of this peer's outbox; created when missing. */
  dir: string;
  fsync?: FsyncPolicy;
  /** For fsync 'interval': the longest a written record waits for its fsync. Default 100. */
  fsyncIntervalMs?: number;
  /** Roll to a new segment past this size. Default 4 MiB. */
  segmentBytes?: number;
  /** How long an acknowledgement may stay only in memory. Default 1000 ms. */
  ackPersistMs?: number;
  /** Time source for record timestamps (ms since the epoch). */
  now?: () => number;
  /**
   * The JSON text of a change (exactly JSON.stringify of it), where the caller keeps it: the
   * daemon encodes each change once for all its peers' deliveries (EncodedChanges), and the
   * line on disk then takes the same text instead of encoding the change again.
   */
  changeJson?: (change: T) => string;
}

export interface OutboxRecord<T> {
  seq: number;
  /** When the change was appended (ms since the epoch): the peer's lag is measured from it. */
  at: number;
  change: T;
}

export interface OutboxStats {
  /** Highest sequence number appended. */
  headSeq: number;
  /** Highest sequence number the peer acknowledged. */
  ackedSeq: number;
  /** Records appended but not acknowledged. */
  depth: number;
  /** Append time of the oldest unacknowledged record, or null when none (or not known yet). */
  oldestPendingAt: number | null;
  segments: number;
  bytesOnDisk: number;
}

interface Segment {
  firstSeq: number;
  file: string;
  size: number;
}

interface PendingAppend {
  line: Buffer;
  rec: OutboxRecord<unknown>;
  seq: number;
  resolve: (seq: number) => void;
  reject: (err: unknown) => void;
}

/**
 * The written tail kept in memory (records, bytes of their lines): a live link's reads never
 * touch the disk. A burst of 10,000 changes (~3 MB of lines) fits: with 4,096 records the
 * links read most of a burst back from the segments (a quarter of the writer's CPU went to
 * decoding them). The records' change objects are shared by all the outboxes of a change.
 */
const RECENT_MAX_RECORDS = 16_384;
const RECENT_MAX_BYTES = 4 * 1024 * 1024;

const SEG_DIGITS = 16;
const segName = (firstSeq: number): string => `${String(firstSeq).padStart(SEG_DIGITS, '0')}.log`;
const SEG_RE = /^(\d{16})\.log$/;

/**
 * The encoded body of a record (the JSON of `{at, change}` and its crc32), made once for all
 * the outboxes a change is appended to in the same turn of the event loop: a tree shared
 * with 16 peers appends the same change object to 16 outboxes in one loop
 * (src/daemon/mirroring.ts). Forgotten at the next turn, so a change object changed and
 * appended again later is encoded afresh. The body is reused for the same `at`; for another
 * `at` (each outbox reads the clock: a burst's loop crosses milliseconds) only the change's
 * JSON is, which is most of the work (the burst's writer: 4 % of its CPU re-encoding).
 */
let turnBodies: WeakMap<object, { at: number; cj: string; body: Buffer; crc: string }> | undefined;

function encodeBody(at: number, change: unknown, changeJson?: (change: never) => string): { body: Buffer; crc: string } {
  const cacheable = typeof change === 'object' && change !== null;
  const hit = cacheable ? turnBodies?.get(change) : undefined;
  if (hit !== undefined && hit.at === at) return hit;
  // the same text as JSON.stringify({ at, change }): `at` is a finite number (a clock)
  const cj = hit !== undefined ? hit.cj : cacheable && changeJson ? changeJson(change as never) : JSON.stringify(change);
  const json = Number.isFinite(at) && cj !== undefined ? `{"at":${JSON.stringify(at)},"change":${cj}}` : JSON.stringify({ at, change });
  const body = Buffer.from(json, 'utf8');
  const crc = crc32(body).toString(16).padStart(8, '0');
  if (cacheable && cj !== undefined) {
    if (turnBodies === undefined) {
      turnBodies = new WeakMap();
      setImmediate(() => (turnBodies = undefined));
    }
    turnBodies.set(change, { at, cj, body, crc });
  }
  return { body, crc };
}

const NEWLINE = Buffer.from('\n');

function encodeLine(seq: number, at: number, change: unknown, changeJson?: (change: never) => string): Buffer {
  const { body, crc } = encodeBody(at, change, changeJson);
  return Buffer.concat([Buffer.from(`${seq}\t${crc}\t`, 'latin1'), body, NEWLINE]);
}

/** Parses one line (without its '\n'); undefined when torn or corrupt. */
function decodeLine<T>(line: Buffer): OutboxRecord<T> | undefined {
  const t1 = line.indexOf(9);
  const t2 = t1 < 0 ? -1 : line.indexOf(9, t1 + 1);
  if (t1 <= 0 || t2 < 0) return undefined;
  const seq = Number(line.toString('latin1', 0, t1));
  const crc = line.toString('latin1', t1 + 1, t2);
  const body = line.subarray(t2 + 1);
  if (!Number.isSafeInteger(seq) || seq <= 0) return undefined;
  if (crc32(body).toString(16).padStart(8, '0') !== crc) return undefined;
  try {
    const { at, change } = JSON.parse(body.toString('utf8')) as { at: number; change: T };
    return { seq, at, change };
  } catch {
    return undefined;
  }
}

/**
 * Events: 'append' (headSeq) after records reached the kernel, 'ack' (ackedSeq),
 * 'error' (err) for background failures (fsync, compaction, cursor writes).
 */
export class Outbox<T = unknown> extends EventEmitter {
  private segments: Segment[] = [];
  private fh: fsp.FileHandle | undefined;
  private nextSeq = 1;
  private writtenSeq = 0;
  private acked = 0;
  private ackPersisted = 0;
  private queue: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private fsyncTimer: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private needsFsync = false;
  private oldestPending: { seq: number; at: number } | null = null;
  private readPos: { seq: number; segFirst: number; offset: number } | undefined;
  /**
   * The latest written, unacknowledged records, consecutive, as appended. A peer that keeps
   * up reads what was just appended from here: no open/read/close on the thread pool per
   * delivery (that was a few ms of latency per change with 8 peers). Older ones are read
   * from the segments.
   */
  private recent: Array<{ rec: OutboxRecord<T>; bytes: number }> = [];
  private recentBytes = 0;
  private closed = false;
  /** Serialises everything that writes, rolls or deletes segment files. */
  private ioChain: Promise<unknown> = Promise.resolve();
  private readonly fsyncPolicy: FsyncPolicy;
  private readonly fsyncIntervalMs: number;
  private readonly segmentBytes: number;
  private readonly ackPersistMs: number;
  private readonly now: () => number;
  /** OutboxOptions.changeJson (typed without T: an Outbox<WireChange> is read as an Outbox<unknown>). */
  private readonly changeJson: ((change: never) => string) | undefined;

  private constructor(readonly dir: string, opts: OutboxOptions<T>) {
    super();
    this.fsyncPolicy = opts.fsync ?? 'interval';
    this.fsyncIntervalMs = opts.fsyncIntervalMs ?? 100;
    this.segmentBytes = opts.segmentBytes ?? 4 * 1024 * 1024;
    this.ackPersistMs = opts.ackPersistMs ?? 1000;
    this.now = opts.now ?? Date.now;
    this.changeJson = opts.changeJson as ((change: never) => string) | undefined;
  }

  static async open<T = unknown>(opts: OutboxOptions<T>): Promise<Outbox<T>> {
    const box = new Outbox<T>(opts.dir, opts);
    await box.load();
    return box;
  }

  get headSeq(): number {
    return this.nextSeq - 1;
  }
  get ackedSeq(): number {
    return this.acked;
  }
  get depth(): number {
    return this.headSeq - this.acked;
  }

  stats(): OutboxStats {
    return {
      headSeq: this.headSeq,
      ackedSeq: this.acked,
      depth: this.depth,
      oldestPendingAt: this.depth === 0 ? null : (this.oldestPending?.at ?? null),
      segments: this.segments.length,
      bytesOnDisk: this.segments.reduce((n, s) => n + s.size, 0),
    };
  }

  /**
   * Adds a change; resolves with its sequence number once written (and fsynced under
   * policy 'always'). Records appended in the same tick are written with one write(2).
   */
  append(change: T): Promise<number> {
    if (this.closed) return Promise.reject(new Error('outbox closed'));
    const seq = this.nextSeq++;
    const at = this.now();
    if (this.oldestPending === null || this.oldestPending.seq <= this.acked) this.oldestPending = { seq, at };
    return new Promise((resolve, reject) => {
      this.queue.push({ line: encodeLine(seq, at, change, this.changeJson), rec: { seq, at, change }, seq, resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  /** Marks every record up to seq as received by the peer (monotonic; larger seqs are clamped). */
  ack(seq: number): void {
    const upTo = Math.min(seq, this.writtenSeq);
    if (upTo <= this.acked) return;
    this.acked = upTo;
    this.dropRecent((r) => r.seq <= upTo);
    if (this.oldestPending && this.oldestPending.seq <= upTo) this.oldestPending = null;
    this.emit('ack', upTo);
    if (!this.ackTimer && !this.closed) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = undefined;
        this.persistAck().catch((err) => this.emit('error', err));
      }, this.ackPersistMs);
      this.ackTimer.unref();
    }
    if (this.depth > 0 && this.oldestPending === null) {
      this.refreshOldestPending().catch((err) => this.emit('error', err));
    }
  }

  /**
   * Up to `limit` records after `afterSeq` (only records already written), in order.
   * Sequential reads continue from the previous position; others scan one segment.
   */
  async read(afterSeq: number, limit = 256, maxBytes = 1024 * 1024): Promise<OutboxRecord<T>[]> {
    const out: OutboxRecord<T>[] = [];
    let want = Math.max(afterSeq, this.acked) + 1;
    if (want > this.writtenSeq) return out;
    let bytes = 0;
    const first = this.recent[0];
    if (first && want >= first.rec.seq) {
      for (let i = want - first.rec.seq; i < this.recent.length && out.length < limit && bytes < maxBytes; i++) {
        out.push(this.recent[i]!.rec);
        bytes += this.recent[i]!.bytes;
      }
      return out;
    }
    let segIdx = this.segmentIndexFor(want);
    let offset = this.readPos && this.readPos.seq === want - 1 && this.readPos.segFirst === this.segments[segIdx]?.firstSeq ? this.readPos.offset : 0;
    while (segIdx >= 0 && segIdx < this.segments.length && out.length < limit && bytes < maxBytes && want <= this.writtenSeq) {
      const seg = this.segments[segIdx]!;
      let fh: fsp.FileHandle;
      try {
        fh = await fsp.open(join(this.dir, seg.file), 'r');
      } catch (err) {
        // compacted away meanwhile: its records were all acknowledged, go on with the next
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        segIdx++;
        offset = 0;
        continue;
      }
      try {
        const chunk = Buffer.allocUnsafe(Math.min(256 * 1024, Math.max(4096, maxBytes)));
        let carry: Buffer = Buffer.alloc(0);
        let pos = offset;
        let lineStart = offset;
        scan: for (;;) {
          const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
          if (bytesRead === 0) break;
          pos += bytesRead;
          const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
          let start = 0;
          for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
            const line = buf.subarray(start, nl);
            const rec = decodeLine<T>(line);
            if (!rec) throw new Error(`outbox ${this.dir}/${seg.file}: corrupt record at byte ${lineStart}`);
            lineStart += nl - start + 1;
            start = nl + 1;
            if (rec.seq < want) continue;
            if (rec.seq > this.writtenSeq) break scan;
            out.push(rec);
            bytes += line.length;
            want = rec.seq + 1;
            this.readPos = { seq: rec.seq, segFirst: seg.firstSeq, offset: lineStart };
            if (out.length >= limit || bytes >= maxBytes) break scan;
          }
          carry = Buffer.from(buf.subarray(start));
        }
      } finally {
        await fh.close();
      }
      segIdx++;
      offset = 0;
    }
    return out;
  }

  /** Writes everything queued, fsyncs, persists the acked cursor. */
  async sync(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.exclusive(async () => {
      if (this.fh && this.needsFsync) {
        this.needsFsync = false;
        await this.fh.sync();
      }
    });
    await this.persistAck();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync();
    this.closed = true;
    clearTimeout(this.fsyncTimer);
    clearTimeout(this.ackTimer);
    await this.fh?.close();
    this.fh = undefined;
  }

  // ---- internals ----

  private exclusive<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.ioChain.then(fn, fn);
    this.ioChain = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    try {
      const txt = await fsp.readFile(join(this.dir, 'acked'), 'utf8');
      const n = Number(txt.trim());
      if (Number.isSafeInteger(n) && n >= 0) this.acked = n;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const names = (await fsp.readdir(this.dir)).filter((n) => SEG_RE.test(n)).sort();
    for (const file of names) {
      const st = await fsp.stat(join(this.dir, file));
      this.segments.push({ firstSeq: Number(SEG_RE.exec(file)![1]), file, size: st.size });
    }
    if (this.segments.length === 0) {
      await this.startSegment(this.acked + 1);
    } else {
      const last = this.segments[this.segments.length - 1]!;
      const lastSeq = await this.recoverSegment(last);
      this.nextSeq = Math.max(lastSeq + 1, last.firstSeq);
      this.fh = await fsp.open(join(this.dir, last.file), fsc.O_WRONLY | fsc.O_APPEND);
    }
    this.writtenSeq = this.headSeq;
    // An acked cursor ahead of the log (log lost, cursor kept) must not hide new records.
    if (this.acked > this.headSeq) this.acked = this.headSeq;
    this.ackPersisted = this.acked;
    await this.compact();
    if (this.depth > 0) await this.refreshOldestPending();
  }

  /** Validates every line of a segment, truncates a torn tail; returns its last seq. */
  private async recoverSegment(seg: Segment): Promise<number> {
    const path = join(this.dir, seg.file);
    const buf = await fsp.readFile(path);
    let good = 0;
    let lastSeq = seg.firstSeq - 1;
    for (let start = 0, nl = buf.indexOf(10); nl >= 0; start = nl + 1, nl = buf.indexOf(10, start)) {
      const rec = decodeLine(buf.subarray(start, nl));
      if (!rec || rec.seq !== lastSeq + 1) break;
      lastSeq = rec.seq;
      good = nl + 1;
    }
    if (good < buf.length) {
      await fsp.truncate(path, good);
      seg.size = good;
      this.emit('recovered', { file: seg.file, droppedBytes: buf.length - good });
    }
    return lastSeq;
  }

  private async startSegment(firstSeq: number): Promise<void> {
    const seg: Segment = { firstSeq, file: segName(firstSeq), size: 0 };
    const fh = await fsp.open(join(this.dir, seg.file), fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, 0o600);
    if (this.fh) {
      await this.fh.sync();
      await this.fh.close();
    }
    this.fh = fh;
    this.segments.push(seg);
    this.nextSeq = Math.max(this.nextSeq, firstSeq);
    await this.syncDir();
  }

  private async flushLoop(): Promise<void> {
    try {
      // started by the first append of a tick: the appends of the rest of the tick (a
      // directory move's hundreds of records) join its write, and so its reader's batch
      await Promise.resolve();
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.exclusive(() => this.writeBatch(batch));
          for (const p of batch) p.resolve(p.seq);
          this.emit('append', this.writtenSeq);
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async writeBatch(batch: PendingAppend[]): Promise<void> {
      const active = this.segments[this.segments.length - 1]!;
      if (active.size >= this.segmentBytes) await this.startSegment(batch[0]!.seq);
      const buf = Buffer.concat(batch.map((p) => p.line));
      await this.fh!.write(buf, 0, buf.length);
      this.segments[this.segments.length - 1]!.size += buf.length;
      this.writtenSeq = batch[batch.length - 1]!.seq;
      this.keepRecent(batch);
      if (this.fsyncPolicy === 'always') await this.fh!.sync();
      else if (this.fsyncPolicy === 'interval') this.scheduleFsync();
  }

  private keepRecent(batch: PendingAppend[]): void {
    const last = this.recent[this.recent.length - 1];
    // a batch that failed to write left a gap: the tail in memory must stay consecutive
    if (last && last.rec.seq + 1 !== batch[0]!.seq) this.dropRecent(() => true);
    for (const p of batch) {
      this.recent.push({ rec: p.rec as OutboxRecord<T>, bytes: p.line.length });
      this.recentBytes += p.line.length;
    }
    let n = 0;
    while (this.recent.length - n > RECENT_MAX_RECORDS || this.recentBytes > RECENT_MAX_BYTES) this.recentBytes -= this.recent[n++]!.bytes;
    if (n > 0) this.recent.splice(0, n);
  }

  /** Forgets records from the front of the tail in memory while `drop` says so. */
  private dropRecent(drop: (r: OutboxRecord<T>) => boolean): void {
    let n = 0;
    while (n < this.recent.length && drop(this.recent[n]!.rec)) this.recentBytes -= this.recent[n++]!.bytes;
    if (n > 0) this.recent.splice(0, n);
  }

  private scheduleFsync(): void {
    this.needsFsync = true;
    if (this.fsyncTimer) return;
    this.fsyncTimer = setTimeout(() => {
      this.fsyncTimer = undefined;
      this.exclusive(async () => {
        if (!this.needsFsync || !this.fh) return;
        this.needsFsync = false;
        await this.fh.sync();
      }).catch((err) => this.emit('error', err));
    }, this.fsyncIntervalMs);
    this.fsyncTimer.unref();
  }

  /** Writes the acked cursor (atomically), then compacts; serialised with segment I/O. */
  private persistAck(): Promise<void> {
    return this.exclusive(async () => {
      if (this.acked === this.ackPersisted) return;
      const value = this.acked;
      const tmp = join(this.dir, 'acked.tmp');
      await fsp.writeFile(tmp, `${value}\n`, { mode: 0o600 });
      await fsp.rename(tmp, join(this.dir, 'acked'));
      this.ackPersisted = value;
      await this.compact();
    });
  }

  /** Deletes segments whose records are all acknowledged; rolls a drained large active segment. */
  private async compact(): Promise<void> {
    const active = this.segments[this.segments.length - 1]!;
    if (!this.closed && this.ackPersisted >= this.headSeq && this.writtenSeq === this.headSeq && active.size >= this.segmentBytes) {
      await this.startSegment(this.headSeq + 1);
    }
    let removed = false;
    while (this.segments.length > 1 && this.segments[1]!.firstSeq - 1 <= this.ackPersisted) {
      const seg = this.segments.shift()!;
      await fsp.rm(join(this.dir, seg.file), { force: true });
      if (this.readPos?.segFirst === seg.firstSeq) this.readPos = undefined;
      removed = true;
    }
    if (removed) await this.syncDir();
  }

  private async refreshOldestPending(): Promise<void> {
    const ackedAt = this.acked;
    const [rec] = await this.read(ackedAt, 1);
    if (rec && this.acked === ackedAt && (this.oldestPending === null || this.oldestPending.seq > rec.seq)) {
      this.oldestPending = { seq: rec.seq, at: rec.at };
    }
  }

  private segmentIndexFor(seq: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.segments[mid]!.firstSeq <= seq) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  private async syncDir(): Promise<void> {
    if (this.fsyncPolicy === 'never') return;
    const dh = await fsp.open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
