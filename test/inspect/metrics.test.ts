import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRegistry } from '../../src/core/metrics.js';

test('counters, gauges and histograms render in Prometheus text format', () => {
  const reg = new MetricsRegistry();
  const sent = reg.counter({ name: 'omirr_bytes_sent_total', help: 'Bytes sent', labelNames: ['peer'] });
  sent.inc({ peer: 'b' }, 100);
  sent.inc({ peer: 'b' }, 23);
  sent.inc({ peer: 'a"\\\nx' });
  const up = reg.gauge({ name: 'omirr_up', help: 'Up' });
  up.set(undefined, 1);
  const h = reg.histogram({ name: 'job_seconds', help: 'Job\ntime', labelNames: ['result'], buckets: [1, 10] });
  h.observe({ result: 'ok' }, 0.5);
  h.observe({ result: 'ok' }, 5);
  h.observe({ result: 'ok' }, 50);
  assert.equal(
    reg.render(),
    [
      '# HELP omirr_bytes_sent_total Bytes sent',
      '# TYPE omirr_bytes_sent_total counter',
      'omirr_bytes_sent_total{peer="b"} 123',
      'omirr_bytes_sent_total{peer="a\\"\\\\\\nx"} 1',
      '# HELP omirr_up Up',
      '# TYPE omirr_up gauge',
      'omirr_up 1',
      '# HELP job_seconds Job\\ntime',
      '# TYPE job_seconds histogram',
      'job_seconds_bucket{result="ok",le="1"} 1',
      'job_seconds_bucket{result="ok",le="10"} 2',
      'job_seconds_bucket{result="ok",le="+Inf"} 3',
      'job_seconds_sum{result="ok"} 55.5',
      'job_seconds_count{result="ok"} 3',
      '',
    ].join('\n'),
  );
  assert.equal(sent.get({ peer: 'b' }), 123);
  assert.deepEqual(h.get({ result: 'ok' }), { sum: 55.5, count: 3 });
});

test('registration is idempotent, misuse throws', () => {
  const reg = new MetricsRegistry();
  const a = reg.counter({ name: 'x_total', help: 'x', labelNames: ['p'] });
  assert.equal(reg.counter({ name: 'x_total', help: 'x', labelNames: ['p'] }), a);
  assert.throws(() => reg.gauge({ name: 'x_total', help: 'x', labelNames: ['p'] }), /already registered as counter/);
  assert.throws(() => reg.counter({ name: 'x_total', help: 'x', labelNames: ['q'] }), /labels/);
  assert.throws(() => reg.counter({ name: 'bad-name', help: '' }), /invalid metric name/);
  assert.throws(() => reg.counter({ name: 'y', help: '', labelNames: ['le'] }), /invalid label/);
  assert.throws(() => a.inc({ p: '1' }, -1), /only grow/);
  assert.throws(() => a.inc({ nope: '1' }), /unknown label/);
  assert.throws(() => reg.histogram({ name: 'h', help: '', buckets: [2, 1] }), /ascending/);
});

test('collect hooks refresh values before each render; remove drops a series', () => {
  const reg = new MetricsRegistry();
  const depth = reg.gauge({ name: 'outbox_depth', help: 'd', labelNames: ['peer'] });
  let n = 0;
  const off = reg.onCollect(() => depth.set({ peer: 'a' }, ++n));
  assert.match(reg.render(), /outbox_depth\{peer="a"\} 1\n/);
  assert.match(reg.render(), /outbox_depth\{peer="a"\} 2\n/);
  off();
  assert.match(reg.render(), /outbox_depth\{peer="a"\} 2\n/);
  depth.remove({ peer: 'a' });
  assert.doesNotMatch(reg.render(), /peer="a"/);
  depth.set({ peer: 'b' }, NaN);
  depth.inc({ peer: 'c' }, Infinity);
  assert.match(reg.render(), /outbox_depth\{peer="b"\} NaN\noutbox_depth\{peer="c"\} \+Inf\n/);
});
