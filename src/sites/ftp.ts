// ftp:// and ftps:// (explicit TLS, AUTH TLS) trees, on basic-ftp: the protocol is the
// library's; this module maps it onto Tree. The URL's path is absolute on the server
// (ftp://host/pub is /pub); no path means the login directory.
//
// Reading (a sync's or mirror's source): scan lists the tree (MLSD when the server offers
// it; else one recursive `LIST -lRa`, mirror's ls -lR, when the server honours -R; else a
// LIST per directory), and pack downloads the files into a tar stream (./siteTar.ts) that
// the engine writes safely, resuming large files with REST. Writing (mirror's upload mode,
// get_file=false): unpack uploads each file to a temporary name and renames it into place
// once its size and sha256 are checked; mkdir, remove, save (rename) and setattr (SITE CHMOD,
// MFMT where offered) as ops. FTP has no symlinks and no ownership: those ops fail, loudly.
//
// Politeness: `connections` control connections at most (default 1, as mirror).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { Client, FTPError } from 'basic-ftp';
// the library's own default PASV step (data connections to the control connection's host)
import { enterPassiveModeIPv4_forceControlHostIP } from 'basic-ftp/dist/transfer.js';
import type { Entry } from '../core/entry.js';
import { parseListing, unlistedDirs, type ListedEntry, type ListingFormat } from '../core/ftpListing.js';
import { decodeName } from '../core/names.js';
import type { Expected, OpResult, PackOptions, PackRequest, ScanOptions, Tree, TreeOp, UnpackResult } from '../core/tree.js';
import { assertSafeRelPath, baseOf, isTempName, parentOf } from '../engine/paths.js';
import { silentLogger, type Logger } from '../log.js';
import { activeMode } from './ftpActive.js';
import { fromWire, toWire } from './ftpNames.js';
import { PipelineBrokenError, RetrPipeline, streamSink, type RetrSink } from './ftpRetrPipeline.js';
import { WholeFileSink } from './ftpWholeFile.js';
import { hashByDownload, siteTarStream, type WholeFile } from './siteTar.js';
import { assertSiteWritable, applyEach, putByUnpack, saveTarget, unpackToSite } from './siteUpload.js';
import { inSubtree } from './subtree.js';

/** Connection options of an FTP site (mirror's keywords in brackets). */
export interface FtpSiteOptions {
  /** Login name [remote_user]; default the URL's user, else `anonymous`. */
  user?: string;
  /** Password [remote_password]; default the URL's, else `$USER@hostname` as mirror sent. */
  password?: string;
  /** Account, sent with ACCT when the server asks for one (332) [remote_account]. */
  account?: string;
  /**
   * Passive data connections [passive_ftp]. Default true; `false` is active mode (PORT,
   * EPRT for IPv6: the server connects back to us; ./ftpActive.ts).
   */
  passive?: boolean;
  /** Control port; default the URL's, else 21. */
  port?: number;
  /** Seconds a control reply or data may stall before the connection is dropped [timeout]; default 120. */
  timeoutSec?: number;
  /**
   * The listing format [remote_fs]: `unix` (ls -l), `dos` (DOS/IIS dir), or `auto` (the
   * default: per line, Unix then DOS). MLSD is used whatever this says when offered.
   */
  remoteFs?: 'unix' | 'dos' | 'auto';
  /**
   * How to list the tree [recurse_hard]: `auto` (MLSD per directory when offered, else one
   * recursive LIST, falling back to a LIST per directory when -R is not honoured),
   * `recursive` (one `LIST <listFlags>`), `walk` (a listing per directory).
   */
  listing?: 'auto' | 'recursive' | 'walk';
  /** Flags of the recursive LIST [flags_recursive]; default `-lRa`. */
  listFlags?: string;
  /** A file on the site holding an `ls -lR` of the tree (.gz allowed) [ls_lR_file]; relative to the tree root, or absolute. */
  lsLRFile?: string;
  /** A local file holding the `ls -lR` of the remote tree [local_ls_lR_file]. */
  localLsLR?: string;
  /** Minutes east of UTC of the times in LIST output (MLSD is always UTC); default 0. */
  tzOffsetMin?: number;
  /** Control connections at most (politeness); default 1, as mirror. */
  connections?: number;
  /** FTPS: PEM certificate(s) to trust besides the system's (a self-signed server). */
  ca?: string | Buffer;
  /** FTPS: verify the server's certificate (default true). */
  rejectUnauthorized?: boolean;
}

export interface FtpOpenOptions {
  writable?: boolean;
  log?: Logger;
  signal?: AbortSignal;
  /** Overall connect timeout from the caller (openTree's timeoutMs); the site's timeoutSec wins for replies. */
  timeoutMs?: number;
  ftp?: FtpSiteOptions;
}

export interface FtpUrl {
  tls: boolean;
  host: string;
  port: number;
  user?: string;
  password?: string;
  /** Absolute path on the server, or '' for the login directory. */
  path: string;
}

/** ftp[s]://[user[:password]@]host[:port][/path] */
export function parseFtpUrl(url: string): FtpUrl {
  const m = /^(ftps?):\/\/(?:([^@/:]*)(?::([^@/]*))?@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)?$/i.exec(url);
  if (!m) throw new Error(`bad FTP URL '${url}': expected ftp[s]://[USER[:PASSWORD]@]HOST[:PORT][/PATH]`);
  const port = m[5] === undefined ? 21 : Number(m[5]);
  if (!(port >= 1 && port <= 65535)) throw new Error(`bad FTP URL '${url}': bad port`);
  const path = decodeURIComponent(m[6] ?? '');
  if (path.includes('\0') || /[\r\n]/.test(path)) throw new Error(`bad FTP URL '${url}': control characters in the path`);
  return {
    tls: m[1]!.toLowerCase() === 'ftps',
    host: m[4]!.replace(/^\[|\]$/g, ''),
    port,
    ...(m[2] ? { user: decodeURIComponent(m[2]) } : {}),
    ...(m[3] !== undefined ? { password: decodeURIComponent(m[3]) } : {}),
    path: path === '/' ? '/' : path.replace(/\/+$/, ''),
  };
}

/** basic-ftp's Client with the two things it keeps protected: raw listings and ACCT. */
class FtpClient extends Client {
  /** The raw text of a listing command (the library parses; we parse ourselves). */
  async rawList(command: string): Promise<string> {
    let raw = '';
    const parse = this.parseList;
    this.parseList = (text: string) => {
      raw = text;
      return [];
    };
    try {
      await this.prepareTransfer(this.ftp);
      await this._requestListWithCommand(command);
    } finally {
      this.parseList = parse;
    }
    return raw;
  }

  /** USER, PASS, and ACCT when the server asks for an account (332). */
  loginWithAccount(user: string, password: string, account: string | undefined): Promise<unknown> {
    return this.ftp.handle(`USER ${user}`, (res, task) => {
      if (res instanceof Error) task.reject(res);
      else if (res.code >= 200 && res.code < 300) task.resolve(res);
      else if (res.code === 331) this.ftp.send(`PASS ${password}`);
      else if (res.code === 332 && account) this.ftp.send(`ACCT ${account}`);
      else task.reject(new FTPError(res));
    });
  }
}

/** At most `max` connections; callers queue for one (one at a time by default: politeness). */
class ConnectionPool {
  private idle: FtpClient[] = [];
  private open = 0;
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly max: number,
    private readonly connect: () => Promise<FtpClient>,
  ) {}

  async use<T>(fn: (c: FtpClient) => Promise<T>): Promise<T> {
    const c = await this.acquire();
    try {
      return await fn(c);
    } finally {
      this.release(c);
    }
  }

  /** Hold a connection until `release` (a download that outlives the call that started it). */
  async acquire(): Promise<FtpClient> {
    for (;;) {
      if (this.closed) throw new Error('FTP site closed');
      const c = this.idle.pop();
      if (c) {
        if (!c.closed) return c;
        this.open--;
        continue;
      }
      if (this.open < this.max) {
        this.open++;
        try {
          const c = await this.connect();
          if (this.closed) {
            // closed (aborted, timed out) while this one was connecting: do not leak it
            c.close();
            throw new Error('FTP site closed');
          }
          return c;
        } catch (err) {
          this.open--;
          this.wake();
          throw err;
        }
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  release(c: FtpClient): void {
    if (c.closed || this.closed) {
      this.open--;
      c.close();
    } else this.idle.push(c);
    this.wake();
  }

  private wake(): void {
    this.waiters.shift()?.();
  }

  /** Closed (the tree closed, or its opening aborted): nothing more is dialed. */
  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
    for (const c of this.idle) c.close();
    this.idle = [];
    for (const w of this.waiters.splice(0)) w();
  }
}

/** The waits before asking a server that answered 421 again (FtpTree.connect): four more tries in ~4 s. */
const CONNECT_RETRY_MS = [250, 500, 1000, 2000];

/** Files whose commands may be out at once on one connection (./ftpRetrPipeline.ts). */
const PIPELINE_DEPTH = 4;
/** Files asked for ahead of the one being read, so the pipelines stay full. */
const FETCH_AHEAD = 2 * PIPELINE_DEPTH;
/** Times a file handed back untouched by a pipeline (connection lost, drained meanwhile) is asked for again. */
const PIPELINE_RETRIES = 3;
/** Greetings of servers known to lose commands sent ahead of their replies (lftp's ftp:auto-sync-mode). */
const SYNC_MODE_SERVERS = /icrosoft FTP Service|MadGoat|MikroTik/;
/**
 * Greetings of servers that wait, after each file, for the ACK of their data connection's
 * FIN (vsftpd closes it with SO_LINGER): there our side of each data connection is
 * half-closed as soon as it is made, so the kernel ACKs at once (./ftpRetrPipeline.ts).
 * Other servers see a data connection closed as before, after their FIN.
 *
 * Closing first leaves our side of every data connection in TIME_WAIT, on one of this
 * host's ephemeral ports. With a server on this host (sameHost) whose passive ports come
 * from that same range (vsftpd's default, `pasv_min_port=0`), its EPSV then fails to find a
 * free port it can bind ("500 OOPS: vsf_sysutil_bind"), seen after a few 20,000-file runs.
 * So on this host a data connection is half-closed early only when the port the server's
 * 229 named is outside the ephemeral range (a server given `pasv_min_port`/`pasv_max_port`,
 * as firewalled servers are): our TIME_WAIT ports can never be the ones it binds.
 * `OMIRR_FTP_HALF_CLOSE=1` half-closes with such a server on this host for every port (the
 * tests' way to the code path with any configuration), `=0` never.
 */
const HALF_CLOSE_EARLY_SERVERS = /\bvsFTPd\b/;

/** For each passive port a 229 names: whether to half-close that data connection early. */
type HalfClosePolicy = (port: number) => boolean;

const NEVER: HalfClosePolicy = () => false;
const ALWAYS: HalfClosePolicy = () => true;

/**
 * The policy with the server whose greeting this is (HALF_CLOSE_EARLY_SERVERS): `sameHost`,
 * the server is on this host; `forced`, OMIRR_FTP_HALF_CLOSE; `ephemeral`, this host's
 * ephemeral port range.
 */
export function halfClosePolicy(greeting: string, o: { sameHost: boolean; forced: string | undefined; ephemeral: readonly [number, number] }): HalfClosePolicy {
  if (o.forced === '0' || !HALF_CLOSE_EARLY_SERVERS.test(greeting)) return NEVER;
  if (o.forced === '1' || !o.sameHost) return ALWAYS;
  const [lo, hi] = o.ephemeral;
  return (port) => port < lo || port > hi;
}

let ephemeral: readonly [number, number] | undefined;

/**
 * This host's ephemeral port range (Linux: /proc/sys/net/ipv4/ip_local_port_range, read
 * once). Unknown (another system): every port, so nothing is taken to be outside it.
 */
function ephemeralPorts(): readonly [number, number] {
  if (ephemeral) return ephemeral;
  ephemeral = [1, 65535];
  try {
    const m = /^\s*(\d+)\s+(\d+)/.exec(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'));
    if (m) ephemeral = [Number(m[1]), Number(m[2])];
  } catch {
    // not Linux, or no /proc: keep "every port"
  }
  return ephemeral;
}

/** The control connection's two ends are on this host (loopback, or one of our addresses). */
function sameHost(sock: { localAddress?: string | undefined; remoteAddress?: string | undefined }): boolean {
  const r = sock.remoteAddress ?? '';
  return r === '' || r === sock.localAddress || /^(127\.|::1$|::ffff:127\.)/.test(r);
}

function joinRemote(root: string, rel: string): string {
  if (rel === '') return root === '' ? '.' : root;
  if (root === '') return rel;
  return root === '/' ? `/${rel}` : `${root}/${rel}`;
}

function isConnectionError(err: unknown): boolean {
  return !(err instanceof FTPError);
}

/** A 5xx answer (permanent): the file or directory is not there, or not for us. */
function isPermanent(err: unknown): boolean {
  return err instanceof FTPError && err.code >= 500;
}

export class FtpTree implements Tree {
  readonly label: string;
  readonly writable: boolean;
  private readonly log: Logger;
  private readonly site: FtpSiteOptions;
  private readonly pool: ConnectionPool;
  private listed = new Map<string, Entry>();
  /** What the scan's listings held that is not a file, directory or symlink (reported as skips). */
  private others: string[] = [];
  /** Directories the scan could not list (unreadable on the site): their contents are unknown, not empty. */
  private unlisted: Array<{ path: string; reason: string }> = [];
  /** The tree root as the server names it (PWD after CWD). */
  private root = '';
  private features = new Map<string, string>();
  private warnedTimes = false;
  private readonly maxConnections: number;
  /** Downloads under way, one pipeline per connection it holds (./ftpRetrPipeline.ts). */
  private readonly pipes = new Set<RetrPipeline>();
  /** Pipelines waiting for their connection. */
  private readonly opening = new Set<Promise<RetrPipeline>>();
  /** The server refused EPSV: files come the library's way (PASV). */
  private noEpsv = false;
  /** A server known to mishandle commands sent ahead (its greeting, as lftp's ftp:auto-sync-mode): one command at a time. */
  private syncMode = false;
  /** Which data connections are half-closed as soon as they are made (HALF_CLOSE_EARLY_SERVERS). */
  private halfClose: HalfClosePolicy = NEVER;
  /** Opened: the site answered once; a dial that fails from now on means it went away. */
  private opened = false;
  /** The first socket error that broke a connection to the site (what was seen when it went). */
  private brokenBy?: string;
  /** Why the last dial after opening failed (refused, timed out); cleared by one that works. */
  private unreachable?: string;

  private constructor(
    private readonly url: FtpUrl,
    opts: FtpOpenOptions,
  ) {
    this.site = opts.ftp ?? {};
    this.log = opts.log ?? silentLogger;
    this.writable = opts.writable === true;
    const port = this.site.port ?? url.port;
    this.label = `${url.tls ? 'ftps' : 'ftp'}://${url.host.includes(':') ? `[${url.host}]` : url.host}${port === 21 ? '' : `:${port}`}${url.path}`;
    this.maxConnections = Math.max(1, Math.floor(this.site.connections ?? 1));
    this.pool = new ConnectionPool(this.maxConnections, () => this.connect());
  }

  static async open(spec: string, opts: FtpOpenOptions = {}): Promise<FtpTree> {
    const t = new FtpTree(parseFtpUrl(spec), opts);
    const onAbort = (): void => t.pool.close();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // the first connection proves the site and the login, and finds the root
      await t.pool.use(async () => {});
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    t.opened = true;
    return t;
  }

  /**
   * The site gone mid-run: a connection broke and dialing it again failed (the server killed
   * or restarted, the network down), so every file still to come fails the same way. Said
   * once by the caller (runMirror.ts's lostSite) instead of as a "not received" per file.
   */
  async lostReason(): Promise<string | undefined> {
    if (this.unreachable === undefined || this.pool.isClosed) return undefined;
    return `connection lost${this.brokenBy ? ` (${this.brokenBy})` : ''}; connecting again failed: ${this.unreachable}`;
  }

  /** A download's failure: a socket error (not a server's answer) is what was seen if the site is gone. */
  private noteFailure(err: Error): void {
    if (this.brokenBy === undefined && !(err instanceof FTPError) && typeof (err as { code?: unknown }).code === 'string') this.brokenBy = err.message;
  }

  private timeoutMs(): number {
    return (this.site.timeoutSec ?? 120) * 1000;
  }

  /**
   * A connection, logged in. A server that answers 421 ("too many connections", "service not
   * available") is asked again a few times, CONNECT_RETRY_MS apart: a session just ended
   * (ours, a moment ago) is counted by the server until its process has gone.
   */
  private async connect(): Promise<FtpClient> {
    for (let attempt = 0; ; attempt++) {
      try {
        const c = await this.connectOnce();
        this.unreachable = undefined;
        return c;
      } catch (err) {
        // not a server's answer (refused, reset, timed out) once the site had answered: it went
        if (this.opened && !(err instanceof FTPError) && !this.pool.isClosed) this.unreachable = (err as Error).message;
        const wait = CONNECT_RETRY_MS[attempt];
        if (!(err instanceof FTPError && err.code === 421) || wait === undefined) throw err;
        if (this.pool.isClosed) throw err;
        this.log.warn({ site: this.label, err: err.message, retryInMs: wait }, 'ftp: the server is busy (421); asking again');
        await new Promise((resolve) => setTimeout(resolve, wait));
        // closed while waiting (an abort, the run ended): do not dial a busy server again
        if (this.pool.isClosed) throw err;
      }
    }
  }

  private async connectOnce(): Promise<FtpClient> {
    const timeoutMs = this.timeoutMs();
    const c = new FtpClient(timeoutMs);
    // names are bytes: each one a character on the control connection (./ftpNames.ts)
    c.ftp.encoding = 'latin1';
    const port = this.site.port ?? this.url.port;
    try {
      const greeting = await c.connect(this.url.host, port);
      if (SYNC_MODE_SERVERS.test(greeting.message)) this.syncMode = true;
      this.halfClose = halfClosePolicy(greeting.message, { sameHost: sameHost(c.ftp.socket), forced: process.env.OMIRR_FTP_HALF_CLOSE, ephemeral: ephemeralPorts() });
      // every file is a few small commands and replies: do not let Nagle hold them back
      c.ftp.socket.setNoDelay(true);
      if (this.url.tls) {
        await c.useTLS({
          host: this.url.host,
          ...(this.site.ca !== undefined ? { ca: this.site.ca } : {}),
          ...(this.site.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
        });
      }
      await c.sendIgnoringError('OPTS UTF8 ON');
      const user = this.site.user ?? this.url.user ?? 'anonymous';
      const password = this.site.password ?? this.url.password ?? `${process.env.USER ?? 'omirr'}@${hostname()}`;
      await c.loginWithAccount(toWire(user), toWire(password), this.site.account === undefined ? undefined : toWire(this.site.account));
      await c.useDefaultSettings();
      // active mode: the data connections come from the server (PORT/EPRT)
      if (this.site.passive === false) c.prepareTransfer = activeMode(this.log);
      // the server refused EPSV on an earlier connection: straight to PASV (the library
      // would try EPSV first on every new connection)
      else if (this.noEpsv) c.prepareTransfer = enterPassiveModeIPv4_forceControlHostIP;
      if (this.features.size === 0) this.features = await c.features();
      if (this.url.path !== '') await c.cd(toWire(this.url.path));
      if (this.root === '') this.root = fromWire(await c.pwd());
      return c;
    } catch (err) {
      c.close();
      const e = err as Error & { code?: unknown };
      if (e instanceof FTPError && (e.code === 530 || e.code === 332)) {
        const r = new Error(`${this.label}: login refused: ${e.message}`);
        r.name = 'FtpAuthRefusedError';
        throw r;
      }
      if (!(e instanceof FTPError)) e.name = e.name === 'Error' ? 'FtpConnectError' : e.name;
      throw e;
    }
  }

  /** Run `fn` on a connection; a broken connection is replaced and `fn` tried once more. */
  private async withClient<T>(fn: (c: FtpClient) => Promise<T>): Promise<T> {
    try {
      return await this.pool.use(fn);
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      this.log.warn({ site: this.label, err: (err as Error).message }, 'FTP connection lost; retrying on a new one');
      return this.pool.use(fn);
    }
  }

  /** The remote path of `rel` as the control connection writes it (./ftpNames.ts). */
  private abs(rel: string): string {
    return toWire(joinRemote(this.root, rel));
  }

  private listingFormat(): ListingFormat | 'auto' {
    const fs = this.site.remoteFs ?? 'auto';
    return fs === 'auto' ? 'auto' : fs;
  }

  // ---- reading ----

  async scan(opts: ScanOptions = {}): Promise<Entry[]> {
    const recursive = opts.recursive !== false;
    this.others = [];
    this.unlisted = [];
    let entries: ListedEntry[];
    if (this.site.localLsLR !== undefined || this.site.lsLRFile !== undefined) entries = await this.scanLsLR(recursive);
    else {
      const mode = this.site.listing ?? 'auto';
      const mlsd = this.features.has('MLST');
      if (mode === 'walk' || !recursive || (mode === 'auto' && mlsd)) entries = await this.walk(recursive, mlsd);
      else {
        const r = await this.recursiveList();
        // -R not honoured (only the top directory came back, with subdirectories): walk
        if (r === undefined) entries = await this.walk(true, mlsd);
        else entries = r;
      }
    }
    entries = inSubtree(
      entries.filter((e) => !isTempName(baseOf(e.path))),
      opts.subtree,
      recursive,
    );
    this.listed = new Map(entries.map((e) => [e.path, e]));
    // left out, but what the site has: its local copy is not deleted (PlanOptions.srcSkipped)
    for (const o of inSubtree(this.others.map((path) => ({ path })), opts.subtree, recursive)) opts.onSkipped?.({ path: o.path, reason: 'not a file, directory or symlink' });
    // unknown contents fail the run by name, and shield the local copy the same way
    for (const u of inSubtree(this.unlisted, opts.subtree, recursive)) {
      this.log.warn({ site: this.label, path: u.path, reason: u.reason }, 'directory not listed: its contents are not mirrored, nothing below it is deleted');
      opts.onSkipped?.({ path: u.path, reason: u.reason, unmirrorable: true });
    }
    return entries;
  }

  private parse(text: string, dir: string, format: ListingFormat | 'auto', what: string): ReturnType<typeof parseListing> {
    const p = parseListing(text, dir, format, { nowMs: Date.now(), tzOffsetMin: this.site.tzOffsetMin ?? 0, absRoot: this.root });
    // An unreadable listing could look like an empty directory and have the mirror delete
    // the local copy: refuse it instead.
    if (p.unparsed.length > 0) {
      throw new Error(`${this.label}: ${what}: cannot parse ${p.unparsed.length} listing line(s), e.g. ${JSON.stringify(p.unparsed[0])} (set remote_fs?)`);
    }
    for (const o of p.others) {
      this.log.warn({ site: this.label, path: o }, 'not a file, directory or symlink: not mirrored');
      this.others.push(o);
    }
    return p;
  }

  /** One `LIST -lRa`; undefined when the server ignored -R (subdirectories but no sections). */
  private async recursiveList(): Promise<ListedEntry[] | undefined> {
    const flags = this.site.listFlags ?? '-lRa';
    const text = await this.withClient(async (c) => {
      await c.cd(toWire(this.root));
      return fromWire(await c.rawList(`LIST ${flags}`));
    });
    const p = this.parse(text, '', this.listingFormat(), `LIST ${flags}`);
    if (!p.sawSections && p.entries.some((e) => e.kind === 'dir')) {
      this.log.info({ site: this.label }, 'the server ignores LIST -R: listing each directory');
      return undefined;
    }
    // a directory the server could not open has no section: not an empty one
    for (const d of unlistedDirs(p)) this.unlisted.push({ path: d, reason: `directory missing from LIST ${flags} (unreadable on the site?)` });
    return p.entries;
  }

  /** A listing per directory (MLSD when offered, else CWD + LIST -la), breadth first. */
  private async walk(recursive: boolean, mlsd: boolean): Promise<ListedEntry[]> {
    const out: ListedEntry[] = [];
    const queue: string[] = [''];
    while (queue.length > 0) {
      const dir = queue.shift()!;
      let text: string;
      try {
        text = await this.withClient(async (c) => {
          await c.cd(this.abs(dir));
          return fromWire(await c.rawList(mlsd ? 'MLSD' : 'LIST -la'));
        });
      } catch (err) {
        // a subdirectory the server refuses (550: unreadable) is unknown, not empty; the
        // rest of the tree is still listed. The root refused, or a broken connection, fails.
        if (dir === '' || !isPermanent(err)) throw err;
        this.unlisted.push({ path: dir, reason: `cannot be listed: ${(err as Error).message}` });
        continue;
      }
      const p = this.parse(text, dir, mlsd ? 'mlsd' : this.listingFormat(), `listing ${dir || '.'}`);
      // a server that lists recursively anyway (some ignore the flags): keep this level only
      for (const e of p.entries) {
        if (parentOf(e.path) !== dir) continue;
        out.push(e);
        if (recursive && e.kind === 'dir') queue.push(e.path);
      }
    }
    return out;
  }

  /** mirror's ls_lR_file / local_ls_lR_file: the listing comes from a file. */
  private async scanLsLR(recursive: boolean): Promise<ListedEntry[]> {
    let data: Buffer;
    let name: string;
    if (this.site.localLsLR !== undefined) {
      const { readFile } = await import('node:fs/promises');
      name = this.site.localLsLR;
      data = await readFile(name);
    } else {
      name = this.site.lsLRFile!;
      const remote = name.startsWith('/') ? toWire(name) : this.abs(name);
      data = await this.withClient(async (c) => {
        const chunks: Buffer[] = [];
        const sink = new Writable({
          write(chunk: Buffer, _enc, cb) {
            chunks.push(chunk);
            cb();
          },
        });
        await c.downloadTo(sink, remote);
        return Buffer.concat(chunks);
      });
    }
    if (/\.gz$/i.test(name) || (data[0] === 0x1f && data[1] === 0x8b)) data = gunzipSync(data);
    const p = this.parse(decodeName(data), '', this.listingFormat(), `ls-lR file ${name}`);
    if (!recursive) return p.entries.filter((e) => !e.path.includes('/'));
    for (const d of unlistedDirs(p)) this.unlisted.push({ path: d, reason: `directory has no section in the ls-lR file ${name}` });
    return p.entries;
  }

  async hashFiles(paths: string[]): Promise<Map<string, string>> {
    for (const p of paths) assertSafeRelPath(p);
    return hashByDownload(paths, (p) => this.download(p, 0));
  }

  pack(files: PackRequest[], opts: PackOptions = {}): Readable {
    for (const f of files) assertSafeRelPath(f.path);
    return siteTarStream(
      files,
      {
        label: this.label,
        log: this.log,
        listed: (p) => this.listed.get(p),
        open: (p, off) => this.download(p, off),
        openWhole: (p, off, expect, limit) => this.downloadWhole(p, off, expect, limit),
        ahead: FETCH_AHEAD,
      },
      opts,
    );
  }

  /** RETR (after REST when resuming) on a pooled connection, held until the file is read. */
  private async download(path: string, offset: number): Promise<Readable> {
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    // a file asked for ahead can fail before its reader comes: the reader gets the error
    // from the stream then, not as an unhandled 'error' event now
    out.on('error', () => {});
    const fail = (err: Error): void => {
      this.noteFailure(err);
      out.destroy(err);
    };
    if (this.pipelined()) this.fetchInto(streamSink(out), fail, this.abs(path), offset, PIPELINE_RETRIES);
    else this.plainDownload(out, this.abs(path), offset);
    return out;
  }

  /** A small file whole, into one buffer (./ftpWholeFile.ts), when it goes through a pipeline; else undefined (a stream then). */
  private downloadWhole(path: string, offset: number, expect: number, limit: number): { data: Promise<WholeFile>; cancel(): void } | undefined {
    if (!this.pipelined()) return undefined;
    const sink = new WholeFileSink(expect, limit);
    this.fetchInto(
      sink,
      (err) => {
        this.noteFailure(err);
        sink.fail(err);
      },
      this.abs(path),
      offset,
      PIPELINE_RETRIES,
    );
    return { data: sink.data, cancel: () => sink.cancel() };
  }

  /** Files go through pipelines (./ftpRetrPipeline.ts): plain FTP, passive mode, a server that takes it. */
  private pipelined(): boolean {
    return !(this.url.tls || this.noEpsv || this.syncMode || this.site.passive === false);
  }

  /**
   * The file into `sink`, pipelined on a held connection. A refusal or a cut-off goes to
   * `fail`; a file handed back untouched (connection lost, pipeline drained meanwhile) is
   * asked for again, the library's way once the server turned out not to know EPSV.
   */
  private fetchInto(sink: RetrSink, fail: (err: Error) => void, abs: string, offset: number, retries: number): void {
    const fetch = (pl: RetrPipeline): void => {
      pl.retr(abs, offset, sink).catch((err: Error) => {
        if (pl.noEpsv) this.noEpsv = true;
        const handedBack = err instanceof PipelineBrokenError && !sink.destroyed;
        // no EPSV: PASV whatever retries are left (one way, no loop)
        if (handedBack && !this.pipelined()) this.plainInto(sink, fail, abs, offset);
        else if (handedBack && retries > 0) this.fetchInto(sink, fail, abs, offset, retries - 1);
        else fail(err);
      });
    };
    const pl = this.pipeline();
    if (pl instanceof RetrPipeline) fetch(pl);
    else pl.then(fetch, fail);
  }

  /** A file handed back by a pipeline that the library fetches instead (no EPSV): through a stream into `sink`. */
  private plainInto(sink: RetrSink, fail: (err: Error) => void, abs: string, offset: number): void {
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    out.on('data', (c: Buffer) => {
      if (!sink.writeCopy(c)) {
        out.pause();
        sink.once('drain', () => out.resume());
      }
    });
    out.on('end', () => sink.end());
    out.on('error', fail);
    sink.once('close', () => out.destroy());
    this.plainDownload(out, abs, offset);
  }

  /**
   * The pipeline for the next file: the least loaded one with room; else a new one while
   * `connections` allows; else the least loaded (or the one being opened), to queue on.
   */
  private pipeline(): RetrPipeline | Promise<RetrPipeline> {
    let best: RetrPipeline | undefined;
    for (const p of this.pipes) if (!p.retired && (!best || p.load < best.load)) best = p;
    if (best && best.load < PIPELINE_DEPTH) return best;
    if (this.pipes.size + this.opening.size < this.maxConnections) return this.openPipeline();
    if (best) return best;
    return this.opening.values().next().value ?? this.openPipeline();
  }

  /** A pipeline on a connection from the pool, held until it drains. */
  private openPipeline(): Promise<RetrPipeline> {
    const p = this.pool.acquire().then((c) => {
      const pl: RetrPipeline = new RetrPipeline(
        c.ftp,
        this.timeoutMs(),
        PIPELINE_DEPTH,
        () => {
          this.pipes.delete(pl);
          this.pool.release(c);
        },
        this.halfClose,
      );
      this.pipes.add(pl);
      return pl;
    });
    this.opening.add(p);
    const settled = (): void => {
      this.opening.delete(p);
    };
    p.then(settled, settled);
    return p;
  }

  /** basic-ftp's downloadTo on a pooled connection (PASV, TLS data connections): one command at a time. */
  private plainDownload(out: PassThrough, abs: string, offset: number): void {
    void this.pool.acquire().then(
      (c) => {
        let released = false;
        const release = (): void => {
          if (!released) {
            released = true;
            this.pool.release(c);
          }
        };
        // basic-ftp ends `out` when the data is through; an error before the data (550)
        // never touches it: destroy it with the error so the reader sees it
        c.downloadTo(out, abs, offset).then(release, (err: Error) => {
          release();
          this.noteFailure(err);
          out.destroy(err);
        });
        out.on('close', () => {
          // the reader gave up early (a changed file): this connection's transfer is broken off
          if (!released && !out.readableEnded) c.close();
        });
      },
      (err: Error) => out.destroy(err),
    );
  }

  async resumeOffsets(): Promise<Map<string, number>> {
    return new Map();
  }

  // ---- writing (mirror's upload mode) ----

  async unpack(tar: Readable, expect: Expected[]): Promise<UnpackResult> {
    assertSiteWritable(this, 'unpack');
    return unpackToSite(tar, expect, {
      noResume: 'resumed uploads are not supported over FTP',
      namesAreBytes: true,
      store: (tmp, body) => this.withClient((c) => c.uploadFrom(body, this.abs(tmp))).then(() => undefined),
      commit: async (tmp, exp) => {
        await this.withClient((c) => c.rename(this.abs(tmp), this.abs(exp.path)));
        await this.setAttrs(exp.path, exp.mode, exp.mtimeMs);
      },
      discard: async (tmp) => {
        await this.withClient((c) => c.remove(this.abs(tmp), true)).catch(() => {});
      },
    });
  }

  /** SITE CHMOD; MFMT for the time where the server offers it (else the upload time stays). */
  private async setAttrs(path: string, mode: number | undefined, mtimeMs: number | undefined): Promise<void> {
    if (mode !== undefined) {
      await this.withClient((c) => c.send(`SITE CHMOD ${(mode & 0o7777).toString(8).padStart(4, '0')} ${this.abs(path)}`));
    }
    if (mtimeMs !== undefined) {
      if (this.features.has('MFMT')) {
        const t = new Date(mtimeMs).toISOString().replace(/[-:T]/g, '').slice(0, 14);
        await this.withClient((c) => c.send(`MFMT ${t} ${this.abs(path)}`));
      } else if (!this.warnedTimes) {
        this.warnedTimes = true;
        this.log.warn({ site: this.label }, 'the server cannot set modification times (no MFMT): uploaded files keep the upload time');
      }
    }
  }

  async apply(ops: TreeOp[]): Promise<OpResult[]> {
    assertSiteWritable(this, 'apply');
    return applyEach(ops, (op) => this.applyOne(op), { namesAreBytes: true });
  }

  private async applyOne(op: TreeOp): Promise<void> {
    switch (op.op) {
      case 'mkdir':
        await this.withClient(async (c) => {
          try {
            await c.send(`MKD ${this.abs(op.path)}`);
          } catch (err) {
            // already there as a directory is fine
            if (!isPermanent(err)) throw err;
            await c.cd(this.abs(op.path));
          }
        });
        await this.setAttrs(op.path, op.mode, undefined);
        return;
      case 'setattr':
        if (op.uid !== undefined || op.gid !== undefined) throw new Error('FTP cannot change ownership');
        return this.setAttrs(op.path, op.mode, op.mtimeMs);
      case 'symlink':
        throw new Error('FTP cannot make symlinks');
      case 'remove':
        return this.remove(op.path);
      case 'save': {
        const to = await saveTarget(op, (path) => this.applyOne({ op: 'mkdir', path, mode: 0o755 }));
        await this.withClient((c) => c.rename(this.abs(op.path), this.abs(to)));
        return;
      }
      case 'put':
        return putByUnpack(this.label, op, (tar, expect) => this.unpack(tar, expect));
    }
  }

  /** DELE a file; a directory is emptied (its listing, deepest first) and RMD'd. */
  private async remove(path: string): Promise<void> {
    await this.withClient((c) => this.removeWith(c, path));
  }

  private async removeWith(c: FtpClient, path: string): Promise<void> {
    try {
      await c.send(`DELE ${this.abs(path)}`);
      return;
    } catch (err) {
      if (!isPermanent(err)) throw err;
    }
    await c.cd(this.abs(path));
    const text = await c.rawList('LIST -la');
    const p = this.parse(text, path, this.listingFormat(), `listing ${path}`);
    for (const e of p.entries.filter((x) => parentOf(x.path) === path)) {
      if (e.kind === 'dir') await this.removeWith(c, e.path);
      else await c.send(`DELE ${this.abs(e.path)}`);
    }
    await c.cd(toWire(this.root));
    await c.send(`RMD ${this.abs(path)}`);
  }

  async close(): Promise<void> {
    this.pool.close();
  }
}

export async function openFtpTree(spec: string, opts: FtpOpenOptions = {}): Promise<Tree> {
  return FtpTree.open(spec, opts);
}
