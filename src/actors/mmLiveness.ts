// Is a process still the one that took a lock? mm used `kill 0, pid`, which is wrong both
// ways: a reused pid looks alive (false positive) and a zombie counts as running. On Linux
// /proc/<pid>/stat tells us the state and the start time of whatever now has that pid, so a
// process that started after the lock was taken cannot be its holder.
import { readFileSync } from 'node:fs';
import { pidExists } from './pidExists.js';

/** Clock ticks per second of /proc's start times (USER_HZ: 100 on every Linux ABI we run on). */
const CLK_TCK = 100;

/**
 * Slack, in seconds, between the lock's LAST_TRIED (whole seconds, taken just before the
 * child is spawned) and the holder's start time: the floor to whole seconds, spawn latency,
 * and the known jitter of /proc/stat's btime.
 */
const START_SLACK_SECONDS = 3;

export interface ProcInfo {
  /** One-letter state from /proc/<pid>/stat (R, S, D, Z, ...). */
  state: string;
  /** Start time in clock ticks since boot. */
  startTicks: number;
  /** Process group and session ids. */
  pgrp: number;
  session: number;
}

/** State and start time of pid, or undefined when /proc has no such process (or no /proc). */
export function procInfo(pid: number): ProcInfo | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const startTicks = Number(rest[19]);
  if (!rest[0] || !Number.isFinite(startTicks)) return undefined;
  return { state: rest[0], startTicks, pgrp: Number(rest[2]), session: Number(rest[3]) };
}

let bootTime: number | undefined | null = null;

/** Boot time in epoch seconds from /proc/stat, or undefined off Linux. */
function bootEpoch(): number | undefined {
  if (bootTime !== null) return bootTime;
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'));
    bootTime = m ? Number(m[1]) : undefined;
  } catch {
    bootTime = undefined;
  }
  return bootTime;
}

/**
 * Is pid alive, and can it be the process that locked at `lockedSince` (epoch seconds)?
 * Without /proc (not Linux) this falls back to the original's kill-0 test.
 */
export function isHolderAlive(pid: number, lockedSince?: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (!pidExists(pid)) return false;
  const info = procInfo(pid);
  if (!info) return true;
  if (info.state === 'Z' || info.state === 'X') return false;
  const boot = bootEpoch();
  if (lockedSince !== undefined && lockedSince > 0 && boot !== undefined) {
    const started = boot + info.startTicks / CLK_TCK;
    if (started > lockedSince + START_SLACK_SECONDS) return false;
  }
  return true;
}

/**
 * Is pid alive and still the same process that recorded `startTicks`? Exact where /proc
 * exists: the mm.status mutex stores its holder's start ticks beside its pid.
 */
export function isSameProcessAlive(pid: number, startTicks: number | undefined): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (!pidExists(pid)) return false;
  const info = procInfo(pid);
  if (!info) return true;
  if (info.state === 'Z' || info.state === 'X') return false;
  return startTicks === undefined || info.startTicks === startTicks;
}

/** This process's start ticks (undefined without /proc). */
export function ownStartTicks(): number | undefined {
  return procInfo(process.pid)?.startTicks;
}
