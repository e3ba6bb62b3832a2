/**
 * From the measured samples to the figures: medians over rounds, ratios portplex/HAProxy, the
 * targets with PASS/MISS, the generator check, the printed tables and the JSON record.
 */
import type { Options, Pairing } from './options.js';
import type { RateFigure, RateSample, TargetName } from './measure.js';
import type { BenchData } from './run.js';
import { max, median, min, quantile } from './stats.js';

export type Better = 'higher' | 'lower';

export interface Figure {
  /** null for the figures of portplex alone (parser, slow drip), which have no pairing. */
  readonly pairing: Pairing | null;
  readonly id: string;
  readonly label: string;
  readonly unit: string;
  readonly better: Better;
  readonly direct: number | null;
  readonly portplex: number | null;
  readonly haproxy: number | null;
  /** portplex / HAProxy, when both are positive. */
  readonly ratio: number | null;
  readonly target: string | null;
  readonly result: 'PASS' | 'MISS' | null;
  /** Computed from other figures (added TTFB = proxy - direct): may be zero or negative. */
  readonly derived: boolean;
  /** Smallest and largest round, for the rate figures. */
  readonly spread?: Partial<Record<TargetName, [number, number]>>;
}

export interface GeneratorCheck {
  readonly pairing: Pairing;
  readonly figure: RateFigure;
  readonly direct: number;
  readonly fasterProxy: number;
  /** direct / the faster proxy: how much more the same generator and backend did without a proxy. */
  readonly headroom: number;
  /** Median cores used by the generator while loading each proxy, and by everything else on the machine. */
  readonly generatorCores: Record<'direct' | 'portplex' | 'haproxy', number>;
  readonly proxyCores: Record<'portplex' | 'haproxy', number>;
  readonly backendCores: number;
  readonly otherCores: number;
  readonly ok: boolean;
}

const RATE_LABELS = (o: Options): Record<RateFigure, [string, string]> => ({
  'conns-http': ['new conns/s, HTTP request', 'conns/s'],
  'conns-tls': ['new conns/s, TLS ClientHello', 'conns/s'],
  'bulk-1': ['bulk download, 1 conn', 'MB/s'],
  'bulk-n': [`bulk download, ${o.bulkConns} conns`, 'MB/s'],
});

/** Headroom the direct run must show over the faster proxy for the generator to be ruled out. */
const HEADROOM_OK = 1.25;

function ratioOf(pp: number | null, hap: number | null): number | null {
  return pp !== null && hap !== null && pp > 0 && hap > 0 ? pp / hap : null;
}

function nz(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

export function buildFigures(data: BenchData, o: Options): Figure[] {
  const out: Figure[] = [];
  const labels = RATE_LABELS(o);
  for (const run of data.pairings) {
    const pairing = run.pairing;
    for (const figure of Object.keys(labels) as RateFigure[]) {
      const of = (t: TargetName): number[] => data.rates.filter((s) => s.pairing === pairing && s.figure === figure && s.target === t && s.round > 0).map((s) => s.value);
      if (of('portplex').length === 0) continue;
      const [d, p, h] = [median(of('direct')), median(of('portplex')), median(of('haproxy'))];
      const ratio = ratioOf(nz(p), nz(h));
      const spread: Partial<Record<TargetName, [number, number]>> = {};
      for (const t of ['direct', 'portplex', 'haproxy'] as const) spread[t] = [min(of(t)), max(of(t))];
      out.push({
        pairing, id: figure, label: labels[figure][0], unit: labels[figure][1], better: 'higher',
        direct: nz(d), portplex: nz(p), haproxy: nz(h), ratio,
        target: 'portplex/HAProxy >= 1.0', result: ratio === null ? null : ratio >= 1.0 ? 'PASS' : 'MISS',
        derived: false, spread,
      });
    }
    // Proxy CPU per unit of work (cores / rate, per round, then the median): steadier than the rates
    // when other work shares the machine, and what an optimisation of the hot path moves first.
    for (const figure of Object.keys(labels) as RateFigure[]) {
      const cost = (t: 'portplex' | 'haproxy'): number | null => {
        const xs = data.rates.filter((s) => s.pairing === pairing && s.figure === figure && s.target === t && s.round > 0 && s.value > 0 && s.cpu.proxy !== null).map((s) => (s.cpu.proxy! / s.value) * 1e6);
        return xs.length === 0 ? null : nz(median(xs));
      };
      if (cost('portplex') === null && cost('haproxy') === null) continue;
      const per = figure.startsWith('conns') ? 'conn' : 'MB';
      out.push({
        pairing, id: `cpu-${figure}`, label: `proxy CPU per ${per}, ${labels[figure][0].replace(/^new conns\/s, |^bulk download, /, '')}`, unit: `µs/${per}`, better: 'lower',
        direct: null, portplex: cost('portplex'), haproxy: cost('haproxy'), ratio: ratioOf(cost('portplex'), cost('haproxy')),
        target: null, result: null, derived: false,
      });
    }
    for (const route of ['http', 'tls'] as const) {
      const s = (t: string): number[] => run.ttfb[`${t}-${route}`] ?? [];
      if (s('portplex').length === 0) continue;
      const name = route === 'http' ? 'HTTP' : 'TLS';
      for (const [q, qn] of [[0.5, 'median'], [0.99, 'p99']] as const) {
        const [d, p, h] = [quantile(s('direct'), q), quantile(s('portplex'), q), quantile(s('haproxy'), q)];
        out.push({
          pairing, id: `ttfb-${route}-${qn}`, label: `TTFB ${name}, ${qn}`, unit: 'ms', better: 'lower',
          direct: nz(d), portplex: nz(p), haproxy: nz(h), ratio: ratioOf(nz(p), nz(h)), target: null, result: null, derived: false,
        });
        const [ap, ah] = [nz(p - d), nz(h - d)];
        const isP99 = q === 0.99;
        out.push({
          pairing, id: `ttfb-${route}-added-${qn}`, label: `added TTFB ${name}, ${qn}`, unit: 'ms', better: 'lower',
          direct: null, portplex: ap, haproxy: ah, ratio: ratioOf(ap, ah),
          target: isP99 ? 'portplex <= 1 ms' : null,
          result: isP99 && ap !== null ? (ap <= 1 ? 'PASS' : 'MISS') : null,
          derived: true,
        });
      }
    }
    const rss = (t: 'portplex' | 'haproxy'): number | null => {
      const r = data.rss.find((x) => x.pairing === pairing && x.target === t);
      return r === undefined ? null : r.perConnection / 1024;
    };
    if (rss('portplex') !== null || rss('haproxy') !== null) {
      const ratio = ratioOf(rss('portplex'), rss('haproxy'));
      out.push({
        pairing, id: 'rss-per-conn', label: `RSS per held conn (${data.rssConns})`, unit: 'KiB', better: 'lower',
        direct: null, portplex: rss('portplex'), haproxy: rss('haproxy'), ratio,
        target: 'portplex/HAProxy <= 1.5', result: ratio === null ? null : ratio <= 1.5 ? 'PASS' : 'MISS', derived: false,
      });
    }
  }
  if (data.parser !== undefined && data.parser.rounds.length > 0) {
    const v = median(data.parser.rounds);
    out.push({
      pairing: null, id: 'parser', label: `ClientHello parse (${data.parser.helloBytes} B), 1 core`, unit: 'hellos/s', better: 'higher',
      direct: null, portplex: v, haproxy: null, ratio: null, target: 'portplex >= 1,000,000/s', result: v >= 1e6 ? 'PASS' : 'MISS', derived: false,
    });
  }
  const drip = data.drip;
  if (drip !== undefined && drip.inspectorUs.length > 0) {
    const kb = `${Math.round(drip.headBytes / 1000)} KB`;
    const alone = (id: string, label: string, unit: string, v: number, target: string | null, pass: boolean | null): Figure => ({
      pairing: null, id, label, unit, better: 'lower', direct: null, portplex: v, haproxy: null, ratio: null, target, result: pass === null ? null : pass ? 'PASS' : 'MISS', derived: false,
    });
    const readsPerByte = drip.readsPerByte;
    out.push(alone('drip-inspector', `slow drip: ${kb} HTTP head, 1 B/append, inspector CPU`, 'µs/conn', median(drip.inspectorUs), null, null));
    out.push(alone('drip-reads', `slow drip: parser reads per head byte`, 'reads/B', readsPerByte, 'linear: <= 16', readsPerByte <= 16));
    if (drip.tcpUs.length > 0) out.push(alone('drip-tcp', `slow drip: ${kb} HTTP head, 1 B/segment over TCP, portplex CPU`, 'µs/conn', median(drip.tcpUs), null, null));
  }
  return out;
}

export function generatorChecks(data: BenchData): GeneratorCheck[] {
  const out: GeneratorCheck[] = [];
  for (const run of data.pairings) {
    for (const figure of ['conns-http', 'conns-tls', 'bulk-1', 'bulk-n'] as const) {
      const sel = (t: TargetName): RateSample[] => data.rates.filter((s) => s.pairing === run.pairing && s.figure === figure && s.target === t && s.round > 0);
      if (sel('direct').length === 0) continue;
      const v = (t: TargetName): number => median(sel(t).map((s) => s.value));
      const cpu = (t: TargetName, k: 'generator' | 'proxy' | 'backend' | 'other'): number => median(sel(t).map((s) => s.cpu[k] ?? NaN));
      const direct = v('direct');
      const fasterProxy = Math.max(v('portplex'), v('haproxy'));
      const headroom = direct / fasterProxy;
      out.push({
        pairing: run.pairing,
        figure,
        direct,
        fasterProxy,
        headroom,
        generatorCores: { direct: cpu('direct', 'generator'), portplex: cpu('portplex', 'generator'), haproxy: cpu('haproxy', 'generator') },
        proxyCores: { portplex: cpu('portplex', 'proxy'), haproxy: cpu('haproxy', 'proxy') },
        backendCores: median(sel('portplex').concat(sel('haproxy')).map((s) => s.cpu.backend)),
        otherCores: max(data.rates.filter((s) => s.pairing === run.pairing && s.figure === figure && s.round > 0).map((s) => s.cpu.other)),
        ok: headroom >= HEADROOM_OK,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Printing

function fmt(x: number | null, unit: string): string {
  if (x === null || !Number.isFinite(x)) return '—';
  if (unit === 'ms') return x.toFixed(3);
  if (unit === 'KiB' || unit === 'reads/B') return x.toFixed(1);
  return Math.round(x).toLocaleString('en-US');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function renderFigures(figures: readonly Figure[], pairingTitles: Record<string, string>): string {
  const parts: string[] = [];
  const groups = new Map<string, Figure[]>();
  for (const f of figures) {
    const k = f.pairing ?? 'alone';
    groups.set(k, [...(groups.get(k) ?? []), f]);
  }
  for (const [k, fs] of groups) {
    parts.push(k === 'alone' ? 'portplex alone' : (pairingTitles[k] ?? k));
    const rows = [['figure', 'unit', 'better', 'direct', 'portplex', 'HAProxy', 'pp/HAProxy', 'target', 'result']];
    for (const f of fs) {
      rows.push([f.label, f.unit, f.better, fmt(f.direct, f.unit), fmt(f.portplex, f.unit), fmt(f.haproxy, f.unit), f.ratio === null ? '—' : `${f.ratio.toFixed(2)}x`, f.target ?? '', f.result ?? '']);
    }
    parts.push(table(rows), '');
  }
  return parts.join('\n');
}

export function renderGeneratorChecks(checks: readonly GeneratorCheck[]): string {
  if (checks.length === 0) return '';
  const rows = [['pairing', 'figure', 'direct', 'faster proxy', 'headroom', 'gen cores (direct/pp/hap)', 'proxy cores (pp/hap)', 'nginx', 'other (max)', '']];
  for (const c of checks) {
    const unit = c.figure.startsWith('conns') ? 'conns/s' : 'MB/s';
    rows.push([
      c.pairing, c.figure, `${fmt(c.direct, unit)}`, `${fmt(c.fasterProxy, unit)}`, `${c.headroom.toFixed(2)}x`,
      `${c.generatorCores.direct.toFixed(2)}/${c.generatorCores.portplex.toFixed(2)}/${c.generatorCores.haproxy.toFixed(2)}`,
      `${c.proxyCores.portplex.toFixed(2)}/${c.proxyCores.haproxy.toFixed(2)}`, c.backendCores.toFixed(2), c.otherCores.toFixed(2),
      c.ok ? 'ok' : `CHECK: direct < ${HEADROOM_OK}x`,
    ]);
  }
  return table(rows);
}
