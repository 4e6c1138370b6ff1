// The sha256 of a listing's like form (src/core/likeForm.ts), and the digests of local
// listings taken ahead of a remote scan. An ssh:// re-run walks its local end while ssh logs
// in (engine/localScan.ts walkWhenTakenNow) and has nothing else to do until the far side
// answers: it takes the digest then, and its scan request carries it (capability
// `listing-same`); a far side whose own listing has the same digest answers "the same" and
// sends no listing (docs/performance.md, "ssh:// re-runs, third pass").
import type { Entry } from '../core/entry.js';
import { likeFormOf } from '../core/likeForm.js';
import { nodeCrypto } from './nodeCrypto.js';

/** sha256 of the form's chunks, as 64 lowercase hex digits. */
export function likeDigest(form: readonly Buffer[]): string {
  const h = nodeCrypto().createHash('sha256');
  for (const c of form) h.update(c);
  return h.digest('hex');
}

const ofForm = new WeakMap<readonly Buffer[], string>();

/** likeDigest, once per form (`serve --stdio` takes it while it waits for the peer's scan request). */
export function formDigest(form: readonly Buffer[]): string {
  let d = ofForm.get(form);
  if (d === undefined) ofForm.set(form, (d = likeDigest(form)));
  return d;
}

const taken = new WeakMap<readonly Entry[], string>();
let any = false;

/** Take the digest of `entries` now (a thread that waits idle anyway), for digestTaken. */
export function takeDigestAhead(entries: readonly Entry[]): void {
  if (!taken.has(entries)) taken.set(entries, likeDigest(likeFormOf(entries)));
  any = true;
}

/** The digest takeDigestAhead took of this very listing, if it did. */
export function digestTaken(entries: readonly Entry[]): string | undefined {
  return taken.get(entries);
}

/** Whether takeDigestAhead took any digest in this process (else a scan need not wait a turn to look for one). */
export function anyDigestAhead(): boolean {
  return any;
}
