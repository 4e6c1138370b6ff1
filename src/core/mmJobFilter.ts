// Which job lines mm ignores before looking at timers (pure), in mm.pl's order:
// a `'` in site:package, the skip list, the -o regex, then "only the first occurrence".
// See docs/mm-input.md ("Which jobs run").
import { sitePackageOf, type MmJobStatement } from './mmInput.js';

export interface JobFilterState {
  /** skip= values seen so far, in order. */
  skips: string[];
  /** The -o regex (unanchored). */
  only?: RegExp;
  /** site:packages already taken in this run. */
  seen: Set<string>;
}

/** Why a job is not even considered, in mm.pl's words; undefined when it goes on. */
export const SKIP_REASON = {
  prime: "site/package name must not contain a prime (')",
  skipList: 'in skip list',
  notOnly: 'not in -o',
  duplicate: 'already seen in this run',
} as const;

/**
 * The original's `grep(/$site_package/, @skips)`: the JOB's site:package is the regex, each
 * skip entry the subject, so it is an unanchored regex match, not equality (`a.b:x` skips an
 * entry `aXb:xyz`). Where site:package is no valid JavaScript regex (e.g. `x:c++`, which
 * Perl accepted), a plain substring test takes its place instead of an error.
 */
export function matchesSkipList(sitePackage: string, skips: readonly string[]): boolean {
  if (skips.length === 0) return false;
  let re: RegExp | undefined;
  try {
    re = new RegExp(sitePackage);
  } catch {
    re = undefined;
  }
  return skips.some((entry) => (re ? re.test(entry) : entry.includes(sitePackage)));
}

/**
 * Returns the reason to ignore the job, or undefined if it may go on to the timer check
 * (and then records it in st.seen: a later line with the same site:package is ignored).
 */
export function jobSkipReason(job: MmJobStatement, st: JobFilterState): string | undefined {
  const sp = sitePackageOf(job);
  // The default template quotes the package as -p'$package'.
  if (sp.includes("'")) return SKIP_REASON.prime;
  if (matchesSkipList(sp, st.skips)) return SKIP_REASON.skipList;
  if (st.only) {
    // A fresh copy so a /g or /y regex cannot carry lastIndex between jobs.
    const only = new RegExp(st.only.source, st.only.flags.replace(/[gy]/g, ''));
    if (!only.test(sp)) return `${SKIP_REASON.notOnly} ${st.only.source}`;
  }
  if (st.seen.has(sp)) return SKIP_REASON.duplicate;
  st.seen.add(sp);
  return undefined;
}
