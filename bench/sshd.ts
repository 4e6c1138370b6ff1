// An sshd on a loopback port for the benchmarks (the same setup as
// test/integration/sshServe.test.ts): fresh host and user keys in `dir`, public-key login
// only. `rsh` is the ssh command both omirr (--rsh) and rsync (-e) are given, so both pay
// for the same ssh, cipher and key exchange.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './childGroup.js';

export const SSHD = '/usr/sbin/sshd';

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

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export async function startSshd(dir: string): Promise<Sshd> {
  mkdirSync(dir, { recursive: true });
  for (const k of ['host_key', 'user_key']) if (!existsSync(join(dir, k))) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);
  execFileSync('cp', [join(dir, 'user_key.pub'), join(dir, 'authorized_keys')]);
  mkdirSync('/run/sshd', { recursive: true });
  const port = await freePort();
  const config = [
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin yes',
    'UsePAM no',
    'LogLevel ERROR',
    '',
  ];
  writeFileSync(join(dir, 'sshd_config'), config.join('\n'));
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config'), '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const deadline = Date.now() + 15_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const rsh = `ssh -p ${port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -i ${join(dir, 'user_key')}`;
  return {
    port,
    rsh,
    user: userInfo().username,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    },
  };
}
