import assert from 'node:assert/strict';
import { test } from 'vitest';
import { exponentialBuckets, MetricsRegistry, parseMetricsText } from '../index.ts';

test('counters, gauges and histograms render in the Prometheus text format', () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter('x_requests_total', 'Requests.\nAll of them.', ['method']);
  counter.inc({ method: 'GET' });
  counter.labels({ method: 'GET' }).inc(2);
  counter.inc({ method: 'say "hi"\\\n' });
  const gauge = registry.gauge('x_size', 'Size.', [], (g) => g.set(undefined, 7));
  const histogram = registry.histogram('x_ms', 'Latency.', [1, 10, 100]);
  for (const value of [0.5, 1, 5, 50, 500]) histogram.observe(undefined, value);
  assert.equal(gauge.labels().value, 0);
  assert.equal(
    registry.render(),
    [
      '# HELP x_requests_total Requests.\\nAll of them.',
      '# TYPE x_requests_total counter',
      'x_requests_total{method="GET"} 3',
      'x_requests_total{method="say \\"hi\\"\\\\\\n"} 1',
      '# HELP x_size Size.',
      '# TYPE x_size gauge',
      'x_size 7',
      '# HELP x_ms Latency.',
      '# TYPE x_ms histogram',
      'x_ms_bucket{le="1"} 2',
      'x_ms_bucket{le="10"} 3',
      'x_ms_bucket{le="100"} 4',
      'x_ms_bucket{le="+Inf"} 5',
      'x_ms_sum 556.5',
      'x_ms_count 5',
      '',
    ].join('\n'),
  );
});

test('misuse throws: bad names, missing or extra labels, counters going down, duplicates', () => {
  const registry = new MetricsRegistry();
  assert.throws(() => registry.counter('bad-name', 'x'), RangeError);
  assert.throws(() => registry.counter('ok', 'x', ['le']), RangeError);
  const counter = registry.counter('c_total', 'x', ['a']);
  assert.throws(() => counter.inc({}), RangeError);
  assert.throws(() => counter.inc({ a: '1', b: '2' }), RangeError);
  assert.throws(() => counter.inc({ a: '1' }, -1), RangeError);
  assert.throws(() => registry.counter('c_total', 'again'), RangeError);
  assert.throws(() => registry.histogram('h', 'x', []), RangeError);
  assert.deepEqual(exponentialBuckets(1, 2, 4), [1, 2, 4, 8]);
});

test('a rendered page parses back into its samples', () => {
  const registry = new MetricsRegistry();
  registry.counter('df_test_total', 'Things.', ['type']).labels({ type: 'a' }).inc(3);
  registry.gauge('df_test_gauge', 'Level.').labels().set(1.5);
  const samples = parseMetricsText(registry.render());
  assert.equal(samples.get('df_test_total{type="a"}'), 3);
  assert.equal(samples.get('df_test_gauge'), 1.5);
  assert.ok(![...samples.keys()].some((key) => key.startsWith('#')));
});
