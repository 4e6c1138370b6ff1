// http:// and https:// trees: a directory is its index page (nginx autoindex, Apache
// mod_autoindex: src/core/indexPage.ts), read-only, on node's http/https. The URL names a
// directory (a trailing slash is added).
//
// scan walks the index pages breadth first; sizes and times come from the listing, and from
// a HEAD request where the page rounds sizes (Apache's 1.2K) or prints no time (or always,
// with `head: 'always'`: Content-Length, and Last-Modified to the second). pack GETs the
// files into the engine's tar stream (./siteTar.ts); a partial large file resumes with
// `Range`, made conditional with `If-Range` on the validator HEAD gave, so a file changed
// since is sent whole instead of spliced. A page that cannot be read or parsed fails the
// scan (an unreadable directory must not look empty to a mirror that deletes).
//
// Politeness: `connections` sockets at most to the site (keep-alive; default 1).
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable, Transform } from 'node:stream';
import type { Entry } from '../core/entry.js';
import { looksLikeListing, parseIndexPage } from '../core/indexPage.js';
import { percentEncodeName } from '../core/names.js';
import type { Expected, OpResult, PackOptions, PackRequest, ScanOptions, Tree, TreeOp, UnpackResult } from '../core/tree.js';
import { assertSafeRelPath } from '../engine/paths.js';
import { silentLogger, type Logger } from '../log.js';
import { hashByDownload, siteTarStream } from './siteTar.js';
import { inSubtree } from './subtree.js';

export interface HttpSiteOptions {
  /** Sockets at most to the site (politeness); default 1. */
  connections?: number;
  /** Seconds a response may stall; default 120. */
  timeoutSec?: number;
  /** HEAD each file: `auto` (default) where the page rounds sizes or shows no time; `always`; `never`. */
  head?: 'auto' | 'always' | 'never';
  /** Minutes east of UTC of the times on index pages; default 0 (nginx prints UTC). */
  tzOffsetMin?: number;
  /** Basic authentication (default: the URL's user and password). */
  user?: string;
  password?: string;
  /** https: PEM certificate(s) to trust besides the system's. */
  ca?: string | Buffer;
  /** https: verify the server's certificate (default true). */
  rejectUnauthorized?: boolean;
}

export interface HttpOpenOptions {
  writable?: boolean;
  log?: Logger;
  http?: HttpSiteOptions;
}

interface Listed extends Entry {
  mtimePrecisionMs?: number;
  /** ETag or Last-Modified from HEAD, for If-Range. */
  validator?: string;
}

const MAX_REDIRECTS = 5;
const MAX_PAGE_BYTES = 64 << 20;

export class HttpTree implements Tree {
  readonly label: string;
  readonly writable = false;
  private readonly base: URL;
  private readonly log: Logger;
  private readonly site: HttpSiteOptions;
  private readonly agent: HttpAgent;
  private readonly auth: string | undefined;
  private listed = new Map<string, Listed>();

  constructor(spec: string, opts: HttpOpenOptions = {}) {
    if (opts.writable) throw new Error(`${spec}: http(s) sites are read-only`);
    const u = new URL(spec);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${spec}: not an http(s) URL`);
    this.site = opts.http ?? {};
    const user = this.site.user ?? decodeURIComponent(u.username);
    const password = this.site.password ?? decodeURIComponent(u.password);
    this.auth = user ? 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') : undefined;
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    if (!u.pathname.endsWith('/')) u.pathname += '/';
    this.base = u;
    this.label = u.href;
    this.log = opts.log ?? silentLogger;
    const maxSockets = Math.max(1, Math.floor(this.site.connections ?? 1));
    this.agent =
      u.protocol === 'https:'
        ? new HttpsAgent({
            keepAlive: true,
            maxSockets,
            ...(this.site.ca !== undefined ? { ca: this.site.ca } : {}),
            ...(this.site.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
          })
        : new HttpAgent({ keepAlive: true, maxSockets });
  }

  /** The URL of a tree path (`dir` adds the slash of a directory). */
  private urlOf(path: string, dir = false): URL {
    const rel = path === '' ? '' : path.split('/').map(percentEncodeName).join('/') + (dir ? '/' : '');
    return new URL(rel, this.base);
  }

  /** One request, following same-site redirects; the response's body is left unread. */
  private request(method: 'GET' | 'HEAD', url: URL, headers: Record<string, string> = {}): Promise<IncomingMessage> {
    return new Promise<IncomingMessage>((resolve, reject) => {
      const go = (u: URL, left: number): void => {
        const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
        const req = send(u, { method, agent: this.agent, headers: { ...headers, ...(this.auth ? { authorization: this.auth } : {}), 'user-agent': 'omirr' } }, (res) => {
          const loc = res.headers.location;
          if (res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 && loc) {
            res.resume();
            const next = new URL(loc, u);
            if (left <= 0) return reject(new Error(`${u.href}: too many redirects`));
            if (next.origin !== this.base.origin) return reject(new Error(`${u.href}: redirected off the site to ${next.origin}`));
            return go(next, left - 1);
          }
          resolve(res);
        });
        req.setTimeout((this.site.timeoutSec ?? 120) * 1000, () => req.destroy(new Error(`${u.href}: no answer for ${this.site.timeoutSec ?? 120} s`)));
        req.on('error', (err) => {
          if (err.name === 'Error') err.name = 'HttpConnectError';
          reject(err);
        });
        req.end();
      };
      go(url, MAX_REDIRECTS);
    });
  }

  /** Fail on anything but `ok` statuses (the body is drained). */
  private static check(res: IncomingMessage, url: URL, ok: number[]): void {
    if (!ok.includes(res.statusCode ?? 0)) {
      res.resume();
      throw new Error(`${url.href}: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
    }
  }

  /** The first request proves the site: its top index page must be readable. */
  static async open(spec: string, opts: HttpOpenOptions = {}): Promise<HttpTree> {
    const t = new HttpTree(spec, opts);
    const res = await t.request('HEAD', t.base);
    res.resume();
    if (res.statusCode === 401 || res.statusCode === 403) {
      const e = new Error(`${t.label}: HTTP ${res.statusCode}: access refused`);
      e.name = 'HttpAuthRefusedError';
      throw e;
    }
    HttpTree.check(res, t.base, [200]);
    return t;
  }

  private async page(dir: string): Promise<string> {
    const url = this.urlOf(dir, true);
    const res = await this.request('GET', url);
    HttpTree.check(res, url, [200]);
    const type = String(res.headers['content-type'] ?? '');
    if (!/html/i.test(type)) {
      res.resume();
      throw new Error(`${url.href}: not an index page (${type || 'no content type'})`);
    }
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > MAX_PAGE_BYTES) {
        res.destroy();
        throw new Error(`${url.href}: index page larger than ${MAX_PAGE_BYTES} bytes`);
      }
      chunks.push(c);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async scan(opts: ScanOptions = {}): Promise<Entry[]> {
    const recursive = opts.recursive !== false;
    const out: Listed[] = [];
    const toHead: Listed[] = [];
    const mode = this.site.head ?? 'auto';
    const queue = [''];
    while (queue.length > 0) {
      const dir = queue.shift()!;
      const html = await this.page(dir);
      const links = parseIndexPage(html, { tzOffsetMin: this.site.tzOffsetMin ?? 0 });
      if (links.length === 0 && !looksLikeListing(html)) {
        throw new Error(`${this.urlOf(dir, true).href}: not a directory listing (no entries, no "Index of" heading, no parent link): refusing to take it as an empty directory`);
      }
      for (const l of links) {
        const path = dir === '' ? l.name : `${dir}/${l.name}`;
        const e: Listed = {
          path,
          kind: l.dir ? 'dir' : 'file',
          size: l.dir ? 0 : (l.size ?? 0),
          mtimeMs: l.mtimeMs ?? 0,
          mode: l.dir ? 0o755 : 0o644,
          ...(l.mtimePrecisionMs !== undefined ? { mtimePrecisionMs: l.mtimePrecisionMs } : {}),
        };
        out.push(e);
        if (l.dir) {
          if (recursive) queue.push(path);
        } else if (mode === 'always' || (mode === 'auto' && (l.size === undefined || l.mtimeMs === undefined))) toHead.push(e);
      }
    }
    if (mode === 'never' && out.some((e) => e.kind === 'file' && e.size === 0)) {
      this.log.warn({ site: this.label }, 'some sizes are unknown (head=never): they count as 0 until fetched');
    }
    await Promise.all(toHead.map((e) => this.head(e)));
    const entries = inSubtree(out, opts.subtree, recursive);
    this.listed = new Map(entries.map((e) => [e.path, e]));
    return entries;
  }

  /** Size and time from HEAD: Content-Length, Last-Modified (to the second), the validator for If-Range. */
  private async head(e: Listed): Promise<void> {
    const url = this.urlOf(e.path);
    const res = await this.request('HEAD', url);
    res.resume();
    HttpTree.check(res, url, [200]);
    const len = Number(res.headers['content-length']);
    if (!Number.isSafeInteger(len) || len < 0) throw new Error(`${url.href}: no Content-Length: cannot tell the size`);
    e.size = len;
    const lm = Date.parse(String(res.headers['last-modified'] ?? ''));
    if (Number.isFinite(lm)) {
      e.mtimeMs = lm;
      e.mtimePrecisionMs = 1000;
    }
    const validator = res.headers.etag ?? res.headers['last-modified'];
    if (validator && !String(validator).startsWith('W/')) e.validator = String(validator);
  }

  async hashFiles(paths: string[]): Promise<Map<string, string>> {
    return hashByDownload(paths, (p) => this.download(p, 0));
  }

  pack(files: PackRequest[], opts: PackOptions = {}): Readable {
    for (const f of files) assertSafeRelPath(f.path);
    return siteTarStream(files, { label: this.label, log: this.log, listed: (p) => this.listed.get(p), open: (p, off) => this.download(p, off) }, opts);
  }

  /** GET, with Range (If-Range when a validator is known) to resume. */
  private async download(path: string, offset: number): Promise<Readable> {
    const url = this.urlOf(path);
    const validator = this.listed.get(path)?.validator;
    const headers: Record<string, string> =
      offset > 0 ? { range: `bytes=${offset}-`, ...(validator ? { 'if-range': validator } : {}) } : {};
    const res = await this.request('GET', url, headers);
    HttpTree.check(res, url, offset > 0 ? [200, 206] : [200]);
    if (offset > 0 && res.statusCode === 200) {
      if (validator) {
        // If-Range did not match: the file changed since it was listed; never splice
        res.resume();
        throw new Error(`${url.href}: changed since listed (If-Range did not match)`);
      }
      // the server ignores Range: the whole file came, its first bytes are not wanted
      this.log.info({ site: this.label, path }, 'server sent the whole file: skipping the part already here');
      return res.pipe(skipBytes(offset));
    }
    return res;
  }

  async resumeOffsets(): Promise<Map<string, number>> {
    return new Map();
  }

  async unpack(_tar: Readable, _expect: Expected[]): Promise<UnpackResult> {
    throw new Error(`${this.label}: http(s) sites are read-only`);
  }

  async apply(_ops: TreeOp[]): Promise<OpResult[]> {
    throw new Error(`${this.label}: http(s) sites are read-only`);
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

function skipBytes(n: number): Transform {
  let left = n;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (left >= chunk.length) {
        left -= chunk.length;
        return cb();
      }
      const rest = chunk.subarray(left);
      left = 0;
      cb(null, rest);
    },
  });
}

export async function openHttpTree(spec: string, opts: HttpOpenOptions = {}): Promise<Tree> {
  return HttpTree.open(spec, opts);
}
