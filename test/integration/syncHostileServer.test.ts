// A hostile server against a receiving `omirr sync`: crafted tar streams and unsafe listings
// must fail the sync and write nothing outside its destination.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pack as tarPack } from 'tar-stream';
import type { Entry } from '../../src/core/entry.js';
import type { Tree } from '../../src/core/tree.js';
import { nodeKeyFromPem } from '../../src/net/keys.js';
import { serveTrees, type OmirrServer } from '../../src/net/server.js';
import { makeKey, omirrBin, rmTemp, snapshot, tempDir } from '../helpers/netFixtures.js';

let base: string;
let server: OmirrServer;
let client: ReturnType<typeof makeKey>;

const MTIME = 1_700_000_000_000;
const file = (path: string, size: number): Entry => ({ path, kind: 'file', size, mtimeMs: MTIME, mode: 0o644 });

/** Trees that lie: each lists one harmless file and sends something else for it. */
function hostileTree(kind: string): Tree {
  const body = Buffer.from('evil\n');
  const tar = (name: string, extra: object = {}): Readable => {
    const p = tarPack();
    p.entry({ name, size: body.length, mtime: new Date(MTIME), ...extra }, body);
    p.finalize();
    return p as unknown as Readable;
  };
  const listing: Entry[] = kind === 'unsafe-listing' ? [{ ...file('ok.txt', 5), path: '../escape.txt' } as Entry] : [file('ok.txt', 5)];
  return {
    label: kind,
    writable: false,
    scan: async () => listing,
    hashFiles: async () => new Map(),
    pack: () =>
      kind === 'dot-dot'
        ? tar('../evil.txt')
        : kind === 'absolute'
          ? tar(join(base, 'evil.txt'))
          : kind === 'bad-sha256'
            ? // the listed file, the listed size, and a hash its data does not have
              tar('ok.txt', { pax: { 'omirr.sha256': createHash('sha256').update('good\n').digest('hex') } })
            : kind === 'malformed-sha256'
              ? tar('ok.txt', { pax: { 'omirr.sha256': 'not a hash' } })
              : tar('other.txt'),
    unpack: async () => ({ written: [], failed: [], bytes: 0 }),
    resumeOffsets: async () => new Map(),
    apply: async () => [],
    close: async () => {},
  };
}

before(async () => {
  base = tempDir('hostile-srv');
  client = makeKey(base, 'beta');
  mkdirSync(join(base, 'victim'));
  writeFileSync(join(base, 'victim', 'keep.txt'), 'keep\n');
  const kinds = ['dot-dot', 'absolute', 'unexpected', 'unsafe-listing', 'bad-sha256', 'malformed-sha256'];
  server = await serveTrees({
    listen: { host: '127.0.0.1', port: 0 },
    key: nodeKeyFromPem(undefined, 'mallory'),
    trees: kinds.map((k) => ({ name: k, path: join(base, 'trees', k), writable: false })),
    peers: [{ name: 'beta', fingerprint: client.fingerprint }],
    // each export's directory names the lie its tree tells
    openLocal: (root) => hostileTree(basename(root)),
  });
  for (const k of kinds) mkdirSync(join(base, 'trees', k), { recursive: true });
});

after(async () => {
  await server?.close();
  rmTemp(base);
});

test('omirr sync receiving from a hostile server fails and writes nothing outside its destination', async () => {
  for (const kind of ['dot-dot', 'absolute', 'unexpected', 'unsafe-listing', 'bad-sha256', 'malformed-sha256']) {
    const before = snapshot(base);
    const dst = join(base, `dst-${kind}`);
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [omirrBin, 'sync', `omirr://127.0.0.1:${server.address.port}/${kind}`, dst, '--key', client.file, '--pin', server.fingerprint], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' },
      });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => resolve({ code, stderr }));
    });
    assert.notEqual(r.code, 0, `${kind}: the sync must fail`);
    const after = snapshot(base);
    for (const k of Object.keys(after)) {
      if (!k.startsWith(`dst-${kind}`)) assert.equal(after[k], before[k], `${kind}: ${k} appeared or changed outside the destination`);
    }
    assert.ok(!Object.keys(after).some((k) => k.endsWith('evil.txt') || k.endsWith('escape.txt')), `${kind}: no evil file`);
    assert.ok(!Object.keys(after).some((k) => k === `dst-${kind}/ok.txt`), `${kind}: the lie was not stored as ok.txt`);
    assert.ok(!Object.keys(after).some((k) => k.startsWith(`dst-${kind}/`) && basename(k).startsWith('.omirr-')), `${kind}: no temporary left`);
    if (kind === 'bad-sha256') assert.match(r.stderr, /hash mismatch/, `${kind}: reported as a failed file`);
  }
});
