// A real vsftpd (Debian's /usr/sbin/vsftpd) on a loopback ephemeral port, for the FTP site
// driver's tests, the mirror.pl differential tests and bench/ftp.ts. Anonymous logins see
// `root`; the user login (USER omirrftp, a system user the fixture creates once, running
// as root) sees the same directory and may write when `writable`. With `tls`, FTPS
// (explicit, AUTH TLS) with a self-signed certificate for 127.0.0.1, made with openssl; the
// client trusts it through `caFile` (or NODE_EXTRA_CA_CERTS for a child process).
//
// A missing vsftpd or openssl is an error, not a skip: .ci/run installs them.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, stopChild, waitForPort } from './loopback.js';

export const VSFTPD = '/usr/sbin/vsftpd';
export const FTP_USER = 'omirrftp';
export const FTP_PASSWORD = 'omirr-ftp-test-pw';

export interface VsftpdOptions {
  /** The directory served (anonymous and user logins both start there). */
  root: string;
  /** FTPS: AUTH TLS offered (not required) with a fresh self-signed certificate. */
  tls?: boolean;
  /** The user login may write (upload tests): `root` is chowned to the FTP user. */
  writable?: boolean;
  /** Allow `LIST -R` (mirror's ls -lR). Default true. */
  lsRecurse?: boolean;
  /** Extra vsftpd.conf lines. */
  extra?: string[];
}

export interface VsftpdServer {
  host: '127.0.0.1';
  port: number;
  root: string;
  user: string;
  password: string;
  /** The self-signed certificate (PEM file) when `tls`. */
  caFile?: string;
  /** ftp[s]://[user:password@]127.0.0.1:PORT/path; anonymous unless `login`. */
  url(path?: string, o?: { login?: boolean; tls?: boolean }): string;
  /** vsftpd's log file so far. */
  log(): string;
  /** The listening vsftpd's pid (each session is a child process of it). */
  pid: number;
  stop(): Promise<void>;
}

/** The FTP test user's ids, once ensureFtpUser has made sure of it in this process. */
let ensured: { uid: number; gid: number } | undefined;

/**
 * Create the FTP test user once (idempotent), with the fixture's password. Checked once per
 * test process: each check ran id, getent, chpasswd and id again, for every vsftpd a file
 * started (27 in mirrorOracle), and nothing in the tests changes the user meanwhile.
 */
export function ensureFtpUser(): { uid: number; gid: number } {
  ensured ??= ensureFtpUserNow();
  return { ...ensured };
}

function ensureFtpUserNow(): { uid: number; gid: number } {
  const id = (): string => execFileSync('id', ['-u', FTP_USER], { encoding: 'utf8' }).trim();
  let uid: string;
  try {
    uid = id();
  } catch {
    if (process.getuid?.() !== 0) throw new Error(`vsftpd fixture: user ${FTP_USER} is missing and only root can create it`);
    try {
      execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/', '--shell', '/bin/sh', FTP_USER], { stdio: 'pipe' });
    } catch (err) {
      // another test process created it meanwhile
      if (!/exists/.test(String((err as { stderr?: Buffer }).stderr ?? ''))) throw err;
    }
    uid = id();
  }
  // vsftpd changes to the home directory before local_root: it must exist
  if (process.getuid?.() === 0 && execFileSync('getent', ['passwd', FTP_USER], { encoding: 'utf8' }).split(':')[5] !== '/') {
    execFileSync('usermod', ['--home', '/', FTP_USER], { stdio: 'pipe' });
  }
  if (process.getuid?.() === 0) execFileSync('chpasswd', { input: `${FTP_USER}:${FTP_PASSWORD}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
  const gid = execFileSync('id', ['-g', FTP_USER], { encoding: 'utf8' }).trim();
  return { uid: Number(uid), gid: Number(gid) };
}

/** A self-signed certificate and key for 127.0.0.1 in `dir` (openssl). */
export function makeSelfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert],
    { stdio: 'pipe' },
  );
  return { cert, key };
}

export async function startVsftpd(opts: VsftpdOptions): Promise<VsftpdServer> {
  if (!existsSync(VSFTPD)) throw new Error(`${VSFTPD} is missing: apt-get install vsftpd (.ci/run installs it)`);
  const { uid, gid } = ensureFtpUser();
  const work = mkdtempSync(join(tmpdir(), 'omirr-vsftpd-'));
  const empty = join(work, 'empty');
  mkdirSync(empty);
  chmodSync(work, 0o755);
  // both logins need to reach root: open the path to it for reading (a user login
  // changes into it as that user; temp directories are 0700)
  chmodSync(opts.root, 0o755);
  for (let d = dirname(opts.root); d.startsWith(tmpdir() + '/'); d = dirname(d)) chmodSync(d, statSync(d).mode | 0o055);
  if (opts.writable) chownSync(opts.root, uid, gid);
  const port = await freePort();
  const logFile = join(work, 'vsftpd.log');
  const lines = [
    'listen=YES',
    'listen_ipv6=NO',
    'listen_address=127.0.0.1',
    `listen_port=${port}`,
    'background=NO',
    'anonymous_enable=YES',
    `anon_root=${opts.root}`,
    'no_anon_password=YES',
    'local_enable=YES',
    `local_root=${opts.root}`,
    'chroot_local_user=YES',
    'allow_writeable_chroot=YES',
    `write_enable=${opts.writable ? 'YES' : 'NO'}`,
    'local_umask=022',
    'chmod_enable=YES',
    `ls_recurse_enable=${opts.lsRecurse === false ? 'NO' : 'YES'}`,
    'seccomp_sandbox=NO',
    'isolate=NO',
    'isolate_network=NO',
    `secure_chroot_dir=${empty}`,
    'pam_service_name=vsftpd',
    'xferlog_enable=NO',
    'max_per_ip=0',
    'max_clients=0',
    `vsftpd_log_file=${logFile}`,
    'dual_log_enable=NO',
    'idle_session_timeout=120',
    'data_connection_timeout=120',
  ];
  let caFile: string | undefined;
  if (opts.tls) {
    const { cert, key } = makeSelfSignedCert(work);
    caFile = cert;
    lines.push(
      'ssl_enable=YES',
      `rsa_cert_file=${cert}`,
      `rsa_private_key_file=${key}`,
      'allow_anon_ssl=YES',
      'force_local_logins_ssl=NO',
      'force_local_data_ssl=NO',
      'force_anon_logins_ssl=NO',
      'force_anon_data_ssl=NO',
      'ssl_sslv2=NO',
      'ssl_sslv3=NO',
    );
  }
  lines.push(...(opts.extra ?? []));
  const conf = join(work, 'vsftpd.conf');
  writeFileSync(conf, lines.join('\n') + '\n');
  const proc: ChildProcess = spawn(VSFTPD, [conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitForPort(port, () => proc.exitCode !== null || proc.signalCode !== null, () => `vsftpd: ${stderr}`);
  const host = '127.0.0.1' as const;
  return {
    host,
    port,
    root: opts.root,
    user: FTP_USER,
    password: FTP_PASSWORD,
    ...(caFile ? { caFile } : {}),
    url(path = '/', o = {}) {
      const scheme = o.tls ? 'ftps' : 'ftp';
      const auth = o.login ? `${FTP_USER}:${encodeURIComponent(FTP_PASSWORD)}@` : '';
      return `${scheme}://${auth}${host}:${port}${path.startsWith('/') ? path : '/' + path}`;
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    pid: proc.pid!,
    async stop() {
      await stopChild(proc);
      rmSync(work, { recursive: true, force: true });
    },
  };
}
