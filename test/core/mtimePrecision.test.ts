// Mtimes to the microsecond, never in another second (issue 9, item 12): the ns offset kept
// beside the rounded ms, and the float seconds handed to utimes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entryFromStats, mtimeSecond, mtimeSeconds, roundMtimeMs, sameMtime } from '../../src/core/entry.js';

const statAt = (ns: bigint) => ({
  isDirectory: () => false,
  isSymbolicLink: () => false,
  size: 1n,
  mtimeMs: ns / 1_000_000n,
  mtimeNs: ns,
  mode: 0o100644n,
  ino: 1n,
  uid: 0n,
  gid: 0n,
});

/** What libuv makes of the float (uv__fs_to_timespec): truncated to whole microseconds, towards zero. */
function libuvMicros(t: number): bigint {
  let sec = Math.trunc(t);
  let nsec = Math.trunc((t - sec) * 1e9);
  nsec -= nsec % 1000;
  if (nsec < 0) {
    nsec += 1e9;
    sec -= 1;
  }
  return BigInt(sec) * 1_000_000n + BigInt(nsec / 1000);
}

test('the last microsecond of a second stays in that second (the rounded ms alone names the next one)', () => {
  for (const ns of [1_700_000_000_999_999_999n, 1_700_000_000_999_500_000n, 1_700_000_000_000_000_001n, 1_700_000_000_123_456_789n]) {
    const e = entryFromStats('f', statAt(ns));
    assert.ok(e.mtimeNs! >= -500_000 && e.mtimeNs! <= 499_999);
    assert.equal(BigInt(e.mtimeMs) * 1_000_000n + BigInt(e.mtimeNs!), ns, 'nothing lost');
    assert.equal(BigInt(mtimeSecond(e)), ns / 1_000_000_000n);
    assert.equal(libuvMicros(mtimeSeconds(e)), ns / 1000n, `set to the microsecond: ${ns}`);
  }
});

test('pre-1970 times: floor, not truncation', () => {
  assert.equal(roundMtimeMs(-1n), 0);
  assert.equal(roundMtimeMs(-600_000n), -1);
  for (const ns of [-1n, -999_999_999n, -1_000_000_000n, -1_234_567_891n]) {
    const e = entryFromStats('f', statAt(ns));
    assert.equal(BigInt(e.mtimeMs) * 1_000_000n + BigInt(e.mtimeNs!), ns);
    const wantUs = ns / 1000n - (ns % 1000n < 0n ? 1n : 0n); // floor
    assert.equal(libuvMicros(mtimeSeconds(e)), wantUs, `set to the microsecond: ${ns}`);
  }
});

test('sameMtime compares at the microsecond, at the ms where a side has no ns', () => {
  assert.ok(sameMtime({ mtimeMs: 5, mtimeNs: 1_999 }, { mtimeMs: 5, mtimeNs: 1_000 }));
  assert.ok(!sameMtime({ mtimeMs: 5, mtimeNs: 2_000 }, { mtimeMs: 5, mtimeNs: 1_999 }));
  assert.ok(sameMtime({ mtimeMs: 5, mtimeNs: 2_000 }, { mtimeMs: 5 }));
  assert.ok(!sameMtime({ mtimeMs: 5 }, { mtimeMs: 6 }));
  assert.ok(sameMtime({ mtimeMs: 5, mtimeNs: -1 }, { mtimeMs: 5, mtimeNs: -1000 }), 'floor of negative ns offsets');
});

test('sameMtime compares at the coarser mtimePrecisionMs of the two (an SFTP second, an FTP minute)', () => {
  const local = { mtimeMs: 1_600_000_000_789, mtimeNs: 123_456 };
  assert.ok(sameMtime(local, { mtimeMs: 1_600_000_000_000, mtimePrecisionMs: 1000 }));
  assert.ok(sameMtime({ mtimeMs: 1_600_000_000_000, mtimePrecisionMs: 1000 }, local), 'either side');
  assert.ok(!sameMtime(local, { mtimeMs: 1_600_000_001_000, mtimePrecisionMs: 1000 }), 'another second differs');
  assert.ok(!sameMtime(local, { mtimeMs: 1_599_999_999_000, mtimePrecisionMs: 1000 }));
  assert.ok(sameMtime({ mtimeMs: 1_600_000_019_999 }, { mtimeMs: 1_599_999_960_000, mtimePrecisionMs: 60_000 }), 'the same minute');
  assert.ok(!sameMtime(local, { mtimeMs: 1_600_000_000_789 + 60_000, mtimePrecisionMs: 60_000 }));
});
