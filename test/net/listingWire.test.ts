// The binary listing (capability listing-bin): every entry survives the round trip exactly,
// however the stream is cut; anything a hostile peer could send instead is refused; and a
// client and server that negotiated it list the same entries as the JSON form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Entry } from '../../src/core/entry.js';
import type { Expected, OpResult, ScanOptions, Tree, TreeOp, UnpackResult } from '../../src/core/tree.js';
import { connectPeer, connectTree } from '../../src/net/client.js';
import { ProtocolError } from '../../src/net/frames.js';
import { nodeKeyFromPem } from '../../src/net/keys.js';
import { encodeListing, LISTING_CAP, ListingDecoder } from '../../src/net/listingWire.js';
import { RemoteTree } from '../../src/net/remoteTree.js';
import { serveTrees } from '../../src/net/server.js';

const hash = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Entries that exercise every field and every way two neighbouring paths can share a prefix. */
function trickyEntries(): Entry[] {
  return [
    { path: 'a', kind: 'dir', size: 0, mtimeMs: 1_700_000_000_000, mode: 0o755 },
    { path: 'a/b.txt', kind: 'file', size: 2 ** 50, mtimeMs: -(2 ** 47), mtimeNs: -500_000, mode: 0o7777, hash: hash('x') },
    { path: 'a/b.txu', kind: 'file', size: 0, mtimeMs: 2 ** 47, mtimeNs: 499_999, mode: 0, uid: 2 ** 32 - 1, gid: 0, ino: Number.MAX_SAFE_INTEGER },
    { path: 'a/link', kind: 'symlink', size: 0, mtimeMs: 5, mode: 0o777, target: '../é/\udcff/x' },
    // two emoji that share their high surrogate: the prefix must not split the pair
    { path: 'a/\ud83d\ude00', kind: 'file', size: 1, mtimeMs: 5, mode: 0o644 },
    { path: 'a/\ud83d\ude01', kind: 'file', size: 1, mtimeMs: 5, mode: 0o644 },
    // escaped bytes (not UTF-8) next to valid UTF-8 and each other
    { path: 'a/\udc80\udcff', kind: 'file', size: 3, mtimeMs: 6, mode: 0o600 },
    { path: 'a/\udc80\udcfe', kind: 'file', size: 3, mtimeMs: 6, mode: 0o600 },
    { path: 'a/\udc80é', kind: 'file', size: 3, mtimeMs: 6, mode: 0o600 },
    { path: 'ü/ß/日本語', kind: 'dir', size: 0, mtimeMs: 0, mode: 0o700 },
    { path: 'z'.repeat(255) + '/' + 'y'.repeat(255), kind: 'file', size: 7, mtimeMs: 1, mode: 0o644 },
    { path: 'b', kind: 'file', size: 1, mtimeMs: 1, mode: 0o644 },
  ];
}

function encoded(entries: Entry[]): Buffer {
  return Buffer.concat([...encodeListing(entries)]);
}

function decode(chunks: Buffer[]): Entry[] {
  const d = new ListingDecoder();
  for (const c of chunks) d.push(c);
  return d.finish();
}

test('every field of every kind survives the round trip, however the stream is cut', () => {
  const entries = trickyEntries();
  const bytes = encoded(entries);
  assert.deepEqual(decode([bytes]), entries);
  for (let cut = 1; cut < bytes.length; cut++) {
    assert.deepEqual(decode([bytes.subarray(0, cut), bytes.subarray(cut)]), entries, `cut at ${cut}`);
  }
  assert.deepEqual(decode([...bytes].map((b) => Buffer.from([b]))), entries, 'one byte at a time');
  assert.deepEqual(decode([]), [], 'an empty listing is no bytes');
});

test('a big listing spans blocks and is far smaller than its JSON', () => {
  const entries: Entry[] = [];
  for (let d = 0; d < 200; d++) {
    entries.push({ path: `d${d}`, kind: 'dir', size: 0, mtimeMs: 1_700_000_000_000 + d, mode: 0o755 });
    for (let f = 0; f < 250; f++) entries.push({ path: `d${d}/f${d * 250 + f}.dat`, kind: 'file', size: (f * 7919) % 16384, mtimeMs: 1_700_000_000_000 + f * 13, mtimeNs: f * 1000 - 250_000, mode: 0o644 });
  }
  const blocks = [...encodeListing(entries)];
  assert.ok(blocks.length > 5, `${blocks.length} blocks`);
  const bytes = Buffer.concat(blocks);
  // cut into odd-sized pieces, as a socket would
  const pieces: Buffer[] = [];
  for (let i = 0, n = 1; i < bytes.length; i += n, n = (n * 7 + 3) % 70_000) pieces.push(bytes.subarray(i, i + n));
  assert.deepEqual(decode(pieces), entries);
  const json = Buffer.byteLength(JSON.stringify(entries));
  assert.ok(bytes.length * 4 < json, `binary ${bytes.length} bytes, JSON ${json}`);
});

/** A listing of one entry, built by hand: flags, shared, suffix, then the fields. */
function record(parts: number[]): Buffer {
  const body = Buffer.from(parts);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}
const ascii = (s: string): number[] => [s.length, ...Buffer.from(s, 'latin1')];

test('whatever else a peer sends is refused', () => {
  const ok = record([0, 0, ...ascii('f'), 1, 2, 0o44]);
  assert.deepEqual(decode([ok]), [{ path: 'f', kind: 'file', size: 1, mtimeMs: 1, mode: 0o44 }]);
  const bad: Array<[string, Buffer[]]> = [
    ['cut inside a block', [ok.subarray(0, ok.length - 1)]],
    ['a block of 0 bytes', [Buffer.alloc(4)]],
    ['a block over the limit', [Buffer.from([0, 0x10, 0, 0])]],
    ['an unknown kind', [record([3, 0, ...ascii('f'), 0, 0])]],
    ['an absolute path', [record([0, 0, ...ascii('/etc/passwd'), 1, 2, 0])]],
    ['a .. segment', [record([1, 0, ...ascii('a/../b'), 2, 0])]],
    ['an empty path', [record([1, 0, 0, 2, 0])]],
    ['a NUL', [record([1, 0, ...ascii('a\0b'), 2, 0])]],
    // 'a' + byte 0xc3 (escaped), then a path sharing both code units + byte 0xa9: together
    // the escapes spell UTF-8 'é', a second name for the file 'aé'
    ['escapes that spell UTF-8 (a second name for one file)', [record([1, 0, 2, 0x61, 0xc3, 2, 0, 1, 2, 1, 0xa9, 0, 0])]],
    ['more shared than the path before has', [record([1, 0, ...ascii('a'), 2, 0, 1, 5, ...ascii('b'), 0, 0])]],
    ['a mode over 0o7777', [record([1, 0, ...ascii('d'), 2, 0x80, 0x40])]],
    ['a size over 2^50', [record([0, 0, ...ascii('f'), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 2, 0])]],
    ['an overlong number', [record([1, 0, ...ascii('d'), 0x82, 0x00, 0])]],
    ['a number of more than 8 bytes', [record([1, 0, ...ascii('d'), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0])]],
    ['an mtimeNs out of range', [record([1 | 4, 0, ...ascii('d'), 2, 0x82, 0xd0, 0x3d, 0])]],
    ['a hash on a directory', [record([1 | 64, 0, ...ascii('d'), 2, 0, ...Buffer.alloc(32)])]],
    ['a record cut short', [record([0, 0, ...ascii('f'), 1])]],
    ['a name longer than its block', [record([1, 0, 50, 0x61])]],
    ['an empty symlink target', [record([2, 0, ...ascii('l'), 2, 0x7f, 0])]],
  ];
  for (const [what, chunks] of bad) {
    assert.throws(() => decode(chunks), ProtocolError, what);
  }
});

/** A tree whose scan lists trickyEntries (hashes only when asked, as a real tree). */
class ListingTree implements Tree {
  readonly label = 'listing';
  readonly writable = false;
  async scan(opts: ScanOptions = {}): Promise<Entry[]> {
    return trickyEntries().map((e) => {
      const c = { ...e };
      if (!opts.withHashes) delete c.hash;
      return c;
    });
  }
  async hashFiles(): Promise<Map<string, string>> {
    return new Map();
  }
  pack(): Readable {
    return Readable.from([]);
  }
  async unpack(): Promise<UnpackResult> {
    return { written: [], failed: [], bytes: 0 };
  }
  async resumeOffsets(_e: Expected[]): Promise<Map<string, number>> {
    return new Map();
  }
  async apply(_ops: TreeOp[]): Promise<OpResult[]> {
    return [];
  }
  async close(): Promise<void> {}
}

test('over a connection: the binary listing where both sides offer it, JSON with a peer that does not, the same entries', async () => {
  const serverKey = nodeKeyFromPem(undefined, 'srv');
  const client = nodeKeyFromPem();
  const server = await serveTrees({
    listen: { host: '127.0.0.1', port: 0 },
    key: serverKey,
    trees: [{ name: 't', path: '/', writable: false }],
    peers: [{ name: 'me', fingerprint: client.fingerprint }],
    openLocal: () => new ListingTree(),
  });
  try {
    const url = `omirr://127.0.0.1:${server.address.port}/t`;
    const bin = await connectTree(url, { nodeKey: client, pin: server.fingerprint });
    const binEntries = await bin.scan({ withHashes: true });
    const wire = bin.wireBytes!();
    await bin.close();
    assert.deepEqual(binEntries, trickyEntries());

    // an older peer: the session without the capability lists as JSON items
    const { conn, session } = await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint });
    assert.ok(session.caps.includes(LISTING_CAP));
    const json = await RemoteTree.open(conn, { tree: 't' }, url, () => conn.closeAndWait(), session.caps.filter((c) => c !== LISTING_CAP));
    const jsonEntries = await json.scan({ withHashes: true });
    const jsonWire = json.wireBytes!();
    await json.close();
    assert.deepEqual(jsonEntries, binEntries);
    assert.ok(wire.received < jsonWire.received, `binary ${wire.received} bytes received, JSON ${jsonWire.received}`);
  } finally {
    await server.close();
  }
});
