// The weak checksums of every block of a buffer (the delta signature's byte loop) in a tiny
// WebAssembly function: the same arithmetic as weakSum() in delta.ts, at a fraction of its
// cost (the JavaScript loop was the largest part of signing a 256 MiB file). The module is
// kept here as bytes, with its text beside them; when WebAssembly (with SIMD) is not
// available the JavaScript loop is used.

/**
 * The module, compiled from this WebAssembly text (wabt's wat2wasm with SIMD; no toolchain is
 * needed to build omirr). 16 bytes per step with 128-bit SIMD, 3-4x the byte loop it replaced
 * (docs/performance.md): b gains 16 * a_before + sum (16 - j) x_j per 16 bytes, a the sum.
 *
 * (module
 *   (memory (export "mem") 1)
 *   ;; weak(p, len, bs, out): per block of [p, p+len) (the last may be short): a = sum of bytes,
 *   ;; b = sum of running a's; stores (a & 0xffff) | (b << 16) at out, out+4, ...
 *   ;; 16 bytes at a time: b += 16 * a_before + sum (16 - j) x_j; a += sum x_j
 *   (func (export "weak") (param $p i32) (param $len i32) (param $bs i32) (param $out i32)
 *     (local $end i32) (local $be i32) (local $a i32) (local $b i32) (local $v v128)
 *     (local $va v128) (local $vp v128) (local $vw v128)
 *     (local.set $end (i32.add (local.get $p) (local.get $len)))
 *     (block $done
 *       (loop $blocks
 *         (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
 *         (local.set $be (i32.add (local.get $p) (local.get $bs)))
 *         (if (i32.gt_u (local.get $be) (local.get $end)) (then (local.set $be (local.get $end))))
 *         (local.set $va (v128.const i32x4 0 0 0 0))
 *         (local.set $vp (v128.const i32x4 0 0 0 0))
 *         (local.set $vw (v128.const i32x4 0 0 0 0))
 *         (block $vdone
 *           (loop $vec
 *             (br_if $vdone (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $be)))
 *             (local.set $v (v128.load align=1 (local.get $p)))
 *             (local.set $vp (i32x4.add (local.get $vp) (local.get $va)))
 *             (local.set $va (i32x4.add (local.get $va)
 *               (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $v)))))
 *             (local.set $vw (i32x4.add (local.get $vw)
 *               (i32x4.add
 *                 (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $v)) (v128.const i16x8 16 15 14 13 12 11 10 9))
 *                 (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $v)) (v128.const i16x8 8 7 6 5 4 3 2 1)))))
 *             (local.set $p (i32.add (local.get $p) (i32.const 16)))
 *             (br $vec)))
 *         (local.set $a (i32.add (i32.add (i32x4.extract_lane 0 (local.get $va)) (i32x4.extract_lane 1 (local.get $va)))
 *                                (i32.add (i32x4.extract_lane 2 (local.get $va)) (i32x4.extract_lane 3 (local.get $va)))))
 *         (local.set $vw (i32x4.add (local.get $vw) (i32x4.shl (local.get $vp) (i32.const 4))))
 *         (local.set $b (i32.add (i32.add (i32x4.extract_lane 0 (local.get $vw)) (i32x4.extract_lane 1 (local.get $vw)))
 *                                (i32.add (i32x4.extract_lane 2 (local.get $vw)) (i32x4.extract_lane 3 (local.get $vw)))))
 *         ;; the bytes after the last whole 16 (a short block's tail)
 *         (block $tdone
 *           (loop $tail
 *             (br_if $tdone (i32.ge_u (local.get $p) (local.get $be)))
 *             (local.set $a (i32.add (local.get $a) (i32.load8_u (local.get $p))))
 *             (local.set $b (i32.add (local.get $b) (local.get $a)))
 *             (local.set $p (i32.add (local.get $p) (i32.const 1)))
 *             (br $tail)))
 *         (i32.store (local.get $out) (i32.or (i32.and (local.get $a) (i32.const 0xffff)) (i32.shl (local.get $b) (i32.const 16))))
 *         (local.set $out (i32.add (local.get $out) (i32.const 4)))
 *         (br $blocks)))))
 */
const MODULE_BASE64 =
  'AGFzbQEAAAABCAFgBH9/f38AAwIBAAUDAQABBw4CA21lbQIABHdlYWsAAArjAgHgAgIEfwR7IAAgAWohBAJAA0AgACAETw0BIAAgAmohBSAFIARLBEAgBCEFC/0MAAAAAAAAAAAAAAAAAAAAACEJ/QwAAAAAAAAAAAAAAAAAAAAAIQr9DAAAAAAAAAAAAAAAAAAAAAAhCwJAA0AgAEEQaiAFSw0BIAD9AAAAIQggCiAJ/a4BIQogCSAI/X39f/2uASEJIAsgCP2JAf0MEAAPAA4ADQAMAAsACgAJAP26ASAI/YoB/QwIAAcABgAFAAQAAwACAAEA/boB/a4B/a4BIQsgAEEQaiEADAALCyAJ/RsAIAn9GwFqIAn9GwIgCf0bA2pqIQYgCyAKQQT9qwH9rgEhCyAL/RsAIAv9GwFqIAv9GwIgC/0bA2pqIQcCQANAIAAgBU8NASAGIAAtAABqIQYgByAGaiEHIABBAWohAAwACwsgAyAGQf//A3EgB0EQdHI2AgAgA0EEaiEDDAALCws=';
const MODULE = Buffer.from(MODULE_BASE64, 'base64');

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
  grow(w, need);
  // data read straight into the module's memory (weakSumsScratch) is not copied
  if (data.buffer !== w.mem.buffer || data.byteOffset !== 0) new Uint8Array(w.mem.buffer, 0, data.length).set(data);
  w.weak(0, data.length, blockSize, outAt);
  out.set(new Uint32Array(w.mem.buffer, outAt, n), at);
  return true;
}

function grow(w: Wasm, need: number): void {
  const have = w.mem.buffer.byteLength;
  if (need > have) w.mem.grow(Math.ceil((need - have) / 65536));
}

/**
 * A buffer of `len` bytes at the start of the module's memory, with room for the sums of its
 * blocks of `blockSize`: a range read into it is summed by weakSumsWasm without a copy. Valid
 * until the next call (the memory may grow); null without WebAssembly.
 */
export function weakSumsScratch(len: number, blockSize: number): Buffer | null {
  const w = instance();
  if (!w) return null;
  grow(w, ((len + 3) & ~3) + Math.ceil(len / blockSize) * 4);
  return Buffer.from(w.mem.buffer, 0, len);
}
