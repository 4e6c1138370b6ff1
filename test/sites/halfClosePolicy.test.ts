// Which FTP data connections are half-closed as soon as they are made (src/sites/ftp.ts,
// halfClosePolicy): only with vsftpd, whose linger close waits for our ACK; on this host only
// where our TIME_WAIT ports cannot be the passive ports the server binds; the variable
// forces it either way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { halfClosePolicy } from '../../src/sites/ftp.js';

const VSFTPD = '(vsFTPd 3.0.3)';
const EPHEMERAL = [32768, 60999] as const;
const PORTS = [1024, 10_000, 32_767, 32_768, 45_000, 60_999, 61_000, 65_535];

test('half-close policy: server, host, passive port and the override', () => {
  const table: Array<[string, string, boolean, string | undefined, (port: number) => boolean]> = [
    ['vsftpd on another host: every port', VSFTPD, false, undefined, () => true],
    ['vsftpd on this host: only ports outside the ephemeral range', VSFTPD, true, undefined, (p) => p < 32_768 || p > 60_999],
    ['vsftpd on this host, forced on: every port', VSFTPD, true, '1', () => true],
    ['vsftpd anywhere, forced off: none', VSFTPD, false, '0', () => false],
    ['another server on another host: none', 'ProFTPD 1.3.8 Server', false, undefined, () => false],
    ['another server, forced on: still none', 'Welcome to a mirror', true, '1', () => false],
    ['an empty override is no override', VSFTPD, true, '', (p) => p < 32_768 || p > 60_999],
  ];
  for (const [what, greeting, sameHost, forced, want] of table) {
    const policy = halfClosePolicy(greeting, { sameHost, forced, ephemeral: EPHEMERAL });
    for (const port of PORTS) assert.equal(policy(port), want(port), `${what}: port ${port}`);
  }
});

test('half-close policy: an unknown ephemeral range (every port) never half-closes on this host', () => {
  const policy = halfClosePolicy(VSFTPD, { sameHost: true, forced: undefined, ephemeral: [1, 65_535] });
  for (const port of PORTS) assert.equal(policy(port), false);
});
