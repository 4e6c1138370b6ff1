// A tiny Prometheus metrics registry rendering the text exposition format 0.0.4.
// Pure: no clock, no I/O. Whoever owns a number updates it (counters, gauges,
// histograms, all with labels); values that are cheaper to read than to push
// (e.g. an outbox depth held in an actor's context) are refreshed by collect
// hooks that run just before each render.

export type Labels = Readonly<Record<string, string | number>>;

interface MetricBase {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
}

export interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, ascending; `+Inf` is added. Default: DEFAULT_BUCKETS (seconds). */
  buckets?: readonly number[];
}

export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function checkNames(opts: MetricOptions): readonly string[] {
  if (!NAME_RE.test(opts.name)) throw new Error(`invalid metric name: ${opts.name}`);
  const labelNames = opts.labelNames ?? [];
  for (const l of labelNames) {
    if (!LABEL_RE.test(l) || l.startsWith('__') || l === 'le') throw new Error(`invalid label name for ${opts.name}: ${l}`);
  }
  return labelNames;
}

/** Series key: label values in labelNames order (missing labels are empty strings). */
function seriesKey(labelNames: readonly string[], labels: Labels | undefined): string {
  if (labelNames.length === 0) return '';
  if (labels) {
    for (const k of Object.keys(labels)) {
      if (!labelNames.includes(k)) throw new Error(`unknown label ${k} (expected ${labelNames.join(', ')})`);
    }
  }
  return JSON.stringify(labelNames.map((n) => String(labels?.[n] ?? '')));
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? '')}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Metric implements MetricBase {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  constructor(opts: MetricOptions) {
    this.labelNames = checkNames(opts);
    this.name = opts.name;
    this.help = opts.help;
  }
  protected key(labels?: Labels): string {
    return seriesKey(this.labelNames, labels);
  }
  protected valuesOf(key: string): string[] {
    return key === '' ? [] : (JSON.parse(key) as string[]);
  }
  abstract renderSamples(): string[];
  abstract reset(): void;
  render(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`, ...this.renderSamples()];
    return lines.join('\n') + '\n';
  }
}

/** A metric with one number per label set: counters and gauges. */
abstract class ValueMetric extends Metric {
  protected readonly series = new Map<string, number>();
  /** Forget one series (e.g. a peer that was removed from the configuration). */
  remove(labels?: Labels): void {
    this.series.delete(this.key(labels));
  }
  reset(): void {
    this.series.clear();
  }
  renderSamples(): string[] {
    return [...this.series].map(([k, v]) => `${this.name}${labelText(this.labelNames, this.valuesOf(k))} ${formatValue(v)}`);
  }
}

export class Counter extends ValueMetric {
  readonly type = 'counter' as const;
  inc(labels?: Labels, by = 1): void {
    if (by < 0 || !Number.isFinite(by)) throw new Error(`counter ${this.name} can only grow (got ${by})`);
    const k = this.key(labels);
    this.series.set(k, (this.series.get(k) ?? 0) + by);
  }
  get(labels?: Labels): number {
    return this.series.get(this.key(labels)) ?? 0;
  }
}

export class Gauge extends ValueMetric {
  readonly type = 'gauge' as const;
  set(labels: Labels | undefined, value: number): void {
    this.series.set(this.key(labels), value);
  }
  inc(labels?: Labels, by = 1): void {
    const k = this.key(labels);
    this.series.set(k, (this.series.get(k) ?? 0) + by);
  }
  dec(labels?: Labels, by = 1): void {
    this.inc(labels, -by);
  }
  get(labels?: Labels): number | undefined {
    return this.series.get(this.key(labels));
  }
}

interface HistogramSeries {
  counts: number[]; // per bucket, not cumulative
  sum: number;
  count: number;
}

export class Histogram extends Metric {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];
  private readonly series = new Map<string, HistogramSeries>();
  constructor(opts: HistogramOptions) {
    super(opts);
    const b = [...(opts.buckets ?? DEFAULT_BUCKETS)];
    for (let i = 1; i < b.length; i++) {
      if (!(b[i]! > b[i - 1]!)) throw new Error(`histogram ${opts.name}: buckets must be strictly ascending`);
    }
    this.buckets = b;
  }
  observe(labels: Labels | undefined, value: number): void {
    const k = this.key(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i]! += 1;
    s.sum += value;
    s.count += 1;
  }
  get(labels?: Labels): { sum: number; count: number } {
    const s = this.series.get(this.key(labels));
    return { sum: s?.sum ?? 0, count: s?.count ?? 0 };
  }
  remove(labels?: Labels): void {
    this.series.delete(this.key(labels));
  }
  reset(): void {
    this.series.clear();
  }
  renderSamples(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.series) {
      const values = this.valuesOf(k);
      let cum = 0;
      this.buckets.forEach((b, i) => {
        cum += s.counts[i]!;
        out.push(`${this.name}_bucket${labelText(this.labelNames, values, ['le', formatValue(b)])} ${cum}`);
      });
      out.push(`${this.name}_bucket${labelText(this.labelNames, values, ['le', '+Inf'])} ${s.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, values)} ${formatValue(s.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, values)} ${s.count}`);
    }
    return out;
  }
}

export type AnyMetric = Counter | Gauge | Histogram;

/** The content type of `render()`'s output, for an HTTP response. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export class MetricsRegistry {
  private readonly metrics = new Map<string, AnyMetric>();
  private readonly collectors = new Set<() => void>();

  /** Returns the existing metric when one of that name and type was registered (idempotent setup). */
  counter(opts: MetricOptions): Counter {
    return this.add(opts, Counter, () => new Counter(opts));
  }
  gauge(opts: MetricOptions): Gauge {
    return this.add(opts, Gauge, () => new Gauge(opts));
  }
  histogram(opts: HistogramOptions): Histogram {
    return this.add(opts, Histogram, () => new Histogram(opts));
  }

  private add<T extends AnyMetric>(opts: MetricOptions, cls: abstract new (...a: never[]) => T, make: () => T): T {
    const existing = this.metrics.get(opts.name);
    if (existing) {
      if (!(existing instanceof cls)) throw new Error(`metric ${opts.name} already registered as ${existing.type}`);
      const want = (opts.labelNames ?? []).join(',');
      if (existing.labelNames.join(',') !== want) throw new Error(`metric ${opts.name} already registered with labels [${existing.labelNames.join(', ')}]`);
      return existing;
    }
    const m = make();
    this.metrics.set(opts.name, m);
    return m;
  }

  get(name: string): AnyMetric | undefined {
    return this.metrics.get(name);
  }

  /** Runs `fn` before every render; returns a function that removes it. */
  onCollect(fn: () => void): () => void {
    this.collectors.add(fn);
    return () => this.collectors.delete(fn);
  }

  /** The whole registry in Prometheus text format (metrics in registration order). */
  render(): string {
    for (const c of this.collectors) c();
    return [...this.metrics.values()].map((m) => m.render()).join('');
  }
}
