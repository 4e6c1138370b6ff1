// `1 file`, `2 files`: a count and its noun, for every line a person reads (sync summaries,
// omirr status). Pure.

/** The count and its noun, plural unless the count is 1 (`plural` when adding s is wrong). */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
