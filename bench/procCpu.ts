// CPU time of a process from /proc (Linux): steadier than wall time on a loaded, shared
// machine, where a process's wall time includes waiting for other people's work.
import { readFileSync } from 'node:fs';

/**
 * CPU seconds (user + system, all threads, and children it has waited for) of a process.
 * `childrenOnly`: only the children it waited for (`self`: the timed omirr or rsync client).
 */
export function cpuSeconds(pid: number | 'self', childrenOnly = false): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const v = f.slice(f.lastIndexOf(')') + 2).split(' ').map(Number); // fields from 3 (state) on
  const [utime, stime, cutime, cstime] = [v[11]!, v[12]!, v[13]!, v[14]!];
  return (childrenOnly ? cutime + cstime : utime + stime + cutime + cstime) / 100;
}
