import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprint, fingerprintOfFile, generateKey, isFingerprint, loadKey, loadSecret, nodeKeyFromPem, writeKeyFile } from '../../src/net/keys.js';
import { secretProof } from '../../src/net/handshake.js';
import { rmTemp, tempDir } from '../helpers/netFixtures.js';

test('a node key: Ed25519, a self-signed certificate carrying it, a stable fingerprint', () => {
  const pem = generateKey();
  const k = nodeKeyFromPem(pem, 'alpha');
  assert.ok(isFingerprint(k.fingerprint), k.fingerprint);
  assert.equal(nodeKeyFromPem(pem).fingerprint, k.fingerprint, 'same key, same fingerprint');
  const cert = new X509Certificate(k.certPem);
  assert.equal(cert.subject, 'CN=alpha');
  assert.ok(cert.verify(cert.publicKey), 'self-signature verifies');
  assert.equal(fingerprint(cert.publicKey), k.fingerprint, 'the certificate carries our key');
  assert.notEqual(nodeKeyFromPem().fingerprint, k.fingerprint);
});

test('key files: mode 0600, never overwritten, fingerprint of private or public PEM', () => {
  const dir = tempDir('keys');
  try {
    const file = join(dir, 'a.key');
    const fp = writeKeyFile(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.throws(() => writeKeyFile(file), /EEXIST/);
    assert.equal(fingerprintOfFile(file), fp);
    assert.equal(loadKey(file).fingerprint, fp);
    const pub = join(dir, 'a.pub');
    writeFileSync(pub, createPublicKey(readFileSync(file, 'utf8')).export({ type: 'spki', format: 'pem' }));
    assert.equal(fingerprintOfFile(pub), fp);
    writeFileSync(join(dir, 'bad.key'), 'not a key');
    assert.throws(() => loadKey(join(dir, 'bad.key')), /bad.key: not a usable key/);
  } finally {
    rmTemp(dir);
  }
});

test('secrets: trimmed, at least 16 bytes; proofs depend on secret, binding and role', () => {
  const dir = tempDir('secret');
  try {
    writeFileSync(join(dir, 's'), '  0123456789abcdef-long-enough\n');
    writeFileSync(join(dir, 'short'), 'abc\n');
    const s = loadSecret(join(dir, 's'));
    assert.equal(s.toString(), '0123456789abcdef-long-enough');
    assert.throws(() => loadSecret(join(dir, 'short')), /shorter than 16/);
    const b1 = Buffer.alloc(32, 1);
    const b2 = Buffer.alloc(32, 2);
    assert.notEqual(secretProof(s, b1, 'client'), secretProof(s, b2, 'client'));
    assert.notEqual(secretProof(s, b1, 'client'), secretProof(s, b1, 'server'));
    assert.notEqual(secretProof(s, b1, 'client'), secretProof(Buffer.from('another-secret-xxxxx'), b1, 'client'));
  } finally {
    rmTemp(dir);
  }
});
