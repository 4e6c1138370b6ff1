// FrameDecoder's streaming mode (streamData): data frames come out as pieces, views into the
// chunks pushed, and everything else (lengths checked before buffering, JSON frames, the
// ProtocolErrors of malformed input) is what the whole-frame decoder does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeDataHeader, encodeJson, FRAME_DATA, FrameDecoder, MAX_FRAME, MAX_HANDSHAKE_FRAME, ProtocolError, type Frame } from '../../src/net/frames.js';

type Event = { json: unknown } | { stream: number; hex: string } | { error: string };

function decoder(stream: boolean, maxFrame = MAX_FRAME): FrameDecoder {
  const d = new FrameDecoder();
  d.maxFrame = maxFrame;
  d.streamData = stream;
  return d;
}

/**
 * Feed `chunks`; whole data frames as events (pieces joined until `end`), then the error if
 * one was thrown. Also checks that streaming pieces are views into the chunks, not copies.
 */
function run(d: FrameDecoder, chunks: Buffer[]): Event[] {
  const out: Event[] = [];
  let pieces: Buffer[] = [];
  let stream = -1;
  try {
    for (const c of chunks) {
      for (const f of d.push(c)) {
        if (f.kind !== FRAME_DATA) {
          assert.equal(pieces.length, 0, 'a JSON frame inside a data frame');
          out.push({ json: f.msg });
          continue;
        }
        if (d.streamData) {
          if (f.data.length > 0) assert.ok(chunks.some((x) => x.buffer === f.data.buffer), 'a piece is a view into a pushed chunk');
          if (pieces.length > 0 || stream >= 0) assert.equal(f.stream, stream, 'pieces of one frame share its stream');
          stream = f.stream;
          pieces.push(f.data);
          if (!f.end) continue;
        } else pieces = [f.data];
        out.push({ stream: f.stream, hex: Buffer.concat(pieces).toString('hex') });
        pieces = [];
        stream = -1;
      }
    }
  } catch (err) {
    assert.ok(err instanceof ProtocolError, `a ProtocolError, not ${String(err)}`);
    out.push({ error: err.message });
  }
  return out;
}

/** Every way to cut `bytes` in two, and one byte at a time. */
function splits(bytes: Buffer): Buffer[][] {
  const all: Buffer[][] = [[bytes]];
  for (let cut = 1; cut < bytes.length; cut++) all.push([bytes.subarray(0, cut), bytes.subarray(cut)]);
  // own copies: each one-byte chunk has its own ArrayBuffer, as socket reads do
  all.push([...bytes].map((b) => Buffer.from([b])));
  return all;
}

/**
 * Both decoders, every split: the same frames and the same error. A push that throws loses
 * the frames it decoded before the error, so a split may see fewer of the frames before an
 * error: always a prefix of those seen one byte at a time (the most).
 */
function assertSameEverySplit(bytes: Buffer, maxFrame = MAX_FRAME): Event[] {
  const want = run(decoder(false, maxFrame), [...bytes].map((x) => Buffer.from([x])));
  const err = want.at(-1) && 'error' in want.at(-1)! ? want.at(-1) : undefined;
  const frames = err ? want.slice(0, -1) : want;
  for (const chunks of splits(bytes)) {
    for (const stream of [true, false]) {
      const label = `${stream ? 'streaming' : 'whole'}, chunks ${chunks.map((c) => c.length).join('+')}`;
      const got = run(decoder(stream, maxFrame), chunks);
      if (!err) {
        assert.deepEqual(got, want, label);
        continue;
      }
      assert.deepEqual(got.at(-1), err, label);
      assert.deepEqual(got.slice(0, -1), frames.slice(0, got.length - 1), label);
    }
  }
  return want;
}

const data = (stream: number, body: Buffer): Buffer => Buffer.concat([encodeDataHeader(stream, body.length), body]);
const raw = (len: number, kind: number, body: Buffer): Buffer => {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(len, 0);
  h[4] = kind;
  return Buffer.concat([h, body]);
};

test('streaming: data frames, empty ones and JSON between them decode alike at every split', () => {
  const a = Buffer.from('hello bytes, and some more of them');
  const b = Buffer.from([0, 1, 2, 3, 255]);
  const bytes = Buffer.concat([encodeJson({ t: 'a', n: 1 }), data(7, a), data(9, Buffer.alloc(0)), data(7, b), encodeJson({ t: 'b' }), data(3, a), data(3, b)]);
  const events = assertSameEverySplit(bytes);
  assert.deepEqual(events, [
    { json: { t: 'a', n: 1 } },
    { stream: 7, hex: a.toString('hex') },
    { stream: 9, hex: '' },
    { stream: 7, hex: b.toString('hex') },
    { json: { t: 'b' } },
    { stream: 3, hex: a.toString('hex') },
    { stream: 3, hex: b.toString('hex') },
  ]);
});

test('streaming: pieces come out as they arrive, before the frame is complete', () => {
  const body = Buffer.alloc(100_000, 7);
  const bytes = data(5, body);
  const d = decoder(true);
  const first = d.push(bytes.subarray(0, 9 + 1000));
  assert.equal(first.length, 1);
  const p = first[0] as Extract<Frame, { kind: 1 }>;
  assert.equal(p.stream, 5);
  assert.equal(p.data.length, 1000);
  assert.equal(p.end, false);
  const mid = bytes.subarray(9 + 1000, 9 + 50_000);
  const second = d.push(mid);
  assert.equal(second.length, 1);
  // the whole chunk, as it was pushed: no copy
  assert.equal((second[0] as Extract<Frame, { kind: 1 }>).data, mid);
  const last = d.push(Buffer.concat([bytes.subarray(9 + 50_000), encodeJson({ t: 'x' })]));
  assert.equal(last.length, 2);
  assert.equal((last[0] as Extract<Frame, { kind: 1 }>).end, true);
  assert.deepEqual(last[1], { kind: 0, msg: { t: 'x' } });
});

test('streaming: malformed frames give the same ProtocolErrors at every split', () => {
  const ok = data(4, Buffer.from('fine'));
  const zero = Buffer.alloc(4); // length 0
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(MAX_FRAME + 1, 0);
  const cases: Array<[string, Buffer, RegExp]> = [
    ['length 0', Buffer.concat([ok, zero, ok]), /bad frame length 0/],
    ['length over the limit', Buffer.concat([ok, huge, Buffer.from([1, 0, 0, 0, 4])]), /bad frame length/],
    ['garbage JSON', Buffer.concat([ok, raw(6, 0, Buffer.from('{nope')), ok]), /not valid JSON/],
    ['JSON array', Buffer.concat([ok, raw(6, 0, Buffer.from('[1,2]'))]), /not an object/],
    ['JSON without a type', Buffer.concat([raw(8, 0, Buffer.from('{"x":1}')), ok]), /not an object with a type/],
    ['unknown kind', Buffer.concat([ok, raw(2, 9, Buffer.from('x')), ok]), /unknown frame kind 9/],
    ['data frame of 1 byte', Buffer.concat([ok, raw(1, 1, Buffer.alloc(0)), ok]), /short data frame/],
    ['data frame of 2 bytes', Buffer.concat([ok, raw(3, 1, Buffer.from('ab')), ok]), /short data frame/],
    ['data frame of 4 bytes', Buffer.concat([ok, raw(4, 1, Buffer.from('abc')), ok]), /short data frame/],
    ['data frame longer than the limit', Buffer.concat([ok, raw(MAX_FRAME + 1, 1, Buffer.from([0, 0, 0, 4, 1, 2, 3]))]), /bad frame length/],
  ];
  for (const [name, bytes, want] of cases) {
    const events = assertSameEverySplit(bytes);
    const last = events.at(-1)!;
    assert.ok('error' in last && want.test(last.error), `${name}: ${JSON.stringify(last)}`);
  }
});

test('streaming: a length over the limit is refused as soon as its 4 bytes are in', () => {
  const d = decoder(true, MAX_HANDSHAKE_FRAME);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(MAX_HANDSHAKE_FRAME + 1, 0);
  assert.throws(() => d.push(head), /bad frame length/);
  // a data frame too: refused from its length alone, before its kind or payload
  const d2 = decoder(true, MAX_HANDSHAKE_FRAME);
  assert.deepEqual(d2.push(head.subarray(0, 2)), []);
  assert.throws(() => d2.push(head.subarray(2)), /bad frame length/);
  // within the handshake limit a data frame streams; the connection refuses data before the
  // handshake at its first piece
  const d3 = decoder(true, MAX_HANDSHAKE_FRAME);
  const pieces = d3.push(data(2, Buffer.from('early')).subarray(0, 11));
  assert.equal(pieces.length, 1);
  assert.equal(pieces[0]!.kind, FRAME_DATA);
});
