// Node keys: an Ed25519 key pair per node, stored as a PKCS#8 PEM file. A peer is identified
// by the fingerprint of its public key (SHA-256 of the SubjectPublicKeyInfo DER), never by a
// certificate chain: TLS needs a certificate to carry the key, so we build a self-signed one
// at load time (Node has no X.509 builder) and peers pin the key inside it.
import type { KeyObject } from 'node:crypto';
import { nodeCrypto } from '../workers/nodeCrypto.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { bitString, explicit, generalizedTime, integer, oid, sequence, set, utcTime, utf8String } from './der.js';

/** Everything TLS needs for one node, loaded once. */
export interface NodeKey {
  privateKey: KeyObject;
  /** PKCS#8 PEM of the private key (for tls.createSecureContext). */
  keyPem: string;
  /** A self-signed certificate carrying the public key (validity is not checked; pins are). */
  certPem: string;
  fingerprint: string;
}

const ED25519 = '1.3.101.112';
const COMMON_NAME = '2.5.4.3';
export const FINGERPRINT_PREFIX = 'SHA256:';
const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;

export function isFingerprint(s: string): boolean {
  return FINGERPRINT_RE.test(s);
}

/** `SHA256:` + unpadded base64 of SHA-256 over the public key's SPKI DER (OpenSSH's style). */
export function fingerprint(key: KeyObject): string {
  const pub = key.type === 'private' ? nodeCrypto().createPublicKey(key) : key;
  const der = pub.export({ type: 'spki', format: 'der' });
  return FINGERPRINT_PREFIX + nodeCrypto().createHash('sha256').update(der).digest('base64').replace(/=+$/, '');
}

/** A fresh node key as PKCS#8 PEM. */
export function generateKey(): string {
  const { privateKey } = nodeCrypto().generateKeyPairSync('ed25519');
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Write a new key file (mode 0600, never overwriting) and return its fingerprint. */
export function writeKeyFile(file: string): string {
  const pem = generateKey();
  writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
  return fingerprint(nodeCrypto().createPrivateKey(pem));
}

/** A NodeKey from PEM text: the key file's content, or a fresh key when none is given. */
export function nodeKeyFromPem(pem: string = generateKey(), name = 'omirr'): NodeKey {
  const privateKey = nodeCrypto().createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('node keys are Ed25519 (make one with omirr keygen)');
  return {
    privateKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem: selfSignedCertPem(privateKey, name),
    fingerprint: fingerprint(privateKey),
  };
}

export function loadKey(file: string, name?: string): NodeKey {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`key ${file}: ${(err as Error).message}`);
  }
  try {
    return nodeKeyFromPem(pem, name);
  } catch (err) {
    throw new Error(`key ${file}: not a usable key (${(err as Error).message})`);
  }
}

/** The fingerprint of a key file (private key PEM) or of a public key PEM. */
export function fingerprintOfFile(file: string): string {
  const pem = readFileSync(file, 'utf8');
  return fingerprint(pem.includes('PRIVATE KEY') ? nodeCrypto().createPrivateKey(pem) : nodeCrypto().createPublicKey(pem));
}

function selfSignedCertPem(privateKey: KeyObject, name: string): string {
  const algorithm = sequence(oid(ED25519));
  const dn = sequence(set(sequence(oid(COMMON_NAME), utf8String(name))));
  const spki = nodeCrypto().createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(Buffer.concat([Buffer.from([1]), nodeCrypto().randomBytes(15)])),
    algorithm,
    dn,
    sequence(utcTime('000101000000Z'), generalizedTime('99991231235959Z')),
    dn,
    spki,
  );
  const cert = sequence(tbs, algorithm, bitString(nodeCrypto().sign(null, tbs, privateKey)));
  const b64 = cert.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

/** Shorter secrets are refused: a guessable secret would make the proof worthless. */
export const MIN_SECRET_BYTES = 16;

/** The shared secret in a file: its content without surrounding whitespace. */
export function loadSecret(file: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`secret ${file}: ${(err as Error).message}`);
  }
  const secret = Buffer.from(text, 'utf8');
  if (secret.length < MIN_SECRET_BYTES) throw new Error(`secret ${file}: shorter than ${MIN_SECRET_BYTES} bytes`);
  return secret;
}
