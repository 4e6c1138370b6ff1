// What a remote tree's calls answer, turned into local values: the bytes of a download
// request as a stream, and an unpack result checked like any network input. Shared by the
// plain tree requests (remoteTree.ts) and the delta requests (deltaWire.ts).
import { PassThrough, type Readable } from 'node:stream';
import type { UnpackResult } from '../core/tree.js';
import type { Call } from './connection.js';
import { ProtocolError } from './frames.js';
import { wirePath } from './validate.js';

/**
 * The bytes of a download request as a Readable; a failed request destroys it with the peer's
 * error. The connection's own stream, not piped through another: a pull's tar stream comes in
 * ~13,500 pieces for 20,000 small files, and each stage between it and the unpack was one more
 * write, push and event per piece on the receiving main thread (docs/performance.md). A
 * consumer that stops early destroys it, which tells the peer to stop (IncomingStream).
 */
export function downloadOf(call: Call): Readable {
  const src = call.download;
  if (!src) {
    // the call failed before it was sent (a closed connection): the stream fails with it
    const out = new PassThrough();
    call.done.then(
      () => out.destroy(new Error('no download stream')),
      (err: Error) => out.destroy(err),
    );
    return out;
  }
  call.done.catch((err: Error) => src.destroy(err));
  return src;
}

/** An unpack answer, checked like any network input. */
export function wireUnpackResult(result: unknown, op: string): UnpackResult {
  const r = (result ?? {}) as Partial<UnpackResult>;
  if (!Array.isArray(r.written) || !Array.isArray(r.failed) || typeof r.bytes !== 'number') {
    throw new ProtocolError(`${op}: malformed result`);
  }
  return {
    written: r.written.map((p) => wirePath(p)),
    failed: r.failed.map((f) => ({ path: wirePath((f as { path?: unknown }).path), error: String((f as { error?: unknown }).error) })),
    bytes: r.bytes,
  };
}
