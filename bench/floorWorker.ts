// One thread of `bench/floor.ts`: the file-system and hashing pieces every omirr design pays,
// done alone, with synchronous fs calls like src/workers. The thread loads what it needs
// first (untimed: content in RAM stands for bytes that arrived over the wire), answers
// 'ready', then runs the piece on 'go' and answers 'done'; the parent times from 'go' to
// the last 'done' of all threads and takes the process's CPU time around it.
import { createHash } from 'node:crypto';
import { closeSync, constants, futimesSync, lstatSync, openSync, readdirSync, readFileSync, readSync, renameSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

export interface FileRef {
  rel: string;
  size: number;
}

export type Piece =
  /** open(tmp, O_CREAT|O_EXCL|O_WRONLY) + write + futimes + close + rename (omirr, rsync) */
  | 'write-safe'
  /** open(final, O_CREAT|O_EXCL|O_WRONLY) + write + futimes + close (like tar) */
  | 'write-inplace'
  /** open + read + close */
  | 'read'
  /** sha256 of every file's content (one hash per file), content in RAM */
  | 'hash'
  /** readdir of every directory holding the files + lstat of every entry (what a scan needs) */
  | 'scan';

export interface WorkerJob {
  piece: Piece;
  srcRoot: string;
  dstRoot: string;
  files: FileRef[];
}

/** Writes and reads go in pieces of at most this (omirr's pwrites are 1-1.3 MiB). */
const CHUNK = 1 << 20;
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const MTIME_S = Date.UTC(2024, 0, 1) / 1000;

const job = workerData as WorkerJob;
const port = parentPort!;

function load(): Buffer[] {
  return job.files.map((f) => readFileSync(`${job.srcRoot}/${f.rel}`));
}

function writeAll(fd: number, b: Buffer): void {
  for (let pos = 0; pos < b.length; ) {
    const n = Math.min(CHUNK, b.length - pos);
    let off = 0;
    while (off < n) off += writeSync(fd, b, pos + off, n - off, pos + off);
    pos += n;
  }
}

function write(contents: Buffer[], safe: boolean): void {
  const now = Date.now() / 1000;
  for (let i = 0; i < job.files.length; i++) {
    const rel = job.files[i]!.rel;
    const final = `${job.dstRoot}/${rel}`;
    const slash = rel.lastIndexOf('/');
    // the temporary sits in the target directory, as omirr's (and rsync's) do
    const tmp = safe ? `${job.dstRoot}/${rel.slice(0, slash + 1)}.${rel.slice(slash + 1)}.floor-tmp` : final;
    const fd = openSync(tmp, WRITE_FLAGS, 0o644);
    writeAll(fd, contents[i]!);
    futimesSync(fd, now, MTIME_S);
    closeSync(fd);
    if (safe) renameSync(tmp, final);
  }
}

function read(): number {
  const buf = Buffer.allocUnsafeSlow(CHUNK);
  let total = 0;
  for (const f of job.files) {
    const fd = openSync(`${job.srcRoot}/${f.rel}`, constants.O_RDONLY | constants.O_NOFOLLOW);
    // the size comes from the scan: a small file is one read(), no fstat and no EOF probe
    for (let pos = 0; pos < f.size; ) {
      const n = readSync(fd, buf, 0, Math.min(CHUNK, f.size - pos), pos);
      if (n === 0) throw new Error(`${f.rel}: shorter than ${f.size}`);
      pos += n;
      total += n;
    }
    closeSync(fd);
  }
  return total;
}

function hash(contents: Buffer[]): void {
  for (const b of contents) {
    const h = createHash('sha256');
    for (let pos = 0; pos < b.length; pos += CHUNK) h.update(b.subarray(pos, Math.min(b.length, pos + CHUNK)));
    h.digest();
  }
}

function scan(): number {
  let n = 0;
  const dirs = new Set(job.files.map((f) => f.rel.slice(0, f.rel.lastIndexOf('/'))));
  for (const d of dirs) {
    const abs = `${job.srcRoot}/${d}`;
    for (const name of readdirSync(abs)) {
      lstatSync(`${abs}/${name}`);
      n++;
    }
  }
  return n;
}

const contents = job.piece === 'read' || job.piece === 'scan' ? [] : load();
port.once('message', () => {
  if (job.piece === 'read') read();
  else if (job.piece === 'scan') scan();
  else if (job.piece === 'hash') hash(contents);
  else write(contents, job.piece === 'write-safe');
  port.postMessage('done');
});
port.postMessage('ready');
