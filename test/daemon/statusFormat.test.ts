// `omirr status`: out-of-sync items per tree and clock skew are shown, never silent (issue 9, items 5 and 13).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus, type DaemonStatus } from '../../src/daemon/status.js';

test('status shows out-of-sync counts per tree and warns about a clock offset past 1 s', () => {
  const s = {
    node: 'a',
    pid: 1,
    version: 'x',
    startedAt: '2026-01-01T00:00:00.000Z',
    at: '2026-01-01T00:01:00.000Z',
    config: null,
    actors: [],
    peers: [{ name: 'b', address: '127.0.0.1:1', state: 'live', retryDelayMs: null, clockOffsetMs: 10_800_000, rttMs: 1, outboxDepth: 0, lagMs: 0, filesSent: 0, bytesSent: 0, lastError: null }],
    trees: [{ name: 'data', path: '/d', peers: ['b'], files: 3, lastChangeAt: null, state: 'live', outOfSync: 2, outOfSyncItems: [] }],
  } as unknown as DaemonStatus;
  const out = formatStatus(s);
  assert.match(out, /OUT OF SYNC/);
  assert.match(out, /tree data: out of sync: 2/);
  assert.match(out, /\+3\.0 h \(SKEW\)/);
  assert.match(out, /WARNING: peer b's clock is ahead by 3\.0 h/);
});

test('the ACTORS section names actors as an operator does, not by xstate ids', () => {
  const s = {
    node: 'a', pid: 1, version: 'x', startedAt: '2026-01-01T00:00:00.000Z', at: '2026-01-01T00:01:00.000Z', config: null,
    actors: [
      { id: 'daemon', machine: 'daemonSupervisor', state: 'running', status: 'active', parent: null, depth: 0, context: {} },
      { id: 'peer:beta', machine: 'peerLink', state: 'online.live', status: 'active', parent: 'daemon', depth: 1, context: {} },
      { id: '0.mmJob.active.locking', machine: 'lockJob', state: 'active', status: 'active', parent: 'daemon', depth: 1, context: {} },
    ],
    peers: [],
    trees: [],
  } as unknown as DaemonStatus;
  const out = formatStatus(s);
  assert.match(out, /^ {4}peer beta +peerLink +online\.live$/m);
  assert.match(out, /^ {4}lock job +lockJob +active$/m);
  assert.doesNotMatch(out, /0\.mmJob\.active\.locking/);
});
