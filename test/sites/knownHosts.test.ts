// sftp:// host key checking: known_hosts lines, plain and hashed names, [host]:port for
// ports other than 22, markers and other hosts' keys never accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { knownHostsAccepts } from '../../src/sites/sftp.js';

const KEY = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl', 'base64');
const OTHER = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIBBBqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl', 'base64');
const b64 = KEY.toString('base64');

function hashed(name: string): string {
  const salt = Buffer.from('0123456789abcdef0123');
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

test('plain names, port 22 and [host]:port', () => {
  assert.equal(knownHostsAccepts(`example.org,10.0.0.1 ssh-ed25519 ${b64}\n`, 'example.org', 22, KEY), true);
  assert.equal(knownHostsAccepts(`example.org ssh-ed25519 ${b64}\n`, 'example.org', 2222, KEY), false);
  assert.equal(knownHostsAccepts(`[example.org]:2222 ssh-ed25519 ${b64}\n`, 'example.org', 2222, KEY), true);
  assert.equal(knownHostsAccepts(`example.org ssh-ed25519 ${b64}\n`, 'example.org', 22, OTHER), false, 'another key for the host');
  assert.equal(knownHostsAccepts(`other.org ssh-ed25519 ${b64}\n`, 'example.org', 22, KEY), false, 'the key of another host');
});

test('hashed names; @revoked and comments never accept', () => {
  assert.equal(knownHostsAccepts(`${hashed('[127.0.0.1]:2022')} ssh-ed25519 ${b64}\n`, '127.0.0.1', 2022, KEY), true);
  assert.equal(knownHostsAccepts(`${hashed('127.0.0.1')} ssh-ed25519 ${b64}\n`, '127.0.0.1', 2022, KEY), false);
  assert.equal(knownHostsAccepts(`@revoked example.org ssh-ed25519 ${b64}\n# example.org ssh-ed25519 ${b64}\n`, 'example.org', 22, KEY), false);
});
