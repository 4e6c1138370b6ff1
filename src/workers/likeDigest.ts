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

/** The last digest takeDigestAhead took, and the very listing it is of. */
let latest: { entries: readonly Entry[]; digest: string } | undefined;

/** Take the digest of `entries` now (a thread that waits idle anyway), for latestDigestAhead. */
export function takeDigestAhead(entries: readonly Entry[]): void {
  if (latest?.entries !== entries) latest = { entries, digest: likeDigest(likeFormOf(entries)) };
}

/**
 * The digest takeDigestAhead took last, with the listing it is of. A scan request carries it
 * before the local tree has handed its own listing over (that takes 20-120 ms after the
 * walk: a stat of the root, the scan's own steps), so whoever uses a "the same" answer
 * must check that the local listing is that very one (docs/protocol.md, `listing-same`).
 */
export function latestDigestAhead(): { entries: readonly Entry[]; digest: string } | undefined {
  return latest;
}
