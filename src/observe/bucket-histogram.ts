/**
 * A Prometheus histogram with one label, counted in plain arrays: observe() is a bucket search
 * and three additions. prom-client's Histogram validates and hashes its label object on every
 * observation, which was 6% of the JavaScript a connection costs; this one is read the same way
 * (registered in a prom-client Registry, summed across workers by its `aggregator`) and prints the
 * same series: `_bucket{le=...}` cumulative, `_sum`, `_count`.
 */
import type { Metric, Registry } from 'prom-client';

interface Series {
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class BucketHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: L,
    private readonly buckets: readonly number[],
    registers: readonly Registry[],
  ) {
    for (const r of registers) r.registerMetric(this as unknown as Metric);
  }

  observe(label: string, value: number): void {
    if (!Number.isFinite(value)) return;
    let s = this.series.get(label);
    if (s === undefined) this.series.set(label, (s = { counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 }));
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  reset(): void {
    this.series.clear();
  }

  /** What prom-client's Registry reads (the shape of its own Histogram.get()). */
  get(): { name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string | number>; value: number; metricName: string }[] } {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const [label, s] of this.series) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += s.counts[i]!;
        values.push({ labels: { le: i < this.buckets.length ? this.buckets[i]! : '+Inf', [this.labelName]: label }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { [this.labelName]: label }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: label }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
