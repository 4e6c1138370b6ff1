// The weak checksums of every block of a buffer (the delta signature's byte loop) in a tiny
// WebAssembly function: the same arithmetic as weakSum() in delta.ts, at a fraction of its
// cost (the JavaScript loop was the largest part of signing a 256 MiB file). The module is
// written out here as bytes (no toolchain); when WebAssembly is not available the
// JavaScript loop is used.

/** An unsigned LEB128 (section sizes). */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/**
 * (func $weak (param $p i32) (param $len i32) (param $bs i32) (param $out i32)): for each
 * block of [$p, $p+$len) (the last may be short), a = sum of bytes, b = sum of running a's,
 * stores (a & 0xffff) | (b << 16) as u32 at $out, $out+4, ... Locals: $end 4, $blockEnd 5, $a 6, $b 7.
 */
const BODY = [
  0x01, 0x04, 0x7f, // 4 locals of i32
  0x20, 0x00, 0x20, 0x01, 0x6a, 0x21, 0x04, // end = p + len
  0x02, 0x40, // block
  0x03, 0x40, // loop (blocks)
  0x20, 0x00, 0x20, 0x04, 0x4f, 0x0d, 0x01, // if p >= end: break
  0x20, 0x00, 0x20, 0x02, 0x6a, 0x22, 0x05, 0x20, 0x04, 0x4b, // blockEnd = p + bs; blockEnd > end?
  0x04, 0x40, 0x20, 0x04, 0x21, 0x05, 0x0b, // then blockEnd = end
  0x41, 0x00, 0x21, 0x06, 0x41, 0x00, 0x21, 0x07, // a = 0, b = 0
  0x02, 0x40, // block
  0x03, 0x40, // loop (bytes)
  0x20, 0x00, 0x20, 0x05, 0x4f, 0x0d, 0x01, // if p >= blockEnd: break
  0x20, 0x06, 0x20, 0x00, 0x2d, 0x00, 0x00, 0x6a, 0x22, 0x06, // a += mem[p]
  0x20, 0x07, 0x6a, 0x21, 0x07, // b += a
  0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00, // p++
  0x0c, 0x00, // continue
  0x0b, 0x0b, // end loop, end block
  0x20, 0x03, // out
  0x20, 0x06, 0x41, 0xff, 0xff, 0x03, 0x71, // a & 0xffff
  0x20, 0x07, 0x41, 0x10, 0x74, // b << 16
  0x72, 0x36, 0x02, 0x00, // or; i32.store
  0x20, 0x03, 0x41, 0x04, 0x6a, 0x21, 0x03, // out += 4
  0x0c, 0x00, // continue
  0x0b, 0x0b, // end loop, end block
  0x0b, // end function
];

const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [0x01, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x00]), // type: (i32 i32 i32 i32) -> ()
  ...section(3, [0x01, 0x00]), // one function of type 0
  ...section(5, [0x01, 0x00, 0x01]), // one memory, at least 1 page
  ...section(7, [0x02, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x04, 0x77, 0x65, 0x61, 0x6b, 0x00, 0x00]), // export "mem", "weak"
  ...section(10, [0x01, ...uleb(BODY.length), ...BODY]),
]);

interface Wasm {
  mem: { buffer: ArrayBuffer; grow(pages: number): number };
  weak: (p: number, len: number, bs: number, out: number) => void;
}

/** What we use of the WebAssembly global (this project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

let wasm: Wasm | null | undefined;

function instance(): Wasm | null {
  if (wasm !== undefined) return wasm;
  try {
    const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (!api) throw new Error('no WebAssembly');
    const inst = new api.Instance(new api.Module(MODULE));
    wasm = inst.exports as unknown as Wasm;
  } catch {
    wasm = null;
  }
  return wasm;
}

/**
 * The weak checksum of each block of `data` into `out` from index `at`, or false when
 * WebAssembly is not available (the caller computes them itself).
 */
export function weakSumsWasm(data: Uint8Array, blockSize: number, out: Uint32Array, at: number): boolean {
  const w = instance();
  if (!w) return false;
  const n = Math.ceil(data.length / blockSize);
  const outAt = (data.length + 3) & ~3; // the sums go after the data, 4-aligned
  const need = outAt + n * 4;
  const have = w.mem.buffer.byteLength;
  if (need > have) w.mem.grow(Math.ceil((need - have) / 65536));
  new Uint8Array(w.mem.buffer, 0, data.length).set(data);
  w.weak(0, data.length, blockSize, outAt);
  out.set(new Uint32Array(w.mem.buffer, outAt, n), at);
  return true;
}
