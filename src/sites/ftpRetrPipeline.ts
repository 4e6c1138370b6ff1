// Pipelined RETR on one FTP control connection (passive mode, EPSV). The commands for the
// next files (EPSV, REST, RETR) are written while the current file is still coming, so the
// server goes from one file's 226 straight on to the next file's EPSV instead of waiting a
// round trip (and our event loop) per file. The server still sends one file at a time on
// one connection: politeness is unchanged, only the idle gaps between files go.
//
// Replies come back in order and every command has exactly one final reply (RETR sends
// 1xx marks before it), so the queue of files written says whose reply each one is. A
// 4xx/5xx fails that file only; a lost control connection fails the file being received and
// hands the ones not yet begun back (`PipelineBrokenError`) to be asked for again.
//
// Only after the connection's first EPSV was answered 229 does more than one file go out at
// once: a server without EPSV sees one EPSV and RETR, and every file, that first one too, is
// handed back for the caller to fetch the library's way (PASV, `noEpsv`).
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import type { Writable } from 'node:stream';
import { FTPError, type FTPContext, type FTPResponse } from 'basic-ftp';

/**
 * Where a file's bytes go: a stream (`streamSink`), or anything as cheap that keeps a copy of
 * what it is given (a small file collected whole: ./ftpWholeFile.ts).
 */
export interface RetrSink {
  readonly destroyed: boolean;
  /** Keep a copy of `view` (it is overwritten by the next read); false: stop until 'drain'. */
  writeCopy(view: Uint8Array): boolean;
  /** All of the file is in (the data ended and the server said 226). */
  end(): void;
  /** 'close': the reader let go (nothing more is wanted); 'drain': room again after a false write. */
  once(event: 'close' | 'drain', listener: () => void): unknown;
}

/** A stream as a RetrSink: each read copied into a buffer of its own, which the stream keeps. */
export function streamSink(out: Writable): RetrSink {
  return {
    get destroyed() {
      return out.destroyed;
    },
    writeCopy: (view) => out.write(Buffer.from(view)),
    end: () => {
      out.end();
    },
    once: (event, listener) => out.once(event, listener),
  };
}

/** A file handed back untouched: the connection went before its first reply. Ask again elsewhere. */
export class PipelineBrokenError extends Error {
  override name = 'PipelineBrokenError';
}

type Stage = 'epsv' | 'rest' | 'retr';

/** Spare data connections kept per pipeline (one or two are in use at a time). */
const SPARE_CONNS = 4;

/** A reusable data connection (RetrPipeline.dataConn) and the file it now carries. */
interface DataConn {
  readonly sock: Socket;
  job: Job | undefined;
  /** This file's data part is over (ended, failed or closed). */
  over: boolean;
  /** It ended with the server's FIN, nothing failed: fit for the next file. */
  clean: boolean;
  /** Reading was ever stopped for a full sink: not reused (its stream state is not fresh). */
  paused: boolean;
  /** The deferred hand-over waits for this connection's 'connect' (or 'close'): openData says why. */
  handOverAfter: boolean;
}

interface Job {
  path: string;
  offset: number;
  sink: RetrSink;
  /** The final replies still to come for this file, in order. */
  stages: Stage[];
  data?: Socket;
  dataEnded: boolean;
  ctrlDone: boolean;
  /** The reader let go of `sink`: what still comes is thrown away. */
  abandoned: boolean;
  failure?: Error;
  settled: boolean;
  resolve(): void;
  reject(err: Error): void;
}

/** A reply the server gives with an 229 EPSV answer: `(|||port|)`, any delimiter. */
const EPSV_PORT = /\(\s*(.)\1\1(\d+)\1\s*\)/;

export class RetrPipeline {
  /** Files whose commands are written, oldest (the one the replies are for) first. */
  private sent: Job[] = [];
  /** Files waiting for room in the pipeline. */
  private waiting: Job[] = [];
  /** basic-ftp's task is open (replies expected); resolved when the pipeline drains. */
  private taskOpen = false;
  /** That task's resolver, as its handler last received it. */
  private task: { resolve(v: unknown): void; reject(e: Error): void } | undefined;
  private proven = false;
  /**
   * Replies and data reads so far: the watchdog's measure of life. One timer for the
   * pipeline instead of a socket timeout per data connection and two control-socket timeout
   * changes per file (timer list work for every one of 20,000 small files).
   */
  private progress = 0;
  private watchdog: NodeJS.Timeout | undefined;
  /**
   * Files whose data connection is open. One can outlive its 226 (the server said done, the
   * data has not ended) and even the pipeline's task: the watchdog runs until these end.
   */
  private readonly receiving = new Set<Job>();
  /** Set when the server refused EPSV: the caller fetches with PASV from now on. */
  noEpsv = false;
  /** Set once the connection failed: nothing more goes through this pipeline. */
  broken: Error | undefined;
  /** Drained and its connection handed back: nothing more goes through this pipeline. */
  retired = false;

  constructor(
    private readonly ctx: FTPContext,
    private readonly timeoutMs: number,
    /** Files whose commands may be out at once (1 = each file's commands after the previous 226). */
    private readonly depth: number,
    /** Called whenever the pipeline has drained (nothing sent, nothing waiting). */
    private readonly onIdle: () => void,
    /** For a data connection to this passive port: half-close it as soon as it is made (openData says why). */
    private readonly halfCloseEarly: (port: number) => boolean = () => false,
  ) {}

  /** Where the data connections read into: each read is copied out before the next one lands. */
  private readonly readBuffer = Buffer.allocUnsafe(64 * 1024);

  /** Files queued or under way. */
  get load(): number {
    return this.sent.length + this.waiting.length;
  }

  /**
   * Fetch `path` (absolute on the server) from `offset` into `sink`, ended when the data has
   * ended and the server said 226 (then the promise resolves). A file refused (4xx/5xx) or
   * cut off rejects, `sink` left open; a `PipelineBrokenError` means nothing was received.
   */
  retr(path: string, offset: number, sink: RetrSink): Promise<void> {
    if (/[\r\n\0]/.test(path)) return Promise.reject(new Error(`cannot name ${JSON.stringify(path)} in an FTP command`));
    if (this.retired || this.broken || this.ctx.closed) return Promise.reject(new PipelineBrokenError(this.broken?.message ?? 'connection closed'));
    if (this.noEpsv) return Promise.reject(new PipelineBrokenError('the server does not know EPSV'));
    return new Promise<void>((resolve, reject) => {
      const job: Job = { path, offset, sink, stages: offset > 0 ? ['epsv', 'rest', 'retr'] : ['epsv', 'retr'], dataEnded: false, ctrlDone: false, abandoned: false, settled: false, resolve, reject };
      // the reader gave up early (a changed file, a sync aborted): drop the data connection;
      // the server answers 426 and the control connection goes on with the next file
      sink.once('close', () => {
        if (job.settled) return;
        job.abandoned = true;
        const i = this.waiting.indexOf(job);
        if (i >= 0) {
          this.waiting.splice(i, 1);
          this.settle(job, new Error('abandoned'));
          this.idleCheck();
          return;
        }
        this.dropData(job);
      });
      this.waiting.push(job);
      this.pump();
    });
  }

  /** Write the commands of as many waiting files as there is room for, in one write. */
  private pump(): void {
    if (this.broken) return;
    const room = (this.proven ? this.depth : 1) - this.sent.length;
    if (room <= 0 || this.waiting.length === 0) return;
    // refill when half the pipeline has drained: fewer, larger writes
    if (this.proven && this.sent.length > 0 && room < Math.ceil(this.depth / 2)) return;
    let out = '';
    for (let n = 0; n < room && this.waiting.length > 0; n++) {
      const j = this.waiting.shift()!;
      this.sent.push(j);
      out += `EPSV\r\n${j.offset > 0 ? `REST ${j.offset}\r\n` : ''}RETR ${j.path}\r\n`;
    }
    if (!this.taskOpen) {
      this.taskOpen = true;
      void this.ctx
        .handle(undefined, (res, task) => {
          this.task = task;
          this.onReply(res);
        })
        .catch(() => {
          // the jobs carry the failure
        });
      // the watchdog keeps the time while the pipeline is busy (basic-ftp's task timeout
      // would fire during a long file, when the control connection is rightly silent)
      this.ctx.socket.setTimeout(0);
      this.startWatchdog();
    }
    // names are bytes, one character each (./ftpNames.ts): the connection writes latin1
    this.ctx.socket.write(out, 'latin1');
  }

  private onReply(res: FTPResponse | Error): void {
    this.reply(res);
    // finished files whose deferred work no 229 will flush (a refusal, the last file)
    if (this.finished.length > 0) this.afterwards();
  }

  private reply(res: FTPResponse | Error): void {
    this.progress++;
    if (res instanceof Error && !(res instanceof FTPError)) return this.fail(res);
    const code = res instanceof FTPError ? res.code : res.code;
    const j = this.sent[0];
    const stage = j?.stages[0];
    if (!j || !stage) return this.fail(new Error(`unexpected FTP reply: ${res.message}`));
    if (code < 200) {
      // 150/125: the data is coming (a mark before RETR's final reply)
      if (stage !== 'retr') return this.fail(new Error(`unexpected FTP reply to ${stage.toUpperCase()}: ${res.message}`));
      return;
    }
    j.stages.shift();
    if (stage === 'epsv') {
      const m = code === 229 ? EPSV_PORT.exec(res.message) : null;
      if (!m) {
        // a refused EPSV (5xx) is the server's, not the file's: the file is handed back
        // (PipelineBrokenError) to be fetched with PASV, like the files queued behind it
        if (code >= 500) this.noEpsv = true;
        this.failJob(j, this.noEpsv ? new PipelineBrokenError(`the server does not know EPSV: ${res.message}`) : res instanceof FTPError ? res : new FTPError(res));
        return;
      }
      this.openData(j, Number(m[2]));
      if (!this.proven) {
        this.proven = true;
        this.pump();
      }
      return;
    }
    if (stage === 'rest') {
      if (code !== 350) this.failJob(j, res instanceof FTPError ? res : new FTPError(res));
      return;
    }
    // RETR's final reply: this file's control part is over, the next file's replies follow
    if (code >= 300) this.failJob(j, res instanceof FTPError ? res : new FTPError(res));
    j.ctrlDone = true;
    this.sent.shift();
    if (!j.data) j.dataEnded = true;
    this.finish(j);
    if (this.noEpsv) {
      // the server cannot do this: hand the rest back for the library's way
      for (const w of this.waiting.splice(0)) this.settle(w, new PipelineBrokenError('the server does not know EPSV'));
    }
    this.pump();
    this.idleCheck();
  }

  private openData(j: Job, port: number): void {
    const conn = this.spare.pop() ?? this.dataConn();
    conn.job = j;
    conn.over = false;
    conn.clean = false;
    j.data = conn.sock;
    this.receiving.add(j);
    conn.sock.connect({ host: this.ctx.socket.remoteAddress ?? '127.0.0.1', port });
    // Our side has nothing to send: say so at once. vsftpd closes a data connection with
    // SO_LINGER and waits for the ACK of its FIN, which Linux delays on a socket still open
    // (in CLOSE_WAIT) until we close it: our event loop was in every file's path. After our
    // FIN the kernel ACKs theirs straight away (FIN_WAIT2).
    const early = this.halfCloseEarly(port);
    if (early) conn.sock.end();
    // net makes the connection on the next tick: the deferred work goes after it. With the
    // early half-close, after the connection is made: net sends our FIN only then (on its
    // 'connect'), and a small file's data and FIN come at once. Work done before our FIN is
    // out lets the server's FIN win the race, and its close waits for our event loop again.
    if (this.finished.length > 0 && !this.afterArmed) {
      this.afterArmed = true;
      if (early) conn.handOverAfter = true;
      else process.nextTick(this.handOver);
    }
  }

  /**
   * A data connection's socket and its listeners, made once and reconnected for file after
   * file (net documents connect() after 'close' for that): a Socket per file (its streams'
   * states, listeners and closures) was a fifth of a first copy's main thread, and garbage.
   */
  private dataConn(): DataConn {
    const conn: DataConn = {
      job: undefined,
      over: false,
      clean: false,
      paused: false,
      handOverAfter: false,
      // (net takes `onread` here as in connect(); its types name it for connect() only)
      sock: new Socket(<SocketConstructorOpts & { onread: OnReadOpts }>{
        // the server's FIN ends the file: the socket is destroyed then (below), without the
        // half-close's shutdown() and writable 'finish' a socket otherwise goes through
        allowHalfOpen: true,
        // Reads land in one buffer per pipeline and are copied out by the sink: no 64 KiB
        // allocation per read (many small files made that most of the garbage collector's work).
        onread: {
          buffer: this.readBuffer,
          callback: (n: number, buf: Uint8Array): boolean => {
            this.progress++;
            const j = conn.job;
            if (!j || j.abandoned || j.failure || j.sink.destroyed) return true;
            // the sink wants no more for now: stop reading until it drains
            if (!j.sink.writeCopy(buf.subarray(0, n))) {
              conn.paused = true;
              j.sink.once('drain', () => {
                if (conn.job === j) conn.sock.resume();
              });
              return false;
            }
            return true;
          },
        },
      }),
    };
    // (no setNoDelay: nothing is sent on a RETR's data connection, so Nagle never applies; it
    // was a setsockopt per file; no timeout of its own either: the watchdog keeps the time)
    const done = (err?: Error): void => {
      const j = conn.job;
      if (conn.over || !j) return;
      conn.over = true;
      this.receiving.delete(j);
      if (this.receiving.size === 0 && !this.taskOpen) this.stopWatchdog();
      if (err && !j.abandoned) j.failure ??= err;
      j.dataEnded = true;
      this.finish(j);
    };
    conn.sock.on('error', (err) => done(err));
    conn.sock.on('end', () => {
      conn.clean = !conn.over;
      done();
      conn.sock.destroy();
    });
    // (on the next tick: after net's own 'connect' listener that sends the half-close's FIN)
    const handOverAfter = (): void => {
      if (!conn.handOverAfter) return;
      conn.handOverAfter = false;
      process.nextTick(this.handOver);
    };
    conn.sock.on('close', () => {
      handOverAfter();
      const j = conn.job;
      // (the Error only when it is one: its stack trace was 4 % of a first copy's main thread)
      if (!conn.over) done(j?.abandoned ? undefined : new Error('data connection closed before its end'));
      if (j) j.data = undefined;
      conn.job = undefined;
      // again for the next file, when this one ended as a file ends (never one paused or failed)
      if (conn.clean && !conn.paused && this.spare.length < SPARE_CONNS) this.spare.push(conn);
    });
    // the server waits for this connection whatever happens: make it, then drop it if unwanted
    conn.sock.on('connect', () => {
      handOverAfter();
      const j = conn.job;
      if (!j || j.abandoned || j.failure) conn.sock.destroy();
    });
    return conn;
  }

  /** Data connections closed after a clean end, to reconnect for the next files. */
  private readonly spare: DataConn[] = [];

  /** Drop a file's data connection (once it is made: the server would wait for it). */
  private dropData(j: Job): void {
    if (j.data && !j.data.connecting) j.data.destroy();
  }

  /** This file failed (a refusal): its data connection goes; its remaining replies still come. */
  private failJob(j: Job, err: Error): void {
    j.failure ??= err;
    this.dropData(j);
  }

  private finish(j: Job): void {
    if (j.settled || !j.ctrlDone || !j.dataEnded) return;
    this.settle(j, j.abandoned ? new Error('abandoned') : j.failure);
  }

  private settle(j: Job, err?: Error): void {
    if (j.settled) return;
    j.settled = true;
    if (err) {
      this.dropData(j);
      j.reject(err);
    } else {
      this.finished.push(j);
      this.afterwards();
    }
  }

  /**
   * Work a finished file sets off, done later: handing it to its reader (the tar entry, the
   * gather for the writer thread) and closing its data connection. The server sends one
   * file at a time and, for each, waits for our connect() to the port its 229 named; the
   * 229 comes a few dozen µs after the previous file's 226, so work done on the 226 is work
   * the server waits for. Done right after the next file's connect() instead, it overlaps
   * the server's sending of that file.
   */
  private finished: Job[] = [];
  private afterArmed = false;

  /** Run the deferred work after the next connect(), or soon when no 229 is coming. */
  private afterwards(): void {
    if (this.afterArmed) return;
    // a 229 is the next reply: its connect() flushes (openData)
    if (!this.broken && this.sent[0]?.stages[0] === 'epsv') return;
    this.afterArmed = true;
    setImmediate(this.handOver);
  }

  private readonly handOver = (): void => {
    this.afterArmed = false;
    const done = this.finished;
    if (done.length === 0) return;
    this.finished = [];
    for (const j of done) {
      j.sink.end();
      j.resolve();
    }
  };

  /** Nothing sent, nothing waiting: end basic-ftp's task (the connection is free for other commands). */
  private idleCheck(): void {
    if (this.sent.length > 0 || this.waiting.length > 0) return;
    if (this.taskOpen) {
      this.taskOpen = false;
      if (this.receiving.size === 0) this.stopWatchdog();
      const t = this.task;
      this.task = undefined;
      t?.resolve(undefined);
    }
    this.retire();
  }

  private retire(): void {
    if (this.retired) return;
    this.retired = true;
    if (this.receiving.size === 0) this.stopWatchdog();
    this.onIdle();
  }

  /**
   * Nothing moved (no reply, no byte of data) for a whole period of `timeoutMs`: stuck. The
   * data connections still open fail their files (as a socket timeout of their own did), and
   * a control connection still awaiting replies fails as basic-ftp's timeout failed it: the
   * file under way fails, the others are handed back to be asked for on a new connection.
   */
  private startWatchdog(): void {
    if (this.watchdog || this.timeoutMs <= 0) return;
    let seen = this.progress;
    this.watchdog = setInterval(() => {
      if (this.progress !== seen) {
        seen = this.progress;
        return;
      }
      const err = new Error(`FTP connection idle for ${this.timeoutMs / 1000} s`);
      for (const j of [...this.receiving]) j.data?.destroy(err);
      if (this.taskOpen) this.fail(err);
      if (!this.taskOpen && this.receiving.size === 0) this.stopWatchdog();
    }, this.timeoutMs);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  /** The control connection is gone: the file under way fails, the others go back. */
  private fail(err: Error): void {
    if (this.broken) return;
    this.broken = err;
    const [head, ...rest] = this.sent;
    this.sent = [];
    if (head) {
      head.data?.destroy();
      this.settle(head, err);
    }
    for (const j of [...rest, ...this.waiting.splice(0)]) this.settle(j, new PipelineBrokenError(err.message));
    const t = this.task;
    this.task = undefined;
    this.taskOpen = false;
    if (this.receiving.size === 0) this.stopWatchdog();
    t?.reject(err);
    this.ctx.closeWithError(err);
    this.afterwards();
    this.retire();
  }
}
