// The registry of tree openers by URL scheme. openTree (./openTree.ts) looks a spec's scheme
// up here; each site driver registers itself from a module above the engine
// (src/sites/register.ts), so the engine never names a driver and dependencies point one
// way: sites -> engine -> core. A loader is a static `() => import('...')` thunk: the driver's
// code (TLS, ftp, ssh2) loads only when a spec with its scheme is opened, so a local-only
// sync never loads it.
import type { Tree } from '../core/tree.js';
import type { Logger } from '../log.js';

/** How openTree opens a spec; the rest goes to the scheme's opener. */
export interface OpenTreeOptions {
  /** Open for writing (the destination of a sync). */
  writable?: boolean;
  /** Create a local root that does not exist (destinations). */
  create?: boolean;
  log?: Logger;
  /** A local tree's LocalTreeOptions.smallUnpackFiles (a local destination of a remote source). */
  smallUnpackFiles?: number;
  /**
   * A local tree walked on this thread first, a few metadata changes made here too, and no
   * io thread started at open (LocalTreeOptions.oneScanThread with restOnAllThreads, and
   * smallHere): mirror's local site, whose small scan costs less than a thread's start.
   */
  smallHere?: boolean;
  /** Passed through to the scheme's opener (keys, secrets, timeouts, site options...). */
  [key: string]: unknown;
}

/** Opens a tree from a full spec (`scheme://...`) with openTree's options. */
export type TreeOpener = (spec: string, opts: OpenTreeOptions) => Promise<Tree>;
/** Loads the driver on first use and returns its opener. */
export type OpenerLoader = () => Promise<TreeOpener>;

const loaders = new Map<string, OpenerLoader>();

/** Register (or replace) the opener of `scheme` (case-insensitive, without "://"). */
export function registerOpener(scheme: string, load: OpenerLoader): void {
  if (!/^[a-z][a-z0-9+.-]*$/i.test(scheme)) throw new Error(`registerOpener: bad scheme '${scheme}'`);
  loaders.set(scheme.toLowerCase(), load);
}

/** The loader for a scheme, if one is registered. */
export function openerLoader(scheme: string): OpenerLoader | undefined {
  return loaders.get(scheme.toLowerCase());
}

/** Registered schemes, sorted (for error messages and docs). */
export function registeredSchemes(): string[] {
  return [...loaders.keys()].sort();
}

/** The scheme of a `scheme://...` spec, lowercased; undefined for a path. */
export function schemeOf(spec: string): string | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec);
  return m ? m[1]!.toLowerCase() : undefined;
}
