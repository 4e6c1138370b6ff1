// Opens either end of a sync from its spec: a local path, or `scheme://...` through the
// opener registered for that scheme (./openers.ts; the built-in ones — omirr://, ssh://,
// ftp://, ftps://, http://, https://, sftp:// — register in src/sites/register.ts). Drivers
// load on demand, so a local-only sync never loads TLS, ssh or FTP code.
import type { Tree } from '../core/tree.js';
import { warmPools } from '../workers/pool.js';
import { resolve } from 'node:path';
import { LocalTree } from './localTree.js';
import { ioThreadsToWarm, scannedSmall } from './localScan.js';
import { openerLoader, registeredSchemes, schemeOf, type OpenTreeOptions } from './openers.js';
import { mark } from './timing.js';

export type { OpenTreeOptions } from './openers.js';

/** A `scheme://` spec (a remote tree), as opposed to a local path. */
export function isRemoteSpec(spec: string): boolean {
  return schemeOf(spec) !== undefined;
}

export async function openTree(spec: string, opts: OpenTreeOptions = {}): Promise<Tree> {
  mark(`openTree ${spec.slice(0, 40)}`);
  const scheme = schemeOf(spec);
  if (scheme !== undefined) {
    const load = openerLoader(scheme);
    if (!load) {
      const known = registeredSchemes().map((s) => `${s}://`);
      throw new Error(`${spec}: unsupported URL scheme (use a path${known.length ? ' or ' + known.join(', ') : ''})`);
    }
    const open = await load();
    return open(spec, opts);
  }
  // Start the io threads now: their start-up (module loading, ~50-150 ms under load) then
  // overlaps with opening the other end (a TLS handshake) instead of delaying the scan. Not
  // all of them for a tree whose scan was made or started otherwise (localScan.ts ioThreadsToWarm).
  const threads = opts.smallHere ? 0 : ioThreadsToWarm(resolve(spec));
  if (threads !== 0) warmPools(['io'], threads);
  const small = typeof opts.smallUnpackFiles === 'number' ? { smallUnpackFiles: opts.smallUnpackFiles } : {};
  // a tree the command's start walked whole (a small sync's): its few metadata changes here too,
  // not on a second io thread started for them beside the copy's (files' bytes stay on threads)
  const here = opts.smallHere ? { oneScanThread: true, restOnAllThreads: true, smallHere: true } : scannedSmall(resolve(spec)) ? { smallHere: true } : {};
  return new LocalTree(spec, { writable: opts.writable ?? false, create: opts.create ?? false, ...(opts.log ? { log: opts.log } : {}), ...small, ...here });
}
