// CPU time of a process from /proc (Linux): steadier than wall time on a loaded, shared
// machine, where a process's wall time includes waiting for other people's work.
import { readdirSync, readFileSync } from 'node:fs';

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

/** The live processes `pid` started, and theirs (depth first), from /proc/PID/task/TID/children. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // gone meanwhile
  }
  for (const tid of tids) {
    let kids = '';
    try {
      kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch {
      continue; // a thread that ended meanwhile
    }
    for (const k of kids.split(' ').filter(Boolean).map(Number)) out.push(k, ...descendants(k));
  }
  return out;
}

/**
 * CPU seconds of a process and of the processes it started that still run: `omirr serve`
 * serves from a child node (src/cli/serveGc.ts), whose CPU the launcher's own figures
 * include only once that child has ended.
 */
export function cpuTreeSeconds(pid: number): number {
  return [pid, ...descendants(pid)].reduce((sum, p) => {
    try {
      return sum + cpuSeconds(p);
    } catch {
      return sum; // ended between the listing and the read: counted in its parent's once reaped
    }
  }, 0);
}
