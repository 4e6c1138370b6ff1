// The tar encoder/parser of the workers, and the transfer-session statechart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, fromPromise, toPromise } from 'xstate';
import { decodePax, encodeFileHeader, END_OF_ARCHIVE, padding, TarParser, type TarHeader } from '../../src/workers/tarFormat.js';
import { transferSessionMachine } from '../../src/machines/transferSession.js';
import { assertSafeRelPath, tempPathFor, unsafeReason } from '../../src/engine/paths.js';

function parseAll(buf: Buffer, slice: number): Array<{ h: TarHeader; data: Buffer }> {
  const out: Array<{ h: TarHeader; data: Buffer[] }> = [];
  const p = new TarParser({
    entry: (h) => out.push({ h, data: [] }),
    data: (c) => out[out.length - 1]!.data.push(Buffer.from(c)),
    entryEnd: () => {},
  });
  for (let i = 0; i < buf.length; i += slice) p.feed(buf.subarray(i, i + slice));
  p.end();
  assert.ok(p.ended);
  return out.map((e) => ({ h: e.h, data: Buffer.concat(e.data) }));
}

test('encode then parse: names short, long, unicode; sizes 0, 1, 512, 513; offsets; any slicing', () => {
  const files = [
    { name: 'a', data: Buffer.alloc(0) },
    { name: 'b/c', data: Buffer.alloc(1, 1) },
    { name: 'x'.repeat(300), data: Buffer.alloc(512, 2) },
    { name: 'ü/ñ é', data: Buffer.alloc(513, 3), extra: { 'omirr.offset': '42' } },
  ];
  const buf = Buffer.concat([
    ...files.flatMap((f) => [encodeFileHeader(f.name, f.data.length, 0o640, 1_700_000_000_999, f.extra), f.data, Buffer.alloc(padding(f.data.length))]),
    END_OF_ARCHIVE,
  ]);
  for (const slice of [1, 7, 512, 100_000]) {
    const got = parseAll(buf, slice);
    assert.deepEqual(got.map((g) => g.h.name), files.map((f) => f.name));
    got.forEach((g, i) => assert.ok(g.data.equals(files[i]!.data)));
    assert.equal(got[3]!.h.pax['omirr.offset'], '42');
    assert.equal(got[0]!.h.mode, 0o640);
  }
});

test('pax records are parsed strictly', () => {
  assert.deepEqual(decodePax(Buffer.from('11 path=ab\n')), { path: 'ab' });
  assert.throws(() => decodePax(Buffer.from('99 path=ab\n')), /malformed/);
  assert.throws(() => decodePax(Buffer.from('garbage')), /malformed/);
});

test('a truncated stream is an error at end()', () => {
  const buf = Buffer.concat([encodeFileHeader('f', 1000, 0o644, 0), Buffer.alloc(10)]);
  const p = new TarParser({ entry: () => {}, data: () => {}, entryEnd: () => {} });
  p.feed(buf);
  assert.throws(() => p.end(), /truncated/);
});

test('safe relative paths', () => {
  for (const ok of ['a', 'a/b', '.hidden', 'a..b', '...']) assert.equal(unsafeReason(ok), null, ok);
  for (const bad of ['', '/a', 'a/../b', '..', './a', 'a//b', 'a/', 'a\0b', 'x'.repeat(256)]) {
    assert.throws(() => assertSafeRelPath(bad), /unsafe path/, JSON.stringify(bad));
  }
  const t = tempPathFor({ path: `d/${'n'.repeat(255)}`, size: 1, mtimeMs: 2 });
  assert.ok(Buffer.byteLength(t.split('/')[1]!) <= 255);
  assert.notEqual(tempPathFor({ path: 'f', size: 1, mtimeMs: 2 }), tempPathFor({ path: 'f', size: 1, mtimeMs: 3 }));
});

function session(hasPlan: boolean, dryRun: boolean, failAt?: string) {
  const visited: string[] = [];
  const step = <T,>(name: string, out: T) =>
    fromPromise<T, void>(async () => {
      visited.push(name);
      if (failAt === name) throw new Error(`${name} broke`);
      return out;
    });
  const m = transferSessionMachine.provide({
    actors: {
      scan: step('scan', { srcEntries: 3, dstEntries: 1 }),
      plan: step('plan', { mkdirs: 1, transfers: 2, symlinks: 0, setattrs: 0, deletes: 0, bytes: 10 }),
      transfer: step<void>('transfer', undefined),
      apply: step<void>('apply', undefined),
    },
  });
  const actor = createActor(m, { input: { label: 't', hasPlan, dryRun } });
  actor.start();
  return { actor, visited };
}

test('transferSession: full run, dry run, given plan, failure', async () => {
  let s = session(false, false);
  assert.deepEqual(await toPromise(s.actor), { ok: true });
  assert.deepEqual(s.visited, ['scan', 'plan', 'transfer', 'apply']);
  assert.equal(s.actor.getSnapshot().context.planned?.transfers, 2);

  s = session(false, true);
  await toPromise(s.actor);
  assert.deepEqual(s.visited, ['scan', 'plan']);

  s = session(true, false);
  await toPromise(s.actor);
  assert.deepEqual(s.visited, ['transfer', 'apply']);

  s = session(false, false, 'transfer');
  assert.deepEqual(await toPromise(s.actor), { ok: false, error: 'transfer broke' });
  assert.equal(s.actor.getSnapshot().value, 'failed');
});

test('a name that is not UTF-8 travels in the pax path as its exact bytes and parses back to the same escaped string; no U+FFFD', async () => {
  const { decodeName } = await import('../../src/core/names.js');
  const names = [decodeName(Buffer.from([0x66, 0xff, 0x2e, 0x74, 0x78, 0x74])), `${decodeName(Buffer.from([0x64, 0xe9]))}/inner ü ${decodeName(Buffer.from([0xc3, 0x28]))}`];
  const data = Buffer.from('x');
  const buf = Buffer.concat([...names.flatMap((n) => [encodeFileHeader(n, 1, 0o644, 0), data, Buffer.alloc(padding(1))]), END_OF_ARCHIVE]);
  for (const slice of [1, 512, 100_000]) assert.deepEqual(parseAll(buf, slice).map((g) => g.h.name), names);
  assert.ok(buf.includes(Buffer.from([0x20, 0x70, 0x61, 0x74, 0x68, 0x3d, 0x66, 0xff, 0x2e])), 'the raw byte 0xff is in the pax record');
  assert.ok(!buf.includes(Buffer.from([0xef, 0xbf, 0xbd])), 'no U+FFFD anywhere');
  assert.throws(() => encodeFileHeader('bad\uD800', 1, 0o644, 0), /lone surrogate/);
});
