// mm.status.jobs (pure): the process behind each job lock. mm.status keeps the original's
// line format (`site:package LAST_TRIED STATUS l|u PID`, readable by the original mm), which
// has no room for more; this file beside it says which process group a lock's PID leads,
// when that process started, and which omirr mm started it, so a later run can tell a
// job still running (perhaps orphaned by a killed mm) from a dead lock. One line per job:
//
//   PID PGID START_TICKS MM_PID MM_START_TICKS site:package
//
// START_TICKS are /proc/<pid>/stat start times ('-' when unknown: no /proc). The file is
// omirr's own, written under the mm.status mutex; a line it cannot read is dropped.

/**
 * What a run does with a job still running after the omirr mm that started it died:
 * 'wait' (default) treats it as a live lock (skipped, or looked at again while long-running);
 * 'stop' stops its process group (SIGTERM, SIGKILL after a grace time) when the job is due,
 * then runs it.
 */
export type OrphanPolicy = 'wait' | 'stop';

export interface JobChild {
  sitePackage: string;
  /** The job's process: the shell running its command (its pid is in mm.status). */
  pid: number;
  /** Its process group (the job is spawned as a session leader: pgid = pid). */
  pgid: number;
  /** Start time of pid in clock ticks since boot: a reused pid has another one. */
  startTicks?: number;
  /** The omirr mm that started the job, and its start time. */
  mmPid: number;
  mmStartTicks?: number;
}

const LINE_RE = /^(\d+) (\d+) (\d+|-) (\d+) (\d+|-) (.+:.+)$/;

const ticks = (t: string): number | undefined => (t === '-' ? undefined : Number(t));

export function parseJobChildren(text: string): JobChild[] {
  const out: JobChild[] = [];
  for (const line of text.split('\n')) {
    const m = LINE_RE.exec(line);
    if (!m) continue;
    const c: JobChild = { sitePackage: m[6]!, pid: Number(m[1]), pgid: Number(m[2]), mmPid: Number(m[4]) };
    const st = ticks(m[3]!);
    const mst = ticks(m[5]!);
    if (st !== undefined) c.startTicks = st;
    if (mst !== undefined) c.mmStartTicks = mst;
    if ([c.pid, c.pgid, c.mmPid].every((n) => Number.isSafeInteger(n) && n > 0)) out.push(c);
  }
  return out;
}

export function formatJobChildren(children: JobChild[]): string {
  return children
    .map((c) => `${c.pid} ${c.pgid} ${c.startTicks ?? '-'} ${c.mmPid} ${c.mmStartTicks ?? '-'} ${c.sitePackage}\n`)
    .join('');
}

/** Replace (or add) the record of child.sitePackage. */
export function setJobChild(children: JobChild[], child: JobChild): JobChild[] {
  return [...children.filter((c) => c.sitePackage !== child.sitePackage), { ...child }];
}

export function removeJobChild(children: JobChild[], sitePackage: string): JobChild[] {
  return children.filter((c) => c.sitePackage !== sitePackage);
}

/**
 * The child behind a job's lock: only while the line is locked, and only if the line's PID
 * is that child's or the mm's that started it (the mm's pid is on the line from the lock
 * until the child's is recorded: a crash between the two files' renames leaves that). A
 * record from an earlier run names other pids and is ignored.
 */
export function childBehindLock(
  children: JobChild[],
  lock: { sitePackage: string; locked: boolean; pid: number } | undefined,
): JobChild | undefined {
  if (!lock?.locked) return undefined;
  return children.find((c) => c.sitePackage === lock.sitePackage && (c.pid === lock.pid || c.mmPid === lock.pid));
}
