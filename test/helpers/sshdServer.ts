// A real sshd (/usr/sbin/sshd) on a loopback ephemeral port, for tests of ssh:// and
// sftp:// trees: fresh host and user keys (ssh-keygen), key login only, as the user running
// the tests, and a known_hosts file naming the host key for [127.0.0.1]:PORT.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild, waitForPort } from './loopback.js';

export const SSHD = '/usr/sbin/sshd';

export interface SshdServer {
  port: number;
  /** The client's private key (authorized by the server). */
  userKey: string;
  /** known_hosts with the server's key for [127.0.0.1]:PORT. */
  knownHosts: string;
  /** The listening sshd's pid (each session is a child process of it). */
  pid: number;
  stop(): Promise<void>;
}

export async function startSshd(): Promise<SshdServer> {
  for (const bin of [SSHD, '/usr/bin/ssh-keygen']) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: apt-get install openssh-server openssh-client (.ci/run installs them)`);
  }
  const work = mkdtempSync(join(tmpdir(), 'omirr-sshd-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'user_key')]);
  writeFileSync(join(work, 'authorized_keys'), readFileSync(join(work, 'user_key.pub')));
  // sshd insists on its privilege-separation directory
  mkdirSync('/run/sshd', { recursive: true });
  const port = await freePort();
  writeFileSync(
    join(work, 'sshd_config'),
    [
      'ListenAddress 127.0.0.1',
      `HostKey ${join(work, 'host_key')}`,
      `AuthorizedKeysFile ${join(work, 'authorized_keys')}`,
      `PidFile ${join(work, 'sshd.pid')}`,
      'Subsystem sftp internal-sftp',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin yes',
      'UsePAM no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const [type, blob] = readFileSync(join(work, 'host_key.pub'), 'utf8').trim().split(/\s+/);
  writeFileSync(join(work, 'known_hosts'), `[127.0.0.1]:${port} ${type} ${blob}\n`);
  const proc = spawn(SSHD, ['-D', '-e', '-f', join(work, 'sshd_config'), '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitForPort(port, () => proc.exitCode !== null || proc.signalCode !== null, () => `sshd: ${stderr}`);
  return {
    port,
    userKey: join(work, 'user_key'),
    knownHosts: join(work, 'known_hosts'),
    pid: proc.pid!,
    async stop() {
      await stopChild(proc);
      rmSync(work, { recursive: true, force: true });
    },
  };
}
