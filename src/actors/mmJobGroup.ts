// Is a job recorded in mm.status.jobs still running, and stopping it. A job runs as the
// leader of its own session and process group (pgid = sid = its pid), so everything it
// started can be found and signalled together, even after its mm died (kill -9) and its
// shell ended while a child of it carries on.
//
// "Still that job": the leader, if /proc still has its pid, must have the recorded start
// time (else the pid was reused, and a pid number cannot be reused while a group of that
// number has members, so the job's group is gone too). Without its leader, a process counts
// as the job's when it is in the job's group AND session and started no earlier than the
// leader did. Off Linux (no /proc) the group is asked with kill(-pgid, 0).
import { readdirSync } from 'node:fs';
import type { JobChild } from '../core/mmJobChildren.js';
import { isSameProcessAlive, procInfo } from './mmLiveness.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const dead = (state: string) => state === 'Z' || state === 'X';

/** Live (not zombie) pids of the job's group; [] when the job is gone. */
export function jobGroupMembers(job: Pick<JobChild, 'pid' | 'pgid' | 'startTicks'>): number[] {
  const leader = procInfo(job.pid);
  if (leader && job.startTicks !== undefined && leader.startTicks !== job.startTicks) return [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    // No /proc: the group exists or not (kill 0), as the original asked of a pid.
    try {
      process.kill(-job.pgid, 0);
      return [job.pgid];
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM' ? [job.pgid] : [];
    }
  }
  const out: number[] = [];
  for (const name of pids) {
    const pid = Number(name);
    const info = pid === job.pid ? leader : procInfo(pid);
    if (!info || dead(info.state) || info.pgrp !== job.pgid || info.session !== job.pgid) continue;
    if (job.startTicks !== undefined && info.startTicks < job.startTicks) continue;
    out.push(pid);
  }
  return out;
}

/** Does the job still run (its leader, or any process left in its group)? */
export function isJobAlive(job: Pick<JobChild, 'pid' | 'pgid' | 'startTicks'>): boolean {
  const leader = procInfo(job.pid);
  if (leader && !dead(leader.state) && (job.startTicks === undefined || leader.startTicks === job.startTicks)) return true;
  return jobGroupMembers(job).length > 0;
}

/** Is the omirr mm that started the job still running? */
export function isJobOwnerAlive(job: Pick<JobChild, 'mmPid' | 'mmStartTicks'>): boolean {
  return isSameProcessAlive(job.mmPid, job.mmStartTicks);
}

/** kill(-pgid, signal); false when the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export interface StopJobOptions {
  /** Wait this long after SIGTERM before SIGKILL (default 10 s). */
  graceMs?: number;
  /** Then this long after SIGKILL before giving up (default 5 s). */
  killWaitMs?: number;
  /** How often to look whether the group is gone (default 25 ms). */
  pollMs?: number;
}

/**
 * Stop a job that is not our child (an orphan of a dead mm): SIGTERM (and SIGCONT, in case
 * it was stopped) to its group, SIGKILL after the grace time; resolves when no process of the
 * job is left, throws if it outlives SIGKILL. Its end cannot be awaited (it is not our
 * child), so the group is looked at until it is empty.
 */
export async function stopJobGroup(job: Pick<JobChild, 'pid' | 'pgid' | 'startTicks'>, opts: StopJobOptions = {}): Promise<void> {
  const poll = opts.pollMs ?? 25;
  const waitGone = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (isJobAlive(job)) {
      if (Date.now() > deadline) return false;
      await sleep(poll);
    }
    return true;
  };
  // Re-checked just before each signal: never signal a group that is no longer the job's.
  if (!isJobAlive(job)) return;
  signalGroup(job.pgid, 'SIGTERM');
  signalGroup(job.pgid, 'SIGCONT');
  if (await waitGone(opts.graceMs ?? 10_000)) return;
  if (isJobAlive(job)) signalGroup(job.pgid, 'SIGKILL');
  if (await waitGone(opts.killWaitMs ?? 5_000)) return;
  throw new Error(`job process group ${job.pgid} is still running after SIGKILL`);
}
