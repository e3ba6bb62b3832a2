/** BucketHistogram prints what prom-client's Histogram prints for the same observations, and sums across workers. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { BucketHistogram } from '../../src/observe/bucket-histogram.js';

const BUCKETS = [0, 1, 2.5, 10];
const VALUES = [0, 0.5, 1, 1, 2.5, 3, 10, 11, 1e9, -1];

it('the same text as prom-client for the same observations, bounds included', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const a = new BucketHistogram('x_seconds', 'help text', 'listener', BUCKETS, [ours]);
  const b = new Histogram({ name: 'x_seconds', help: 'help text', labelNames: ['listener'], buckets: BUCKETS, registers: [theirs] });
  for (const [i, v] of VALUES.entries()) {
    a.observe(i % 2 === 0 ? 'main' : 'lb', v);
    b.observe({ listener: i % 2 === 0 ? 'main' : 'lb' }, v);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  a.reset();
  assert.equal(await ours.metrics(), '# HELP x_seconds help text\n# TYPE x_seconds histogram\n');
});

it('summed across workers by the cluster aggregator', async () => {
  const workers = [new Registry(), new Registry()];
  const hs = workers.map((r) => new BucketHistogram('y', 'h', 'listener', BUCKETS, [r]));
  hs[0]!.observe('main', 1);
  hs[1]!.observe('main', 3);
  hs[1]!.observe('lb', 0);
  const merged = AggregatorRegistry.aggregate(await Promise.all(workers.map((r) => r.getMetricsAsJSON())));
  const text = await merged.metrics();
  assert.match(text, /^y_bucket\{le="1",listener="main"\} 1$/m);
  assert.match(text, /^y_bucket\{le="\+Inf",listener="main"\} 2$/m);
  assert.match(text, /^y_sum\{listener="main"\} 4$/m);
  assert.match(text, /^y_count\{listener="lb"\} 1$/m);
});
