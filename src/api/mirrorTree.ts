// `mirrorTree(src, dst)`: what `omirr sync SRC DST` does, as one call. Opens both ends from
// their specs (a path, omirr://host:port/tree, ssh://[user@]host[:port]/path or a site URL: docs/sites.md), runs
// syncTrees, and always closes both ends, so a program cannot leak a connection or an ssh
// child when the sync throws. The worker pools stay up for the next call: a program that is
// finished calls closePools() (the CLI does, so the process can exit at once).
import { realpathSync } from 'node:fs';
import type { ScanSkip, Tree } from '../core/tree.js';
import { compileExcludes } from '../engine/exclude.js';
import { isRemoteSpec, openTree } from '../engine/openTree.js';
import { LocalTree, SMALL_UNPACK_FILES } from '../engine/localTree.js';
import { walksWhenTaken } from '../engine/localScan.js';
import '../sites/register.js';
import type { FtpSiteOptions } from '../sites/ftp.js';
import type { HttpSiteOptions } from '../sites/http.js';
import type { SftpSiteOptions } from '../sites/sftp.js';
import { syncTrees, type SyncOptions, type SyncTreesResult } from '../engine/syncTrees.js';
import type { Progress } from '../engine/executePlan.js';
import { lostConnection } from '../net/remoteTree.js';
import type { OmirrConfig } from '../core/config.js';
import type { OmirrMetrics } from '../inspect/omirrMetrics.js';

/** How to authenticate with omirr:// ends (see ConnectOptions); ignored for local paths. */
export interface RemoteAuthOptions {
  /** An omirr.conf (path or parsed object): our key, the server's pin, the shared secret. */
  config?: string | OmirrConfig;
  /** Our key file. */
  key?: string;
  /** Accepted server key fingerprint(s). */
  pin?: string | string[];
  secret?: string | Buffer;
  secretFile?: string;
  timeoutMs?: number;
  /** Our node name, told to the server (a daemon serves a tree to the peers it names). */
  node?: string;
  /** ssh:// ends: the ssh command and its options, split on spaces (rsync's -e; default $OMIRR_RSH or `ssh`). */
  rsh?: string;
  /** ssh:// ends: the omirr command on the remote host (rsync's --rsync-path; default $OMIRR_REMOTE_COMMAND or `omirr`). */
  remoteCommand?: string;
  /** ftp:// and ftps:// ends: login, listing and politeness options (docs/sites.md). */
  ftp?: FtpSiteOptions;
  /** http(s):// ends (docs/sites.md). */
  http?: HttpSiteOptions;
  /** sftp:// ends: keys, known hosts (docs/sites.md). */
  sftp?: SftpSiteOptions;
}

export interface MirrorTreeOptions extends Omit<SyncOptions, 'exclude'>, RemoteAuthOptions {
  /** rsync-style patterns (as `--exclude`), or a predicate over (path, kind). */
  exclude?: string[] | SyncOptions['exclude'];
  /** Create a missing local destination directory (default true, as `omirr sync`). */
  create?: boolean;
  /**
   * Count what moved: `omirr_files_sent_total` and `omirr_bytes_sent_total`, labelled with
   * the destination (peer = its label). `inspect` (from SyncOptions) shows the session live.
   */
  metrics?: OmirrMetrics;
}

export interface MirrorTreeResult extends SyncTreesResult {
  /** The two ends as opened (e.g. `omirr://127.0.0.1:7878/www`). */
  src: string;
  dst: string;
  /** No entry failed and no delete was refused. */
  ok: boolean;
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);

/** Did this error come from reaching or authenticating with the other end (exit code 3)? */
export function isConnectError(err: unknown): boolean {
  const e = err as { code?: string; name?: string } | null | undefined;
  return CONNECT_CODES.has(e?.code ?? '') || /Connect|Handshake|Auth|Refused/i.test(e?.name ?? '');
}

/**
 * A sync that failed because a remote end's connection died: the error names that end, what
 * was seen (ssh's exit status and stderr tail over ssh://) and how far the sync had got, as
 * rsync's "connection unexpectedly closed" (lostConnection). Any other error is left as it is.
 */
async function explainLost(err: unknown, trees: Array<Tree | undefined>, last: Progress | undefined): Promise<unknown> {
  // (err undefined: only asking whether an end was lost; undefined back when none was)
  const sent = (): string => (last && last.filesTotal > 0 ? `${last.filesDone} of ${last.filesTotal} files sent by then` : `no file sent yet (${last?.phase ?? 'opening'})`);
  return (await lostConnection(trees, sent, err)) ?? err;
}

/**
 * `sync --delete SRC DST` with SRC inside DST would delete SRC itself (DST's entry for it is
 * not in SRC's listing) while reading it: refused before anything is touched. (A DST inside
 * SRC only nests a copy, as rsync does.)
 */
function refuseSourceInsideDestination(srcRoot: string, dstRoot: string): void {
  let s: string;
  let d: string;
  try {
    s = realpathSync(srcRoot);
    d = realpathSync(dstRoot);
  } catch {
    return; // a destination not made yet holds nothing
  }
  if (s.startsWith(d === '/' ? '/' : `${d}/`)) {
    throw new Error(`the source ${srcRoot} lies inside the destination ${dstRoot}: --delete would delete the source; nothing done`);
  }
}

export async function mirrorTree(srcSpec: string, dstSpec: string, opts: MirrorTreeOptions = {}): Promise<MirrorTreeResult> {
  const { config, key, pin, secret, secretFile, timeoutMs, node, rsh, remoteCommand, ftp, http, sftp, exclude, create, metrics, ...sync } = opts;
  const remote = {
    ...(config !== undefined ? { config } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(pin !== undefined ? { pin } : {}),
    ...(secret !== undefined ? { secret } : {}),
    ...(secretFile !== undefined ? { secretFile } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(node !== undefined ? { node } : {}),
    ...(rsh !== undefined ? { rsh } : {}),
    ...(remoteCommand !== undefined ? { remoteCommand } : {}),
    ...(ftp !== undefined ? { ftp } : {}),
    ...(http !== undefined ? { http } : {}),
    ...(sftp !== undefined ? { sftp } : {}),
    ...(sync.log ? { log: sync.log } : {}),
  };
  const dryRun = sync.dryRun === true;
  const predicate = Array.isArray(exclude) ? compileExcludes(exclude) : exclude;
  let src: Tree | undefined;
  let dst: Tree | undefined;
  try {
    src = await openTree(srcSpec, { ...remote, writable: false });
    // The source's listing starts now: a local scan runs while the destination's ssh or TLS
    // connection is made (for a small ssh:// push, the two were a third of the time). Not
    // one that walks on this thread when taken (`omirr sync`'s local end against a remote
    // one, engine/localScan.ts prescanWhenTaken): it would hold back the connection's
    // handshake; syncTrees takes it right after asking the other end for its scan.
    // Nor a remote source whose destination is local: syncTrees compares its listing with the
    // local one as it arrives (Tree.scanLike), with a scan request of its own; one started here
    // was a second whole scan of the far tree, decoded in full and then dropped (a 1 % pull of
    // 20,000 files over omirr:// listed the far tree twice: ~0.45 s of its 1.2 s).
    const srcSkips: ScanSkip[] = [];
    const likeLater = !(src instanceof LocalTree) && src.scanLike !== undefined && !isRemoteSpec(dstSpec);
    const srcScan =
      (src instanceof LocalTree && walksWhenTaken(src.root)) || likeLater ? undefined : { entries: src.scan({ onSkipped: (s) => srcSkips.push(s) }), skipped: srcSkips };
    srcScan?.entries.catch(() => undefined); // a failure is reported where syncTrees awaits it
    // A dry run never writes: it does not open the destination for writing, and a missing
    // destination scans as empty (LocalTree creates it on the first write, never on a scan).
    // A local destination of a remote source writes a small transfer (a rerun's few changed
    // files) in the io thread warmed for it when the listings were found to differ
    // (syncTrees), as `omirr serve` does: an extract thread booted after the plan cost 50-100
    // ms of CPU, on the transfer's critical path, to write a few files. A big one still runs
    // in the extract pool.
    const small = src instanceof LocalTree || isRemoteSpec(dstSpec) ? {} : { smallUnpackFiles: SMALL_UNPACK_FILES };
    dst = await openTree(dstSpec, { ...remote, writable: !dryRun, create: create ?? true, ...small });
    if (sync.delete && src instanceof LocalTree && dst instanceof LocalTree) refuseSourceInsideDestination(src.root, dst.root);
    let last: Progress | undefined;
    const onProgress = (p: Progress): void => {
      last = p;
      sync.onProgress?.(p);
    };
    const r = await syncTrees(src, dst, { ...sync, onProgress, ...(srcScan ? { srcScan } : {}), ...(predicate ? { exclude: predicate } : {}) }).catch(
      async (err: unknown) => {
        throw await explainLost(err, [src, dst], last);
      },
    );
    // a source lost mid-pull ends its streams early: the files it did not send failed, and
    // the lost connection is the error to report
    if (r.failed.length > 0) {
      const lost = await explainLost(undefined, [src, dst], last);
      if (lost) throw lost;
    }
    // An empty source sends nothing, but `sync SRC DST` still leaves DST a directory (as rsync).
    if (!dryRun && dst instanceof LocalTree) await dst.ensureRoot();
    if (metrics && !r.dryRun) {
      metrics.filesSent.inc({ peer: dst.label }, r.filesSent);
      metrics.bytesSent.inc({ peer: dst.label }, r.bytesSent);
    }
    return { ...r, src: src.label, dst: dst.label, ok: r.failed.length === 0 && !r.deletesRefused };
  } finally {
    await Promise.allSettled([src?.close(), dst?.close()]);
  }
}
