// `omirr ARGS` run to its end as a child process (the CLI as a user runs it), with logs at
// warn unless the test asks otherwise: exit status, stdout and stderr as text.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const omirrBinPath = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));

export interface OmirrRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runOmirr(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): OmirrRun {
  const r = spawnSync(process.execPath, [omirrBinPath, ...args], {
    encoding: 'utf8',
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    env: { ...process.env, OMIRR_LOG_LEVEL: 'warn', ...opts.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
