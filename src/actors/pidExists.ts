// Is there a process with this pid? The one liveness test everything else builds on
// (mm's lock holders, inspector announcements).

/** kill(pid, 0): true when the process exists, EPERM included (it runs as another user). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
