// A site's tar stream (src/sites/siteTar.ts) built from small files collected whole
// (src/sites/ftpWholeFile.ts): entries written in place in their slab frames, and frames that
// follow each other in memory pushed as one chunk. These tests try to make that join go
// wrong: a failed file's frame between two good ones, files that end in another order than
// they were asked for, a file that grew, a name that needs a pax header.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { siteTarStream, type SiteFileSource, type WholeFile } from '../../src/sites/siteTar.js';
import { refusalOf } from '../../src/core/refusedFiles.js';
import { WholeFileSink } from '../../src/sites/ftpWholeFile.js';
import { TarParser, type TarHeader } from '../../src/workers/tarFormat.js';

interface Got {
  h: TarHeader;
  data: Buffer;
}

async function readAll(tar: Readable): Promise<{ entries: Got[]; chunks: number }> {
  const out: Array<{ h: TarHeader; data: Buffer[] }> = [];
  const p = new TarParser({
    entry: (h) => out.push({ h, data: [] }),
    data: (c) => out[out.length - 1]!.data.push(Buffer.from(c)),
    entryEnd: () => {},
  });
  let chunks = 0;
  for await (const c of tar as AsyncIterable<Buffer>) {
    chunks++;
    p.feed(c);
  }
  p.end();
  assert.ok(p.ended, 'the stream ends with its end-of-archive blocks');
  return { entries: out.map((e) => ({ h: e.h, data: Buffer.concat(e.data) })), chunks };
}

function content(i: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let k = 0; k < n; k++) b[k] = (i * 31 + k * 7) & 0xff;
  return b;
}

/** A source whose files arrive through real WholeFileSinks (frames cut one after another from one slab). */
function wholeSource(
  files: Array<{ path: string; listed: number; body?: Buffer; fail?: boolean }>,
  order: 'asked' | 'reverse',
): SiteFileSource {
  const listed = new Map(files.map((f) => [f.path, f]));
  const pending: Array<() => void> = [];
  return {
    label: 'test',
    listed: (p) => {
      const f = listed.get(p);
      return f ? { size: f.listed, mode: 0o644, mtimeMs: 1_700_000_000_000 } : undefined;
    },
    open: () => Promise.reject(new Error('whole files only here')),
    openWhole: (p, _off, expect, limit) => {
      const f = listed.get(p)!;
      const sink = new WholeFileSink(expect, limit);
      const finish = (): void => {
        if (f.fail) {
          sink.fail(new Error('550 refused'));
          return;
        }
        // as the pipeline gives it: a few reads of any size
        const b = f.body!;
        for (let at = 0; at < b.length; at += 1000) sink.writeCopy(b.subarray(at, at + 1000));
        sink.end();
      };
      pending.push(finish);
      // every file asked for so far ends now (in the order asked, or the other way round)
      const due = pending.splice(0);
      if (order === 'reverse') due.reverse();
      for (const d of due) d();
      return { data: sink.data as Promise<WholeFile>, cancel: () => sink.cancel() };
    },
    ahead: 8,
  };
}

test('framed small files: exact entries, joined into few chunks, whatever order they end in', async () => {
  for (const order of ['asked', 'reverse'] as const) {
    const files = Array.from({ length: 40 }, (_, i) => {
      const body = content(i, i === 5 ? 0 : 1 + ((i * 977) % 9000));
      return { path: `d/f${i}`, listed: body.length, body };
    });
    const tar = siteTarStream(files.map((f) => ({ path: f.path })), wholeSource(files, order));
    const { entries, chunks } = await readAll(tar);
    assert.deepEqual(entries.map((e) => e.h.name), files.map((f) => f.path), order);
    entries.forEach((e, i) => {
      assert.equal(e.h.size, files[i]!.body.length);
      assert.ok(e.data.equals(files[i]!.body), `${order}: ${e.h.name} content`);
      assert.equal(e.h.pax['omirr.sha256'], undefined, 'no per-file hash from a site');
    });
    assert.ok(chunks < files.length / 2, `${order}: ${chunks} chunks for ${files.length} files`);
  }
});

test("a refused file's frame between two good ones is never sent as part of them", async () => {
  const files = [
    { path: 'a', listed: 700, body: content(1, 700) },
    { path: 'refused', listed: 3000, fail: true },
    { path: 'b', listed: 1200, body: content(2, 1200) },
    { path: 'refused2', listed: 10, fail: true },
    { path: 'c', listed: 1, body: content(3, 1) },
  ];
  const { entries } = await readAll(siteTarStream(files.map((f) => ({ path: f.path })), wholeSource(files, 'asked')));
  assert.deepEqual(entries.map((e) => e.h.name), ['a', 'b', 'c']);
  for (const e of entries) assert.ok(e.data.equals(files.find((f) => f.path === e.h.name)!.body!), e.h.name);
});

test("a file the site refused keeps the site's reply beside the stream; one lost with the connection does not", async () => {
  const reply = (code: number, message: string): Error => Object.assign(new Error(message), { code });
  const bodies: Record<string, Buffer> = { ok: content(1, 300), 'whole-550': content(2, 10), 'stream-550': content(3, 5 << 20), reset: content(4, 5 << 20), oops: content(5, 10) };
  const src: SiteFileSource = {
    label: 'test',
    listed: (p) => (bodies[p] ? { size: bodies[p]!.length, mode: 0o644, mtimeMs: 1_700_000_000_000 } : undefined),
    // small files whole (as FTP's pipeline), large ones as streams
    openWhole: (p) => (p === 'whole-550' ? { data: Promise.reject(reply(550, '550 Failed to open file.')), cancel: () => {} } : undefined),
    open: (p) => {
      if (p === 'stream-550') return Promise.reject(reply(550, '550 Permission denied.'));
      if (p === 'reset') return Promise.reject(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
      // vsftpd's answer from a session whose server was killed: a reply, but the session's end
      if (p === 'oops') return Promise.reject(reply(500, '500 OOPS: child died'));
      return Promise.resolve(Readable.from([bodies[p]!]));
    },
  };
  const tar = siteTarStream(Object.keys(bodies).map((path) => ({ path })), src);
  const { entries } = await readAll(tar);
  assert.deepEqual(entries.map((e) => e.h.name), ['ok']);
  assert.equal(refusalOf(tar, 'whole-550'), 'the site refused it: 550 Failed to open file.');
  assert.equal(refusalOf(tar, 'stream-550'), 'the site refused it: 550 Permission denied.');
  assert.equal(refusalOf(tar, 'reset'), undefined, "a broken connection is the lost site's, said once");
  assert.equal(refusalOf(tar, 'oops'), undefined, "a reply that the session died is the lost site's too");
  assert.equal(refusalOf(tar, 'ok'), undefined);
});

test('a file that changed since it was listed goes with its true size (the receiver refuses it); a long name gets its pax header', async () => {
  const long = `${'x'.repeat(120)}/ü-name`;
  const files = [
    { path: 'grew', listed: 100, body: content(4, 5000) },
    { path: 'shrank', listed: 5000, body: content(5, 100) },
    { path: long, listed: 600, body: content(6, 600) },
    { path: 'same', listed: 64, body: content(7, 64) },
  ];
  const { entries } = await readAll(siteTarStream(files.map((f) => ({ path: f.path })), wholeSource(files, 'reverse')));
  assert.deepEqual(entries.map((e) => e.h.name), files.map((f) => f.path));
  entries.forEach((e, i) => {
    assert.equal(e.h.size, files[i]!.body.length, e.h.name);
    assert.ok(e.data.equals(files[i]!.body), e.h.name);
  });
});

test('a file grown past the limit is cut at the limit (never buffered without end)', async () => {
  const sink = new WholeFileSink(10, 4096);
  let closed = false;
  sink.once('close', () => (closed = true));
  for (let i = 0; i < 10; i++) sink.writeCopy(Buffer.alloc(1000, i));
  const got = await sink.data;
  assert.equal(got.data.length, 4096);
  assert.equal(got.framed, undefined);
  assert.ok(closed && sink.destroyed, 'the pipeline is told to drop the rest');
});
