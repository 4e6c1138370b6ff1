// The per-block checksums of the delta signature in a tiny WebAssembly module: the weak
// checksum (the same arithmetic as weakSum() in delta.ts, at a fraction of its cost: the
// JavaScript loop was the largest part of signing a 256 MiB file) and the lanes32 strong
// hash (lanes32() in delta.ts; 1.5-1.9x the speed of node's CRC-32 here, which it replaces
// where both ends offer `delta-lanes32`), both in one pass over each block. The module is kept here as
// bytes, with its text beside them; when WebAssembly (with SIMD) is not available the
// JavaScript functions are used.

/**
 * The module, compiled from this WebAssembly text (wabt's wat2wasm with SIMD; no toolchain is
 * needed to build omirr). weak(): 16 bytes per step with 128-bit SIMD, 3-4x the byte loop it
 * replaced (docs/performance.md): b gains 16 * a_before + sum (16 - j) x_j per 16 bytes, a the
 * sum. sums() and strong(): the lanes32 block hash (below), sums() fused with the weak
 * checksum in one pass over each block.
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
 *         (br $blocks))))
 *   ;; ---- lanes32: the strong block hash. Two sets of four murmur3 lanes: the 16-byte vectors
 *   ;; of a block go alternately to A and B (32-bit little-endian words, one per lane); then r =
 *   ;; len, the murmur3 step of r with each lane of A then of B, each tail byte (len % 16)
 *   ;; r = (r ^ byte) * 0x01000193, and murmur3's finaliser of r ^ len.
 *   (func $step (param $r i32) (param $k i32) (result i32)
 *     (local.set $k (i32.mul (local.get $k) (i32.const 0xcc9e2d51)))
 *     (local.set $k (i32.rotl (local.get $k) (i32.const 15)))
 *     (local.set $r (i32.xor (local.get $r) (i32.mul (local.get $k) (i32.const 0x1b873593))))
 *     (local.set $r (i32.rotl (local.get $r) (i32.const 13)))
 *     (i32.add (i32.mul (local.get $r) (i32.const 5)) (i32.const 0xe6546b64)))
 *   (func $fin (param $ha v128) (param $hb v128) (param $t i32) (param $te i32) (param $len i32) (result i32)
 *     (local $r i32)
 *     (local.set $r (local.get $len))
 *     (local.set $r (call $step (local.get $r) (i32x4.extract_lane 0 (local.get $ha))))
 *     (local.set $r (call $step (local.get $r) (i32x4.extract_lane 1 (local.get $ha))))
 *     (local.set $r (call $step (local.get $r) (i32x4.extract_lane 2 (local.get $ha))))
 *     (local.set $r (call $step (local.get $r) (i32x4.extract_lane 3 (local.get $ha))))
 *     (local.set $r (call $step (local.get $r) (i32x4.extract_lane 0 (local.get $hb))))
 *     (local.set $r (call $step (local.get $r) (i32x4.extract_lane 1 (local.get $hb))))
 *     (local.set $r (call $step (local.get $r) (i32x4.extract_lane 2 (local.get $hb))))
 *     (local.set $r (call $step (local.get $r) (i32x4.extract_lane 3 (local.get $hb))))
 *     (block $done
 *       (loop $tail
 *         (br_if $done (i32.ge_u (local.get $t) (local.get $te)))
 *         (local.set $r (i32.mul (i32.xor (local.get $r) (i32.load8_u (local.get $t))) (i32.const 0x01000193)))
 *         (local.set $t (i32.add (local.get $t) (i32.const 1)))
 *         (br $tail)))
 *     (local.set $r (i32.xor (local.get $r) (local.get $len)))
 *     (local.set $r (i32.xor (local.get $r) (i32.shr_u (local.get $r) (i32.const 16))))
 *     (local.set $r (i32.mul (local.get $r) (i32.const 0x85ebca6b)))
 *     (local.set $r (i32.xor (local.get $r) (i32.shr_u (local.get $r) (i32.const 13))))
 *     (local.set $r (i32.mul (local.get $r) (i32.const 0xc2b2ae35)))
 *     (i32.xor (local.get $r) (i32.shr_u (local.get $r) (i32.const 16))))
 *   ;; strong(p, len): lanes32 of [p, p+len)
 *   (func (export "strong") (param $p i32) (param $len i32) (result i32)
 *     (local $end i32) (local $ha v128) (local $hb v128) (local $k v128) (local $v v128) (local $v2 v128)
 *     (local.set $end (i32.add (local.get $p) (local.get $len)))
 *     (local.set $ha (v128.const i32x4 0x9e3779b9 0x85ebca6b 0xc2b2ae35 0x27d4eb2f))
 *     (local.set $hb (v128.const i32x4 0x165667b1 0xd3a2646c 0xfd7046c5 0xb55a4f09))
 *     (block $vdone
 *       (loop $vec
 *         (br_if $vdone (i32.gt_u (i32.add (local.get $p) (i32.const 32)) (local.get $end)))
 *         (local.set $v (v128.load align=1 (local.get $p)))
 *         (local.set $v2 (v128.load offset=16 align=1 (local.get $p)))
 *           (local.set $k (i32x4.mul (local.get $v) (v128.const i32x4 0xcc9e2d51 0xcc9e2d51 0xcc9e2d51 0xcc9e2d51)))
 *           (local.set $k (v128.or (i32x4.shl (local.get $k) (i32.const 15)) (i32x4.shr_u (local.get $k) (i32.const 17))))
 *           (local.set $ha (v128.xor (local.get $ha) (i32x4.mul (local.get $k) (v128.const i32x4 0x1b873593 0x1b873593 0x1b873593 0x1b873593))))
 *           (local.set $ha (v128.or (i32x4.shl (local.get $ha) (i32.const 13)) (i32x4.shr_u (local.get $ha) (i32.const 19))))
 *           (local.set $ha (i32x4.add (i32x4.add (i32x4.shl (local.get $ha) (i32.const 2)) (local.get $ha)) (v128.const i32x4 0xe6546b64 0xe6546b64 0xe6546b64 0xe6546b64)))
 *           (local.set $k (i32x4.mul (local.get $v2) (v128.const i32x4 0xcc9e2d51 0xcc9e2d51 0xcc9e2d51 0xcc9e2d51)))
 *           (local.set $k (v128.or (i32x4.shl (local.get $k) (i32.const 15)) (i32x4.shr_u (local.get $k) (i32.const 17))))
 *           (local.set $hb (v128.xor (local.get $hb) (i32x4.mul (local.get $k) (v128.const i32x4 0x1b873593 0x1b873593 0x1b873593 0x1b873593))))
 *           (local.set $hb (v128.or (i32x4.shl (local.get $hb) (i32.const 13)) (i32x4.shr_u (local.get $hb) (i32.const 19))))
 *           (local.set $hb (i32x4.add (i32x4.add (i32x4.shl (local.get $hb) (i32.const 2)) (local.get $hb)) (v128.const i32x4 0xe6546b64 0xe6546b64 0xe6546b64 0xe6546b64)))
 *         (local.set $p (i32.add (local.get $p) (i32.const 32)))
 *         (br $vec)))
 *     (if (i32.le_u (i32.add (local.get $p) (i32.const 16)) (local.get $end))
 *       (then
 *         (local.set $v (v128.load align=1 (local.get $p)))
 *           (local.set $k (i32x4.mul (local.get $v) (v128.const i32x4 0xcc9e2d51 0xcc9e2d51 0xcc9e2d51 0xcc9e2d51)))
 *           (local.set $k (v128.or (i32x4.shl (local.get $k) (i32.const 15)) (i32x4.shr_u (local.get $k) (i32.const 17))))
 *           (local.set $ha (v128.xor (local.get $ha) (i32x4.mul (local.get $k) (v128.const i32x4 0x1b873593 0x1b873593 0x1b873593 0x1b873593))))
 *           (local.set $ha (v128.or (i32x4.shl (local.get $ha) (i32.const 13)) (i32x4.shr_u (local.get $ha) (i32.const 19))))
 *           (local.set $ha (i32x4.add (i32x4.add (i32x4.shl (local.get $ha) (i32.const 2)) (local.get $ha)) (v128.const i32x4 0xe6546b64 0xe6546b64 0xe6546b64 0xe6546b64)))
 *         (local.set $p (i32.add (local.get $p) (i32.const 16)))))
 *     (call $fin (local.get $ha) (local.get $hb) (local.get $p) (local.get $end) (local.get $len)))
 *   ;; sums(p, len, bs, outW, outS): per block of [p, p+len) (the last may be short) its weak
 *   ;; checksum (as weak()) at outW, outW+4, ... and its lanes32 at outS, outS+4, ..., in one pass
 *   (func (export "sums") (param $p i32) (param $len i32) (param $bs i32) (param $outW i32) (param $outS i32)
 *     (local $end i32) (local $be i32) (local $bp i32) (local $a i32) (local $b i32) (local $v v128) (local $v2 v128)
 *     (local $va v128) (local $vp v128) (local $vw v128) (local $ha v128) (local $hb v128) (local $k v128)
 *     (local.set $end (i32.add (local.get $p) (local.get $len)))
 *     (block $done
 *       (loop $blocks
 *         (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
 *         (local.set $bp (local.get $p))
 *         (local.set $be (i32.add (local.get $p) (local.get $bs)))
 *         (if (i32.gt_u (local.get $be) (local.get $end)) (then (local.set $be (local.get $end))))
 *         (local.set $va (v128.const i32x4 0 0 0 0))
 *         (local.set $vp (v128.const i32x4 0 0 0 0))
 *         (local.set $vw (v128.const i32x4 0 0 0 0))
 *         (local.set $ha (v128.const i32x4 0x9e3779b9 0x85ebca6b 0xc2b2ae35 0x27d4eb2f))
 *         (local.set $hb (v128.const i32x4 0x165667b1 0xd3a2646c 0xfd7046c5 0xb55a4f09))
 *         (block $vdone
 *           (loop $vec
 *             (br_if $vdone (i32.gt_u (i32.add (local.get $p) (i32.const 32)) (local.get $be)))
 *             (local.set $v (v128.load align=1 (local.get $p)))
 *             (local.set $v2 (v128.load offset=16 align=1 (local.get $p)))
 *           (local.set $vp (i32x4.add (local.get $vp) (local.get $va)))
 *           (local.set $va (i32x4.add (local.get $va)
 *             (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $v)))))
 *           (local.set $vw (i32x4.add (local.get $vw)
 *             (i32x4.add
 *               (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $v)) (v128.const i16x8 16 15 14 13 12 11 10 9))
 *               (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $v)) (v128.const i16x8 8 7 6 5 4 3 2 1)))))
 *           (local.set $vp (i32x4.add (local.get $vp) (local.get $va)))
 *           (local.set $va (i32x4.add (local.get $va)
 *             (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $v2)))))
 *           (local.set $vw (i32x4.add (local.get $vw)
 *             (i32x4.add
 *               (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $v2)) (v128.const i16x8 16 15 14 13 12 11 10 9))
 *               (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $v2)) (v128.const i16x8 8 7 6 5 4 3 2 1)))))
 *           (local.set $k (i32x4.mul (local.get $v) (v128.const i32x4 0xcc9e2d51 0xcc9e2d51 0xcc9e2d51 0xcc9e2d51)))
 *           (local.set $k (v128.or (i32x4.shl (local.get $k) (i32.const 15)) (i32x4.shr_u (local.get $k) (i32.const 17))))
 *           (local.set $ha (v128.xor (local.get $ha) (i32x4.mul (local.get $k) (v128.const i32x4 0x1b873593 0x1b873593 0x1b873593 0x1b873593))))
 *           (local.set $ha (v128.or (i32x4.shl (local.get $ha) (i32.const 13)) (i32x4.shr_u (local.get $ha) (i32.const 19))))
 *           (local.set $ha (i32x4.add (i32x4.add (i32x4.shl (local.get $ha) (i32.const 2)) (local.get $ha)) (v128.const i32x4 0xe6546b64 0xe6546b64 0xe6546b64 0xe6546b64)))
 *           (local.set $k (i32x4.mul (local.get $v2) (v128.const i32x4 0xcc9e2d51 0xcc9e2d51 0xcc9e2d51 0xcc9e2d51)))
 *           (local.set $k (v128.or (i32x4.shl (local.get $k) (i32.const 15)) (i32x4.shr_u (local.get $k) (i32.const 17))))
 *           (local.set $hb (v128.xor (local.get $hb) (i32x4.mul (local.get $k) (v128.const i32x4 0x1b873593 0x1b873593 0x1b873593 0x1b873593))))
 *           (local.set $hb (v128.or (i32x4.shl (local.get $hb) (i32.const 13)) (i32x4.shr_u (local.get $hb) (i32.const 19))))
 *           (local.set $hb (i32x4.add (i32x4.add (i32x4.shl (local.get $hb) (i32.const 2)) (local.get $hb)) (v128.const i32x4 0xe6546b64 0xe6546b64 0xe6546b64 0xe6546b64)))
 *             (local.set $p (i32.add (local.get $p) (i32.const 32)))
 *             (br $vec)))
 *         (if (i32.le_u (i32.add (local.get $p) (i32.const 16)) (local.get $be))
 *           (then
 *             (local.set $v (v128.load align=1 (local.get $p)))
 *           (local.set $vp (i32x4.add (local.get $vp) (local.get $va)))
 *           (local.set $va (i32x4.add (local.get $va)
 *             (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $v)))))
 *           (local.set $vw (i32x4.add (local.get $vw)
 *             (i32x4.add
 *               (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $v)) (v128.const i16x8 16 15 14 13 12 11 10 9))
 *               (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $v)) (v128.const i16x8 8 7 6 5 4 3 2 1)))))
 *           (local.set $k (i32x4.mul (local.get $v) (v128.const i32x4 0xcc9e2d51 0xcc9e2d51 0xcc9e2d51 0xcc9e2d51)))
 *           (local.set $k (v128.or (i32x4.shl (local.get $k) (i32.const 15)) (i32x4.shr_u (local.get $k) (i32.const 17))))
 *           (local.set $ha (v128.xor (local.get $ha) (i32x4.mul (local.get $k) (v128.const i32x4 0x1b873593 0x1b873593 0x1b873593 0x1b873593))))
 *           (local.set $ha (v128.or (i32x4.shl (local.get $ha) (i32.const 13)) (i32x4.shr_u (local.get $ha) (i32.const 19))))
 *           (local.set $ha (i32x4.add (i32x4.add (i32x4.shl (local.get $ha) (i32.const 2)) (local.get $ha)) (v128.const i32x4 0xe6546b64 0xe6546b64 0xe6546b64 0xe6546b64)))
 *             (local.set $p (i32.add (local.get $p) (i32.const 16)))))
 *         (i32.store (local.get $outS) (call $fin (local.get $ha) (local.get $hb) (local.get $p) (local.get $be) (i32.sub (local.get $be) (local.get $bp))))
 *         (local.set $outS (i32.add (local.get $outS) (i32.const 4)))
 *         (local.set $a (i32.add (i32.add (i32x4.extract_lane 0 (local.get $va)) (i32x4.extract_lane 1 (local.get $va)))
 *                                (i32.add (i32x4.extract_lane 2 (local.get $va)) (i32x4.extract_lane 3 (local.get $va)))))
 *         (local.set $vw (i32x4.add (local.get $vw) (i32x4.shl (local.get $vp) (i32.const 4))))
 *         (local.set $b (i32.add (i32.add (i32x4.extract_lane 0 (local.get $vw)) (i32x4.extract_lane 1 (local.get $vw)))
 *                                (i32.add (i32x4.extract_lane 2 (local.get $vw)) (i32x4.extract_lane 3 (local.get $vw)))))
 *         (block $tdone
 *           (loop $tail
 *             (br_if $tdone (i32.ge_u (local.get $p) (local.get $be)))
 *             (local.set $a (i32.add (local.get $a) (i32.load8_u (local.get $p))))
 *             (local.set $b (i32.add (local.get $b) (local.get $a)))
 *             (local.set $p (i32.add (local.get $p) (i32.const 1)))
 *             (br $tail)))
 *         (i32.store (local.get $outW) (i32.or (i32.and (local.get $a) (i32.const 0xffff)) (i32.shl (local.get $b) (i32.const 16))))
 *         (local.set $outW (i32.add (local.get $outW) (i32.const 4)))
 *         (br $blocks)))))
 */
const MODULE_BASE64 =
  'AGFzbQEAAAABHwRgBH9/f38AYAJ/fwF/YAV7e39/fwF/YAV/f39/fwADBgUAAQIBAwUDAQABBx4EA21lbQIABHdlYWsAAAZzdHJv' +
  'bmcAAwRzdW1zAAQKwRAF4AICBH8EeyAAIAFqIQQCQANAIAAgBE8NASAAIAJqIQUgBSAESwRAIAQhBQv9DAAAAAAAAAAAAAAAAAAA' +
  'AAAhCf0MAAAAAAAAAAAAAAAAAAAAACEK/QwAAAAAAAAAAAAAAAAAAAAAIQsCQANAIABBEGogBUsNASAA/QAAACEIIAogCf2uASEK' +
  'IAkgCP19/X/9rgEhCSALIAj9iQH9DBAADwAOAA0ADAALAAoACQD9ugEgCP2KAf0MCAAHAAYABQAEAAMAAgABAP26Af2uAf2uASEL' +
  'IABBEGohAAwACwsgCf0bACAJ/RsBaiAJ/RsCIAn9GwNqaiEGIAsgCkEE/asB/a4BIQsgC/0bACAL/RsBaiAL/RsCIAv9GwNqaiEH' +
  'AkADQCAAIAVPDQEgBiAALQAAaiEGIAcgBmohByAAQQFqIQAMAAsLIAMgBkH//wNxIAdBEHRyNgIAIANBBGohAwwACwsLNQAgAUHR' +
  '2vjkfGwhASABQQ93IQEgACABQZPrnNwBbHMhACAAQQ13IQAgAEEFbEHk1tGyfmoLvwEBAX8gBCEFIAUgAP0bABABIQUgBSAA/RsB' +
  'EAEhBSAFIAD9GwIQASEFIAUgAP0bAxABIQUgBSAB/RsAEAEhBSAFIAH9GwEQASEFIAUgAf0bAhABIQUgBSAB/RsDEAEhBQJAA0Ag' +
  'AiADTw0BIAUgAi0AAHNBk4OACGwhBSACQQFqIQIMAAsLIAUgBHMhBSAFIAVBEHZzIQUgBUHrlK+veGwhBSAFIAVBDXZzIQUgBUG1' +
  '3MqVfGwhBSAFIAVBEHZzC/sDAgF/BXsgACABaiEC/Qy5eTeea8rrhTWussIv69QnIQP9DLFnVhZsZKLTxUZw/QlPWrUhBAJAA0Ag' +
  'AEEgaiACSw0BIAD9AAAAIQYgAP0AABAhByAG/QxRLZ7MUS2ezFEtnsxRLZ7M/bUBIQUgBUEP/asBIAVBEf2tAf1QIQUgAyAF/QyT' +
  'NYcbkzWHG5M1hxuTNYcb/bUB/VEhAyADQQ39qwEgA0ET/a0B/VAhAyADQQL9qwEgA/2uAf0MZGtU5mRrVOZka1TmZGtU5v2uASED' +
  'IAf9DFEtnsxRLZ7MUS2ezFEtnsz9tQEhBSAFQQ/9qwEgBUER/a0B/VAhBSAEIAX9DJM1hxuTNYcbkzWHG5M1hxv9tQH9USEEIARB' +
  'Df2rASAEQRP9rQH9UCEEIARBAv2rASAE/a4B/Qxka1TmZGtU5mRrVOZka1Tm/a4BIQQgAEEgaiEADAALCyAAQRBqIAJNBEAgAP0A' +
  'AAAhBiAG/QxRLZ7MUS2ezFEtnsxRLZ7M/bUBIQUgBUEP/asBIAVBEf2tAf1QIQUgAyAF/QyTNYcbkzWHG5M1hxuTNYcb/bUB/VEh' +
  'AyADQQ39qwEgA0ET/a0B/VAhAyADQQL9qwEgA/2uAf0MZGtU5mRrVOZka1TmZGtU5v2uASEDIABBEGohAAsgAyAEIAAgAiABEAIL' +
  '6AcCBX8IeyAAIAFqIQUCQANAIAAgBU8NASAAIQcgACACaiEGIAYgBUsEQCAFIQYL/QwAAAAAAAAAAAAAAAAAAAAAIQz9DAAAAAAA' +
  'AAAAAAAAAAAAAAAhDf0MAAAAAAAAAAAAAAAAAAAAACEO/Qy5eTeea8rrhTWussIv69QnIQ/9DLFnVhZsZKLTxUZw/QlPWrUhEAJA' +
  'A0AgAEEgaiAGSw0BIAD9AAAAIQogAP0AABAhCyANIAz9rgEhDSAMIAr9ff1//a4BIQwgDiAK/YkB/QwQAA8ADgANAAwACwAKAAkA' +
  '/boBIAr9igH9DAgABwAGAAUABAADAAIAAQD9ugH9rgH9rgEhDiANIAz9rgEhDSAMIAv9ff1//a4BIQwgDiAL/YkB/QwQAA8ADgAN' +
  'AAwACwAKAAkA/boBIAv9igH9DAgABwAGAAUABAADAAIAAQD9ugH9rgH9rgEhDiAK/QxRLZ7MUS2ezFEtnsxRLZ7M/bUBIREgEUEP' +
  '/asBIBFBEf2tAf1QIREgDyAR/QyTNYcbkzWHG5M1hxuTNYcb/bUB/VEhDyAPQQ39qwEgD0ET/a0B/VAhDyAPQQL9qwEgD/2uAf0M' +
  'ZGtU5mRrVOZka1TmZGtU5v2uASEPIAv9DFEtnsxRLZ7MUS2ezFEtnsz9tQEhESARQQ/9qwEgEUER/a0B/VAhESAQIBH9DJM1hxuT' +
  'NYcbkzWHG5M1hxv9tQH9USEQIBBBDf2rASAQQRP9rQH9UCEQIBBBAv2rASAQ/a4B/Qxka1TmZGtU5mRrVOZka1Tm/a4BIRAgAEEg' +
  'aiEADAALCyAAQRBqIAZNBEAgAP0AAAAhCiANIAz9rgEhDSAMIAr9ff1//a4BIQwgDiAK/YkB/QwQAA8ADgANAAwACwAKAAkA/boB' +
  'IAr9igH9DAgABwAGAAUABAADAAIAAQD9ugH9rgH9rgEhDiAK/QxRLZ7MUS2ezFEtnsxRLZ7M/bUBIREgEUEP/asBIBFBEf2tAf1Q' +
  'IREgDyAR/QyTNYcbkzWHG5M1hxuTNYcb/bUB/VEhDyAPQQ39qwEgD0ET/a0B/VAhDyAPQQL9qwEgD/2uAf0MZGtU5mRrVOZka1Tm' +
  'ZGtU5v2uASEPIABBEGohAAsgBCAPIBAgACAGIAYgB2sQAjYCACAEQQRqIQQgDP0bACAM/RsBaiAM/RsCIAz9GwNqaiEIIA4gDUEE' +
  '/asB/a4BIQ4gDv0bACAO/RsBaiAO/RsCIA79GwNqaiEJAkADQCAAIAZPDQEgCCAALQAAaiEIIAkgCGohCSAAQQFqIQAMAAsLIAMg' +
  'CEH//wNxIAlBEHRyNgIAIANBBGohAwwACwsL';
const MODULE = Buffer.from(MODULE_BASE64, 'base64');

interface Wasm {
  mem: { buffer: ArrayBuffer; grow(pages: number): number };
  weak: (p: number, len: number, bs: number, out: number) => void;
  sums: (p: number, len: number, bs: number, outWeak: number, outStrong: number) => void;
  strong: (p: number, len: number) => number;
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

/**
 * Per block of `data`, its weak checksum into `weak` and its lanes32 into `strong` (4 bytes
 * big-endian each), from block index `at`, in one pass; false when WebAssembly is not available.
 */
export function blockSumsWasm(data: Uint8Array, blockSize: number, weak: Uint32Array, strong: Uint8Array, at: number): boolean {
  const w = instance();
  if (!w) return false;
  const n = Math.ceil(data.length / blockSize);
  const weakAt = (data.length + 3) & ~3;
  const strongAt = weakAt + n * 4;
  grow(w, strongAt + n * 4);
  if (data.buffer !== w.mem.buffer || data.byteOffset !== 0) new Uint8Array(w.mem.buffer, 0, data.length).set(data);
  w.sums(0, data.length, blockSize, weakAt, strongAt);
  weak.set(new Uint32Array(w.mem.buffer, weakAt, n), at);
  const s = new DataView(w.mem.buffer, strongAt, n * 4);
  const out = new DataView(strong.buffer, strong.byteOffset + at * 4, n * 4);
  for (let j = 0; j < n * 4; j += 4) out.setUint32(j, s.getUint32(j, true));
  return true;
}

/**
 * lanes32 of data[start, end) when `data` lies in the module's memory (read there through
 * weakSumsScratch), else undefined (the caller computes it in JavaScript).
 */
export function strongInPlace(data: Uint8Array, start: number, end: number): number | undefined {
  if (!wasm || data.buffer !== wasm.mem.buffer) return undefined;
  return wasm.strong(data.byteOffset + start, end - start) >>> 0;
}

function grow(w: Wasm, need: number): void {
  const have = w.mem.buffer.byteLength;
  if (need > have) w.mem.grow(Math.ceil((need - have) / 65536));
}

/**
 * A buffer of `len` bytes at the start of the module's memory, with room for the sums of its
 * blocks of `blockSize`: a range read into it is summed by weakSumsWasm or blockSumsWasm, and
 * its blocks hashed by strongInPlace, without a copy. Valid until the next call (the memory
 * may grow); null without WebAssembly.
 */
export function weakSumsScratch(len: number, blockSize: number): Buffer | null {
  const w = instance();
  if (!w) return null;
  grow(w, ((len + 3) & ~3) + Math.ceil(len / blockSize) * 8);
  return Buffer.from(w.mem.buffer, 0, len);
}
