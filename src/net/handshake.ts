// The protocol handshake: version and capability negotiation plus peer authentication.
// The client speaks first (hello); the server answers welcome or refused, and a refused peer
// gets nothing else: the server reads no request before the peer is authenticated, and the
// frame limit stays small until then. See docs/protocol.md and docs/security.md.
import { nodeCrypto } from '../workers/nodeCrypto.js';
import type { TLSSocket } from 'node:tls';
import { fingerprint } from './keys.js';
import { blake3Available, HASH_BLAKE3_CAP, HASH_BLAKE3_RANGES_CAP, oldDelta, TAR_BLAKE3_CAP } from '../workers/contentHash.js';
import type { Connection } from './connection.js';
import { ProtocolError } from './frames.js';

export const PROTOCOL = 'omirr';
/** Versions this build speaks, oldest first. */
export const VERSIONS = [1] as const;
/** Capabilities this build offers; the session uses the intersection of both sides. */
/** 'inline': peer.changes items may carry small files' contents (src/daemon/inlineContent.ts). */
/** 'delta': the tree requests signatures, packDelta and unpackDelta (src/net/deltaWire.ts). */
/** 'delta-lanes32': signatures may carry lanes32 block hashes instead of CRC-32 (src/core/delta.ts). */
/** 'listing-bin': scan answers may come as a binary listing on a download stream (src/net/listingWire.ts). */
/** 'prepare': the tree request `prepare` (a transfer follows: start what it needs; src/net/treeService.ts). */
/** 'root-attrs': `open` answers with the root directory's own mode and mtime, and the tree request `rootAttrs` sets them. */
/** 'apply-after': a tree `apply` with `after: true` runs once the unpacks of that tree read before it are done, and only if they went through. */
/** 'tar-hash-ustar': tar streams may carry a file's hash in its ustar header's linkname (src/net/remoteTree.ts TAR_HASH_USTAR_CAP). */
/** 'listing-same': a binary scan may carry `like`, the sha256 of the requester's own listing's like form (src/core/likeForm.ts); the answer is then `same: true` with no listing when the tree's is the same. */
/** 'listing-same-any': ...whatever walks the tree (`omirr serve`'s io thread too); a server offers it only when it says so (ServerAuthPolicy.listingSameAny). */
export const CAPABILITIES = ['tree', 'push', 'ping', 'inline', 'delta', 'delta-lanes32', 'listing-bin', 'prepare', 'root-attrs', 'apply-after', 'tar-hash-ustar', 'listing-same', 'listing-same-any'] as const;
/**
 * What this process offers: CAPABILITIES, and 'hash-blake3' and 'hash-blake3-ranges' (delta
 * streams verified with BLAKE3, or BLAKE3 per range) and 'tar-blake3' (large files of tar
 * streams verified with BLAKE3) where the BLAKE3 binding loads.
 */
export function offeredCapabilities(): string[] {
  const caps = blake3Available() ? [...CAPABILITIES, HASH_BLAKE3_CAP, HASH_BLAKE3_RANGES_CAP, TAR_BLAKE3_CAP] : [...CAPABILITIES];
  // OMIRR_OLD_DELTA=1: as the build before these two (tests and benchmarks)
  return oldDelta() ? caps.filter((c) => c !== 'delta-lanes32' && c !== HASH_BLAKE3_RANGES_CAP) : caps;
}
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** A peer the server knows; `fingerprint` pins its key. */
export interface KnownPeer {
  name: string;
  fingerprint?: string;
}

export interface Session {
  version: number;
  caps: string[];
  /** Who the other side is: a configured peer name, a claimed name (secret), or 'ssh'. */
  peer: string;
  /** Their clock minus ours, in ms, as seen at the handshake (for the daemon's reports). */
  clockOffsetMs?: number;
}

/** Transport facts the handshake needs: TLS peer key and the channel binding. */
export interface TransportAuth {
  /** Fingerprint of the key the other side presented in TLS (undefined over ssh stdio). */
  peerFingerprint?: string;
  /** TLS exporter value: binds a secret proof to this one connection (no replay, no relay). */
  binding?: Buffer;
}

export function tlsTransportAuth(socket: TLSSocket): TransportAuth {
  const cert = socket.getPeerX509Certificate();
  return {
    peerFingerprint: cert ? fingerprint(cert.publicKey) : undefined,
    binding: socket.exportKeyingMaterial(32, 'EXPORTER-omirr-auth', Buffer.alloc(0)),
  };
}

/** HMAC of the channel binding under the shared secret; the role keeps the two proofs apart. */
export function secretProof(secret: Buffer, binding: Buffer, role: 'client' | 'server'): string {
  return nodeCrypto().createHmac('sha256', secret).update(`omirr-auth-v1 ${role}\0`).update(binding).digest('base64');
}

function proofMatches(secret: Buffer, binding: Buffer, role: 'client' | 'server', proof: unknown): boolean {
  if (typeof proof !== 'string') return false;
  const want = Buffer.from(secretProof(secret, binding, role), 'base64');
  const got = Buffer.from(proof, 'base64');
  return got.length === want.length && nodeCrypto().timingSafeEqual(got, want);
}

export interface ServerAuthPolicy {
  /** 'tls': peers must authenticate; 'ssh': the transport already did (serve --stdio). */
  mode: 'tls' | 'ssh';
  node: string;
  peers: KnownPeer[];
  secret?: Buffer;
  timeoutMs?: number;
  /**
   * Offer 'listing-same-any': this server's trees answer a scan's `like` from the walk its
   * io thread makes at `open` (server.ts openLocalTree). Other servers (the daemon's, a
   * service with its own trees) leave it out, so a client does not wait for a digest in vain.
   */
  listingSameAny?: boolean;
}

/** Could not reach, or could not authenticate with, the other side (CLI exit code 3). */
export class ConnectError extends Error {
  override name = 'ConnectError';
}

/** Authentication failed (either direction), or the server refused us. */
export class RefusedError extends ConnectError {
  override name = 'AuthRefusedError';
}

/** Server side: returns the session, or sends `refused`, closes and throws. */
export async function serverHandshake(conn: Connection, transport: TransportAuth, policy: ServerAuthPolicy): Promise<Session> {
  const hello = await conn.nextMessage(policy.timeoutMs ?? HANDSHAKE_TIMEOUT_MS);
  const refuse = (reason: string): never => {
    conn.sendControl({ t: 'refused', reason });
    conn.end('refused');
    throw new RefusedError(reason);
  };
  if (hello.t === 'refused') {
    conn.end('refused');
    throw new RefusedError(`the client refused our key: ${String(hello.reason ?? 'no reason given').slice(0, 300)}`);
  }
  if (hello.t !== 'hello' || hello.proto !== PROTOCOL) refuse('expected an omirr hello');
  const theirs = Array.isArray(hello.versions) ? hello.versions.filter((v): v is number => typeof v === 'number') : [];
  const common = VERSIONS.filter((v) => theirs.includes(v));
  if (common.length === 0) refuse(`no common protocol version (this server speaks ${VERSIONS.join(', ')})`);
  const version = Math.max(...common);
  const theirCaps = Array.isArray(hello.caps) ? hello.caps.filter((c): c is string => typeof c === 'string') : [];
  const caps = offeredCapabilities().filter((c) => theirCaps.includes(c) && (c !== 'listing-same-any' || policy.listingSameAny === true));
  const claimed = typeof hello.node === 'string' && /^[\w.@-]{1,64}$/.test(hello.node) ? hello.node : undefined;

  let peer: string | undefined;
  let proof: string | undefined;
  if (policy.mode === 'ssh') {
    peer = claimed ?? 'ssh';
  } else {
    const byKey = transport.peerFingerprint ? policy.peers.find((p) => p.fingerprint === transport.peerFingerprint) : undefined;
    const secretOk =
      policy.secret !== undefined && transport.binding !== undefined && proofMatches(policy.secret, transport.binding, 'client', hello.proof);
    if (byKey) peer = byKey.name;
    else if (secretOk) peer = claimed ?? 'secret';
    if (peer === undefined) refuse('not authenticated: unknown key and no valid secret');
    if (secretOk && policy.secret && transport.binding) proof = secretProof(policy.secret, transport.binding, 'server');
  }
  conn.sendControl({ t: 'welcome', version, caps, node: policy.node, peer, time: Date.now(), ...(proof ? { proof } : {}) });
  return { version, caps, peer: peer! };
}

export interface ClientAuth {
  mode: 'tls' | 'ssh';
  node?: string;
  /** Acceptable server key fingerprints; when empty the secret proof must authenticate it. */
  pins?: string[];
  secret?: Buffer;
  timeoutMs?: number;
}

/** Client side: check the server's key before saying anything, then hello/welcome. */
export async function clientHandshake(conn: Connection, transport: TransportAuth, auth: ClientAuth): Promise<Session> {
  const pins = auth.pins ?? [];
  if (auth.mode === 'tls') {
    if (pins.length === 0 && !auth.secret) throw new RefusedError('no way to authenticate the server: give its key fingerprint or a shared secret');
    if (pins.length > 0 && !pins.includes(transport.peerFingerprint ?? '')) {
      // Tell the server why we hang up (it would only see "socket hang up"); its own
      // fingerprint is all it learns, the pin stays ours.
      const got = transport.peerFingerprint ?? '(none)';
      conn.sendControl({ t: 'refused', reason: `the client does not accept this server's key ${got}: it pins another key for this address` });
      conn.end('refused');
      throw new RefusedError(`server key ${got} is not the pinned ${pins.join(' or ')} (a new key on that node? then update the pin)`);
    }
  }
  const sentAt = Date.now();
  const hello: Record<string, unknown> = { t: 'hello', proto: PROTOCOL, versions: [...VERSIONS], caps: offeredCapabilities() };
  if (auth.node) hello.node = auth.node;
  if (auth.mode === 'tls' && auth.secret && transport.binding) hello.proof = secretProof(auth.secret, transport.binding, 'client');
  conn.sendControl(hello);
  const m = await conn.nextMessage(auth.timeoutMs ?? HANDSHAKE_TIMEOUT_MS);
  const receivedAt = Date.now();
  if (m.t === 'refused') {
    conn.destroy();
    throw new RefusedError(`refused by server: ${String(m.reason ?? '')}`);
  }
  if (m.t !== 'welcome' || typeof m.version !== 'number' || !(VERSIONS as readonly number[]).includes(m.version)) {
    conn.destroy();
    throw new ProtocolError('expected a welcome with a version we speak');
  }
  if (auth.mode === 'tls' && pins.length === 0) {
    // Only the secret vouches for this server: it must prove it knows it too.
    if (!auth.secret || !transport.binding || !proofMatches(auth.secret, transport.binding, 'server', m.proof)) {
      conn.destroy();
      throw new RefusedError('server did not prove it knows the shared secret');
    }
  }
  const caps = Array.isArray(m.caps) ? m.caps.filter((c): c is string => typeof c === 'string') : [];
  const clockOffsetMs = typeof m.time === 'number' ? Math.round(m.time - (sentAt + receivedAt) / 2) : undefined;
  return { version: m.version, caps, peer: typeof m.node === 'string' ? m.node : 'server', clockOffsetMs };
}
