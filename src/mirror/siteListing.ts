// A mirror package's site, opened (within `timeout`) and listed: runMirror.ts's first step
// with the site, and what earlySite.ts starts before the command's modules have loaded.
// Light on purpose (no engine, no worker pool): it is imported that early.
import type { Entry } from '../core/entry.js';
import type { ScanSkip, Tree } from '../core/tree.js';
import type { MirrorJob } from '../core/mirrorPackage.js';
import { openTree } from '../engine/openTree.js';
import '../sites/register.js';
import type { Logger } from '../log.js';
import { mark } from '../engine/timing.js';

/**
 * The site listed (with what its listing found and left out: `skipped`), or why not: 2 it
 * could not be reached, 1 its listing failed (mirror's exit codes).
 */
export type SiteListing = { tree: Tree; entries: Entry[]; skipped: ScanSkip[] } | { tree?: Tree; failure: [1 | 2, string] };

export interface SiteConnectOptions {
  /** How to authenticate omirr:// sites (RunMirrorOptions.connect). */
  connect?: Record<string, unknown>;
  signal?: AbortSignal;
}

/** Open the site (within `timeout`) and list it, exclude_patt applied path by path as mirror's listing parse does. */
export async function openAndList(
  job: MirrorJob,
  source: string,
  writable: boolean,
  opts: SiteConnectOptions,
  log: Logger,
): Promise<SiteListing> {
  let tree: Tree;
  try {
    tree = await withTimeout(
      // (a local site: walked on this thread when small, openTree's smallHere)
      (signal) => openTree(source, { ...opts.connect, ...(job.ftp ? { ftp: job.ftp } : {}), writable, log, signal, timeoutMs: job.timeoutSec * 1000, smallHere: true }),
      job.timeoutSec,
      `connecting to ${source}`,
      opts.signal,
    );
  } catch (err) {
    return { failure: [2, `cannot open ${source}: ${(err as Error).message}`] };
  }
  try {
    mark('site open');
    const found: ScanSkip[] = [];
    const entries = await tree.scan({ recursive: job.recursive, onSkipped: (s) => found.push(s) });
    mark('site listed');
    const excluded = job.remoteExclude;
    return {
      tree,
      entries: excluded ? filterRemote(entries, excluded) : entries,
      skipped: excluded ? found.filter((s) => !excluded(s.path)) : found,
    };
  } catch (err) {
    // the connection dropped during the listing: said as a site lost later is (runMirror.ts's
    // lostSite), with ssh's exit status and stderr tail; loaded only here, off the early path
    const { lostConnection } = await import('../net/remoteTree.js');
    const lost = await lostConnection([tree], () => 'while listing the site, before any file was got', err);
    return { tree, failure: [1, lost ? lost.message : `listing ${source} failed: ${(err as Error).message}`] };
  }
}

async function withTimeout<T>(
  start: (signal: AbortSignal) => Promise<T>,
  seconds: number,
  what: string,
  outer?: AbortSignal,
): Promise<T> {
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    const p = start(ac.signal);
    if (!(seconds > 0)) return await p;
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort(new Error(`timeout after ${seconds} s ${what}`));
        reject(new Error(`timeout after ${seconds} s ${what}`));
      }, seconds * 1000);
    });
    return await Promise.race([p, t]);
  } finally {
    if (timer) clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
  }
}

/**
 * exclude_patt on the remote listing: each path tested on its own (mirror's recursive
 * listing gives every path, and each is matched). A directory that is excluded but holds
 * paths that are not stays, as mirror makes it to hold them.
 */
function filterRemote(entries: Entry[], excluded: (path: string) => boolean): Entry[] {
  const kept = entries.filter((e) => !excluded(e.path));
  const needed = new Set<string>();
  for (const e of kept) {
    for (let i = e.path.lastIndexOf('/'); i > 0; i = e.path.lastIndexOf('/', i - 1)) needed.add(e.path.slice(0, i));
  }
  return entries.filter((e) => !excluded(e.path) || (e.kind === 'dir' && needed.has(e.path)));
}
