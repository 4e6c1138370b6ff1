import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeDataHeader, encodeJson, FrameDecoder, MAX_FRAME, MAX_HANDSHAKE_FRAME, ProtocolError } from '../../src/net/frames.js';

test('frames survive any split of the byte stream', () => {
  const data = Buffer.from('hello bytes');
  const bytes = Buffer.concat([encodeJson({ t: 'a', n: 1 }), encodeDataHeader(7, data.length), data, encodeJson({ t: 'b' })]);
  for (let cut = 1; cut < bytes.length; cut++) {
    const d = new FrameDecoder();
    const frames = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
    assert.equal(frames.length, 3, `cut at ${cut}`);
    assert.deepEqual(frames[0], { kind: 0, msg: { t: 'a', n: 1 } });
    assert.equal(frames[1]!.kind, 1);
    if (frames[1]!.kind === 1) {
      assert.equal(frames[1]!.stream, 7);
      assert.deepEqual(frames[1]!.data, data);
    }
  }
  // one byte at a time
  const d = new FrameDecoder();
  let n = 0;
  for (const b of bytes) n += d.push(Buffer.from([b])).length;
  assert.equal(n, 3);
});

test('a length over the limit is refused before it is buffered', () => {
  const d = new FrameDecoder();
  const head = Buffer.alloc(4);
  head.writeUInt32BE(MAX_HANDSHAKE_FRAME + 1, 0);
  assert.throws(() => d.push(head), ProtocolError);
  const d2 = new FrameDecoder();
  d2.maxFrame = MAX_FRAME;
  head.writeUInt32BE(0xffffffff, 0);
  assert.throws(() => d2.push(head), /bad frame length/);
  head.writeUInt32BE(0, 0);
  assert.throws(() => new FrameDecoder().push(head), /bad frame length 0/);
});

test('garbage JSON, non-objects, unknown kinds and short data frames are protocol errors', () => {
  const frame = (kind: number, body: Buffer): Buffer => {
    const h = Buffer.alloc(5);
    h.writeUInt32BE(body.length + 1, 0);
    h[4] = kind;
    return Buffer.concat([h, body]);
  };
  assert.throws(() => new FrameDecoder().push(frame(0, Buffer.from('{nope'))), /not valid JSON/);
  assert.throws(() => new FrameDecoder().push(frame(0, Buffer.from('[1,2]'))), /not an object/);
  assert.throws(() => new FrameDecoder().push(frame(0, Buffer.from('{"x":1}'))), /not an object with a type/);
  assert.throws(() => new FrameDecoder().push(frame(9, Buffer.from('x'))), /unknown frame kind 9/);
  assert.throws(() => new FrameDecoder().push(frame(1, Buffer.from('ab'))), /short data frame/);
});

test('encodeJson refuses a message larger than a frame', () => {
  assert.throws(() => encodeJson({ t: 'x', s: 'a'.repeat(MAX_FRAME) }), ProtocolError);
});
