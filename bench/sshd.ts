// An sshd on a loopback port for the benchmarks: the tests' sshd (test/helpers/sshdServer.ts:
// fresh host and user keys, public-key login only), plus `rsh`, the ssh command both omirr
// (--rsh) and rsync (-e) are given, so both pay for the same ssh, cipher and key exchange.
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { SSHD, startSshd as startTestSshd } from '../test/helpers/sshdServer.js';

export function haveSshd(): boolean {
  return existsSync(SSHD) && existsSync('/usr/bin/ssh') && existsSync('/usr/bin/ssh-keygen');
}

export interface Sshd {
  port: number;
  /** The ssh command with its options, port included (for --rsh and rsync -e). */
  rsh: string;
  user: string;
  stop(): Promise<void>;
}

export async function startSshd(): Promise<Sshd> {
  const s = await startTestSshd();
  const rsh = `ssh -p ${s.port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -i ${s.userKey}`;
  return { port: s.port, rsh, user: userInfo().username, stop: () => s.stop() };
}
