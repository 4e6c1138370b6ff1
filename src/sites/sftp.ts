// sftp://[user@]host[:port]/path trees: any ssh server's SFTP subsystem, nothing of omirr
// installed there (for a host with omirr, ssh:// runs `omirr serve --stdio` instead). On
// the ssh2 package (its pure-JS crypto; no native build needed).
//
// Authentication: a key (the `identity` option, $OMIRR_SSH_IDENTITY, else the first of
// ~/.ssh/id_ed25519, id_ecdsa, id_rsa), ssh-agent ($SSH_AUTH_SOCK), or a password. The
// server's host key must be known, as `ssh -o BatchMode=yes` demands: in `knownHosts`
// ($OMIRR_SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts; plain or hashed names, `[host]:port`
// for other ports than 22), or pinned with `hostKeySha256`. An unknown key refuses the
// connection.
//
// scan reads directories (a few requests in flight on the one channel), times to the
// second; pack reads files into the engine's tar stream (./siteTar.ts) from an offset to
// resume. Politeness: one ssh connection and one SFTP channel.
//
// Writing (a sync's destination, mirror's upload mode): unpack stores each file under a
// temporary name in its directory (./siteUpload.ts: size and sha256 checked as it streams),
// sets its mode and time on the temporary, then renames it into place (OpenSSH's
// posix-rename, which replaces atomically; a server without it gets remove-then-rename,
// logged once). mkdir, symlink, setattr (mode, time, owner), remove (a directory emptied
// first, symlinks never followed), save and put as ops. SFTP (v3) holds times in whole
// seconds: written entries say so (mtimePrecisionMs), so a rerun compares equal.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { Client, type ConnectConfig, type FileEntryWithStats, type InputAttributes, type SFTPWrapper, type Stats } from 'ssh2';
import type { Entry } from '../core/entry.js';
import type { Expected, OpResult, PackOptions, PackRequest, ScanOptions, Tree, TreeOp, UnpackResult } from '../core/tree.js';
import { TEMP_PREFIX, assertSafeRelPath, baseOf, isTempName, parentOf } from '../engine/paths.js';
import { silentLogger, type Logger } from '../log.js';
import { hashByDownload, siteTarStream } from './siteTar.js';
import { assertSiteWritable, applyEach, putByUnpack, saveTarget, unpackToSite } from './siteUpload.js';

export interface SftpSiteOptions {
  /** Login name; default the URL's, else the local user's. */
  user?: string;
  password?: string;
  /** Private key file. */
  identity?: string;
  passphrase?: string;
  /** known_hosts file to check the server's key against. */
  knownHosts?: string;
  /** Accept exactly this host key: `SHA256:<base64>` as ssh-keygen -l prints it. */
  hostKeySha256?: string;
  /** Seconds to connect and for each request to answer; default 120. */
  timeoutSec?: number;
  /** Directory reads in flight at once on the channel; default 8. */
  readdirConcurrency?: number;
  /** Writes in flight at once per uploaded file; default 16. */
  writeConcurrency?: number;
}

export interface SftpOpenOptions {
  writable?: boolean;
  log?: Logger;
  sftp?: SftpSiteOptions;
}

export interface SftpUrl {
  user?: string;
  host: string;
  port: number;
  path: string;
}

export function parseSftpUrl(url: string): SftpUrl {
  const m = /^sftp:\/\/(?:([^@/:]+)(?::[^@/]*)?@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)?$/i.exec(url);
  if (!m) throw new Error(`bad sftp URL '${url}': expected sftp://[USER@]HOST[:PORT]/PATH`);
  const port = m[3] === undefined ? 22 : Number(m[3]);
  if (!(port >= 1 && port <= 65535)) throw new Error(`bad sftp URL '${url}': bad port`);
  const path = decodeURIComponent(m[4] ?? '/');
  if (path.includes('\0')) throw new Error(`bad sftp URL '${url}': NUL in path`);
  return { ...(m[1] ? { user: decodeURIComponent(m[1]) } : {}), host: m[2]!.replace(/^\[|\]$/g, ''), port, path: path === '/' ? '/' : path.replace(/\/+$/, '') };
}

/** Is `key` (the server's key blob) listed for host:port in this known_hosts text? */
export function knownHostsAccepts(text: string, host: string, port: number, key: Buffer): boolean {
  const name = port === 22 ? host : `[${host}]:${port}`;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]!.startsWith('@') ? fields.shift() : undefined;
    if (marker === '@revoked' || marker === '@cert-authority' || fields.length < 3) continue;
    const [hosts, , blob] = fields as [string, string, string];
    const matches = hosts.split(',').some((h) => {
      if (h.startsWith('|1|')) {
        const [, , salt, hash] = h.split('|');
        if (!salt || !hash) return false;
        return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
      }
      return h === name;
    });
    if (matches && Buffer.from(blob, 'base64').equals(key)) return true;
  }
  return false;
}

function kindOf(mode: number): Entry['kind'] | 'other' {
  const t = mode & 0o170000;
  return t === 0o100000 ? 'file' : t === 0o040000 ? 'dir' : t === 0o120000 ? 'symlink' : 'other';
}

/** SFTP (v3) times are whole seconds: the seconds to set for an entry's mtime. */
function sftpSeconds(mtimeMs: number): number {
  return Math.floor(mtimeMs / 1000);
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02): SSH_FX_NO_SUCH_FILE, SSH_FX_PERMISSION_DENIED. */
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

export class SftpTree implements Tree {
  readonly label: string;
  private readonly log: Logger;
  private listed = new Map<string, Entry>();
  private warnedRename = false;
  /**
   * Downloads being read, as their readers see them: ended with an error when the connection
   * goes (a paused one would wait forever). Our own stream in front of ssh2's: destroying
   * ssh2's read stream first sends CLOSE for its handle and finishes only when that is
   * answered, which on a dead connection is never, so its reader would hang.
   */
  private readonly reading = new Set<PassThrough>();
  /** Requests waiting for their answer: failed when the connection goes (their answers never come). */
  private readonly waiting = new Set<(err: Error) => void>();
  /** Why requests fail from now on: the connection ended under us, or our own close (undefined while up). */
  private lost?: Error;
  /** The connection's last error (ssh2's), what was seen when it went. */
  private lastError?: string;
  /** The connection ended under us (not by our close): why, for lostReason. */
  private gone?: string;

  private constructor(
    private readonly url: SftpUrl,
    private readonly client: Client,
    private readonly sftp: SFTPWrapper,
    private readonly site: SftpSiteOptions,
    log: Logger | undefined,
    readonly writable: boolean,
  ) {
    this.log = log ?? silentLogger;
    this.label = `sftp://${url.user ? url.user + '@' : ''}${url.host}${url.port === 22 ? '' : `:${url.port}`}${url.path}`;
    // the server gone mid-transfer (killed, the network dropped): a download waiting for its
    // next read never hears of it from the SFTP channel, so it is ended here, as failed
    client.on('error', (err: Error) => (this.lastError = err.message));
    client.on('close', () => {
      if (this.lost === undefined) this.gone = `connection lost${this.lastError ? ` (${this.lastError})` : ''}`;
      this.lost ??= new Error(`${this.label}: connection lost`);
      for (const rs of this.reading) rs.destroy(this.lost);
      for (const fail of this.waiting) fail(this.lost);
    });
  }

  static async open(spec: string, opts: SftpOpenOptions = {}): Promise<SftpTree> {
    const url = parseSftpUrl(spec);
    const site = opts.sftp ?? {};
    const user = site.user ?? url.user ?? userInfo().username;
    const config: ConnectConfig = {
      host: url.host,
      port: url.port,
      username: user,
      readyTimeout: (site.timeoutSec ?? 120) * 1000,
      hostVerifier: (key: Buffer) => SftpTree.verifyHost(url, site, key),
    };
    const identity = site.identity ?? process.env.OMIRR_SSH_IDENTITY ?? ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((k) => join(homedir(), '.ssh', k)).find((f) => existsSync(f));
    if (identity) config.privateKey = readFileSync(identity);
    if (site.passphrase !== undefined) config.passphrase = site.passphrase;
    if (site.password !== undefined) config.password = site.password;
    if (process.env.SSH_AUTH_SOCK) config.agent = process.env.SSH_AUTH_SOCK;
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', (err: Error & { level?: string }) => {
        if (err.level === 'client-authentication') err.name = 'SftpAuthRefusedError';
        else if (err.name === 'Error') err.name = 'SftpConnectError';
        reject(err);
      });
      client.connect(config);
    });
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
    client.on('error', () => {}); // later errors surface in the requests that fail
    const t = new SftpTree(url, client, sftp, site, opts.log, opts.writable === true);
    try {
      const st = await t.call<{ isDirectory(): boolean }>((cb) => sftp.stat(url.path, cb));
      if (!st.isDirectory()) throw new Error(`${t.label}: not a directory`);
    } catch (err) {
      client.end();
      throw err;
    }
    return t;
  }

  private static verifyHost(url: SftpUrl, site: SftpSiteOptions, key: Buffer): boolean {
    if (site.hostKeySha256 !== undefined) {
      return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}` === site.hostKeySha256;
    }
    const file = site.knownHosts ?? process.env.OMIRR_SSH_KNOWN_HOSTS ?? join(homedir(), '.ssh', 'known_hosts');
    if (!existsSync(file)) return false;
    return knownHostsAccepts(readFileSync(file, 'utf8'), url.host, url.port, key);
  }

  private call<T = void>(fn: (cb: (err: Error | undefined | null, v?: T) => void) => void): Promise<T> {
    const ms = (this.site.timeoutSec ?? 120) * 1000;
    if (this.lost) return Promise.reject(this.lost);
    return new Promise<T>((resolve, reject) => {
      const fail = (err: Error): void => {
        clearTimeout(timer);
        this.waiting.delete(fail);
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`${this.label}: no answer for ${ms / 1000} s`)), ms);
      this.waiting.add(fail);
      fn((err, v) => {
        clearTimeout(timer);
        this.waiting.delete(fail);
        if (err) reject(err);
        else resolve(v as T);
      });
    });
  }

  private abs(rel: string): string {
    if (rel === '') return this.url.path;
    return this.url.path === '/' ? `/${rel}` : `${this.url.path}/${rel}`;
  }

  async scan(opts: ScanOptions = {}): Promise<Entry[]> {
    const recursive = opts.recursive !== false;
    const start = opts.subtree ?? '';
    const out: Entry[] = [];
    const queue: string[] = [start];
    const width = Math.max(1, this.site.readdirConcurrency ?? 8);
    const readOne = async (dir: string): Promise<void> => {
      let list: FileEntryWithStats[];
      try {
        list = await this.call<FileEntryWithStats[]>((cb) => this.sftp.readdir(this.abs(dir), cb));
      } catch (err) {
        // a subdirectory the server will not list (permission denied, or gone meanwhile) is
        // unknown, not empty: the run fails by name, its local copy is not deleted
        // (PlanOptions.srcSkipped), the rest is listed. The root refused, or a lost
        // connection, fails the scan.
        const code = (err as { code?: unknown }).code;
        if (dir === start || (code !== SFTP_PERMISSION_DENIED && code !== SFTP_NO_SUCH_FILE)) throw err;
        this.log.warn({ site: this.label, path: dir, err: (err as Error).message }, 'directory not listed: its contents are not mirrored, nothing below it is deleted');
        opts.onSkipped?.({ path: dir, reason: `cannot be listed: ${(err as Error).message}`, unmirrorable: true });
        return;
      }
      for (const f of list) {
        const name = f.filename;
        if (name === '.' || name === '..' || name.includes('/') || name.includes('\0') || isTempName(name)) continue;
        const path = dir === '' ? name : `${dir}/${name}`;
        // The SFTP client reads names as UTF-8 text: a name that is not (an old Latin-1 one)
        // comes with U+FFFD for its bytes and cannot be asked for again. It is left out,
        // loudly, and its local copy is shielded from deletion (PlanOptions.srcSkipped).
        if (name.includes('\ufffd')) {
          this.log.warn({ site: this.label, path }, 'name is not UTF-8 (the SFTP client reads names as UTF-8 text): not mirrored');
          opts.onSkipped?.({ path, reason: 'name is not UTF-8: the SFTP client cannot read its bytes', unmirrorable: true });
          continue;
        }
        const kind = kindOf(f.attrs.mode);
        if (kind === 'other') {
          this.log.warn({ site: this.label, path }, 'not a file, directory or symlink: not mirrored');
          opts.onSkipped?.({ path, reason: 'not a file, directory or symlink' });
          continue;
        }
        const e: Entry = { path, kind, size: kind === 'file' ? f.attrs.size : 0, mtimeMs: f.attrs.mtime * 1000, mtimePrecisionMs: 1000, mode: f.attrs.mode & 0o7777 };
        if (kind === 'symlink') e.target = await this.call<string>((cb) => this.sftp.readlink(this.abs(path), cb));
        out.push(e);
        if (kind === 'dir' && recursive) queue.push(path);
      }
    };
    // breadth first, a few directories in flight on the one channel
    while (queue.length > 0) await Promise.all(queue.splice(0, width).map(readOne));
    this.listed = new Map(out.map((e) => [e.path, e]));
    return out;
  }

  async hashFiles(paths: string[]): Promise<Map<string, string>> {
    for (const p of paths) assertSafeRelPath(p);
    return hashByDownload(paths, async (p) => this.open(p, 0));
  }

  private async open(path: string, offset: number): Promise<Readable> {
    // open first, so a missing or unreadable file is refused here rather than mid-stream
    const handle = await this.call<Buffer>((cb) => this.sftp.open(this.abs(path), 'r', cb));
    const rs = this.sftp.createReadStream(this.abs(path), { handle, start: offset, highWaterMark: 256 << 10 }) as unknown as Readable;
    const out = new PassThrough({ highWaterMark: 256 << 10 });
    // the reader sees errors through its iterator; this catches the late one of a stream
    // already read (its handle's close answered by a connection closing)
    out.on('error', () => {});
    rs.on('error', (err) => out.destroy(err));
    rs.pipe(out);
    if (this.lost) out.destroy(this.lost);
    this.reading.add(out);
    out.once('close', () => {
      this.reading.delete(out);
      // a reader that stopped early: ssh2's stream closes the handle (in the background,
      // where a dead connection leaves it pending and nobody waits for it)
      if (!rs.readableEnded) rs.destroy();
    });
    return out;
  }

  pack(files: PackRequest[], opts: PackOptions = {}): Readable {
    for (const f of files) assertSafeRelPath(f.path);
    return siteTarStream(files, { label: this.label, log: this.log, listed: (p) => this.listed.get(p), open: (p, off) => this.open(p, off) }, opts);
  }

  async resumeOffsets(): Promise<Map<string, number>> {
    return new Map();
  }

  // ---- writing ----

  async unpack(tar: Readable, expect: Expected[]): Promise<UnpackResult> {
    assertSiteWritable(this, 'unpack');
    return unpackToSite(tar, expect, {
      noResume: 'resumed uploads are not supported over sftp',
      store: (tmp, body, exp) => this.store(tmp, body, exp),
      commit: async (tmp, exp) => {
        await this.call((cb) => this.sftp.setstat(this.abs(tmp), this.attrs(exp.mode, exp.mtimeMs), cb));
        await this.renameIntoPlace(tmp, exp.path);
      },
      discard: async (tmp) => {
        await this.call((cb) => this.sftp.unlink(this.abs(tmp), cb)).catch(() => {});
      },
    });
  }

  /** SETSTAT attributes: permission bits, and the time (to the second) as atime and mtime. */
  private attrs(mode: number | undefined, mtimeMs: number | undefined): InputAttributes {
    const a: InputAttributes = {};
    if (mode !== undefined) a.mode = mode & 0o7777;
    if (mtimeMs !== undefined) a.atime = a.mtime = sftpSeconds(mtimeMs);
    return a;
  }

  /** Write `body` to a new file `rel` (truncating a stale temporary), a few writes in flight. */
  private async store(rel: string, body: Readable, exp: Expected): Promise<void> {
    const path = this.abs(rel);
    const handle = await this.call<Buffer>((cb) => this.sftp.open(path, 'w', { mode: exp.mode & 0o7777 }, cb));
    let failure: Error | undefined;
    try {
      const width = Math.max(1, this.site.writeConcurrency ?? 16);
      const inFlight = new Set<Promise<void>>();
      let pos = 0;
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (failure) throw failure;
        const at = pos;
        pos += chunk.length;
        const w: Promise<void> = this.call<unknown>((cb) => this.sftp.write(handle, chunk, 0, chunk.length, at, cb)).then(
          () => void inFlight.delete(w),
          (err: Error) => {
            failure ??= err;
            inFlight.delete(w);
          },
        );
        inFlight.add(w);
        if (inFlight.size >= width) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      if (failure) throw failure;
    } finally {
      await this.call((cb) => this.sftp.close(handle, cb)).catch((err: Error) => {
        failure ??= err;
      });
    }
    if (failure) throw failure;
  }

  /** rename(2) semantics where the server offers posix-rename; else remove the target first. */
  private async renameIntoPlace(from: string, to: string): Promise<void> {
    const a = this.abs(from);
    const b = this.abs(to);
    try {
      await this.call((cb) => this.sftp.ext_openssh_rename(a, b, cb));
      return;
    } catch (err) {
      if (!/does not support/.test((err as Error).message)) throw err;
    }
    if (!this.warnedRename) {
      this.warnedRename = true;
      this.log.warn({ site: this.label }, 'the server has no posix-rename: a replaced file is removed, then the new one renamed into place (not atomic)');
    }
    const old = await this.lstatOrUndefined(to);
    if (old !== undefined && !old.isDirectory()) await this.call((cb) => this.sftp.unlink(b, cb));
    await this.call((cb) => this.sftp.rename(a, b, cb));
  }

  private async lstatOrUndefined(rel: string): Promise<Stats | undefined> {
    try {
      return await this.call<Stats>((cb) => this.sftp.lstat(this.abs(rel), cb));
    } catch (err) {
      if ((err as { code?: number }).code === 2) return undefined; // SSH_FX_NO_SUCH_FILE
      throw err;
    }
  }

  async apply(ops: TreeOp[]): Promise<OpResult[]> {
    assertSiteWritable(this, 'apply');
    return applyEach(ops, (op) => this.applyOne(op));
  }

  private async applyOne(op: TreeOp): Promise<void> {
    const path = this.abs(op.path);
    switch (op.op) {
      case 'mkdir': {
        try {
          await this.call((cb) => this.sftp.mkdir(path, { mode: op.mode & 0o7777 }, cb));
        } catch (err) {
          // already there as a directory is fine (a rerun, a parent made for a save)
          if (!(await this.lstatOrUndefined(op.path))?.isDirectory()) throw err;
        }
        // the server's umask applied to mkdir's mode: set it exactly
        await this.call((cb) => this.sftp.setstat(path, this.attrs(op.mode, op.mtimeMs), cb));
        return;
      }
      case 'setattr': {
        const a = this.attrs(op.mode, op.mtimeMs);
        // SETSTAT follows symlinks (out of the tree, maybe): a link's own attributes only
        // with OpenSSH's lsetstat, and a link has no mode of its own
        const st = await this.call<Stats>((cb) => this.sftp.lstat(path, cb));
        if (op.uid !== undefined || op.gid !== undefined) {
          // SFTP sets owner and group together: keep the one not given
          a.uid = op.uid ?? st.uid;
          a.gid = op.gid ?? st.gid;
        }
        if (!st.isSymbolicLink()) await this.call((cb) => this.sftp.setstat(path, a, cb));
        else {
          delete a.mode;
          await this.call((cb) => this.sftp.ext_openssh_lsetstat(path, a, cb));
        }
        return;
      }
      case 'symlink': {
        // made beside it and renamed over: a reader sees the old entry or the new link
        const tmp = `${parentOf(op.path) ? parentOf(op.path) + '/' : ''}${TEMP_PREFIX}${baseOf(op.path).slice(0, 200)}.l${randomBytes(6).toString('hex')}`;
        if ((await this.lstatOrUndefined(op.path))?.isDirectory()) throw new Error('a directory is in the way of the symlink');
        await this.call((cb) => this.sftp.symlink(op.target, this.abs(tmp), cb));
        try {
          await this.renameIntoPlace(tmp, op.path);
        } catch (err) {
          await this.call((cb) => this.sftp.unlink(this.abs(tmp), cb)).catch(() => {});
          throw err;
        }
        return;
      }
      case 'remove':
        return this.remove(op.path);
      case 'save': {
        const to = await saveTarget(op, (path) => this.applyOne({ op: 'mkdir', path, mode: 0o755 }));
        await this.renameIntoPlace(op.path, to);
        return;
      }
      case 'put':
        return putByUnpack(this.label, op, (tar, expect) => this.unpack(tar, expect));
    }
  }

  /** Unlink a file or symlink; a directory is emptied (never through a symlink) and removed. */
  private async remove(rel: string): Promise<void> {
    const st = await this.lstatOrUndefined(rel);
    if (st === undefined) return;
    if (!st.isDirectory()) {
      await this.call((cb) => this.sftp.unlink(this.abs(rel), cb));
      return;
    }
    const list = await this.call<FileEntryWithStats[]>((cb) => this.sftp.readdir(this.abs(rel), cb));
    for (const f of list) {
      if (f.filename === '.' || f.filename === '..' || f.filename.includes('/')) continue;
      await this.remove(`${rel}/${f.filename}`);
    }
    await this.call((cb) => this.sftp.rmdir(this.abs(rel), cb));
  }

  /** The server gone mid-run (killed, the network dropped): said once by the caller (runMirror.ts's lostSite), not per file. */
  async lostReason(): Promise<string | undefined> {
    return this.gone;
  }

  async close(): Promise<void> {
    this.lost ??= new Error(`${this.label}: closed`);
    this.client.end();
  }
}

export async function openSftpTree(spec: string, opts: SftpOpenOptions = {}): Promise<Tree> {
  return SftpTree.open(spec, opts);
}
