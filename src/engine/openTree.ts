// Opens either end of a sync from its spec: a local path, omirr://host:port/tree, or
// ssh://[user@]host[:port]/path. Remote trees come from src/net, loaded on demand so a
// local-only sync never loads TLS or ssh code.
import type { Tree } from '../core/tree.js';
import type { Logger } from '../log.js';
import { warmPools } from '../workers/pool.js';
import { LocalTree } from './localTree.js';
import { mark } from './timing.js';

export interface OpenTreeOptions {
  /** Open for writing (the destination of a sync). */
  writable?: boolean;
  /** Create a local root that does not exist (destinations). */
  create?: boolean;
  log?: Logger;
  /** Passed through to connectTree / sshTree (keys, secrets, timeouts...). */
  [key: string]: unknown;
}

export function isRemoteSpec(spec: string): boolean {
  return /^(omirr|ssh):\/\//i.test(spec);
}

export async function openTree(spec: string, opts: OpenTreeOptions = {}): Promise<Tree> {
  mark(`openTree ${spec.slice(0, 40)}`);
  if (/^omirr:\/\//i.test(spec)) {
    const mod = (await import(netModule('client'))) as { connectTree(url: string, o: OpenTreeOptions): Promise<Tree> };
    return mod.connectTree(spec, opts);
  }
  if (/^ssh:\/\//i.test(spec)) {
    const mod = (await import(netModule('ssh'))) as { sshTree(url: string, o: OpenTreeOptions): Promise<Tree> };
    return mod.sshTree(spec, opts);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) throw new Error(`${spec}: unsupported URL scheme (use a path, omirr:// or ssh://)`);
  // Start the io threads now: their start-up (module loading, ~50-150 ms under load) then
  // overlaps with opening the other end (a TLS handshake) instead of delaying the scan.
  warmPools(['io']);
  return new LocalTree(spec, { writable: opts.writable ?? false, create: opts.create ?? false, ...(opts.log ? { log: opts.log } : {}) });
}

// A computed specifier: src/net is written beside this module and may not exist in every build.
function netModule(name: string): string {
  return new URL(`../net/${name}.js`, import.meta.url).href;
}
