/**
 * From the measured samples to the figures: medians over rounds, ratios portplex/HAProxy (plain and
 * with splice-auto), the
 * targets with PASS/MISS, the generator check, the printed tables and the JSON record.
 */
import type { Options, Pairing } from './options.js';
import type { RateFigure, RateSample, TargetName } from './measure.js';
import type { BenchData } from './run.js';
import { PROXY_NAMES, type ProxyName } from './stack.js';
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
  /** HAProxy with `option splice-auto`. */
  readonly haproxySplice: number | null;
  /** portplex / HAProxy, when both are positive. */
  readonly ratio: number | null;
  /** portplex / HAProxy with splice-auto. */
  readonly ratioSplice: number | null;
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
  readonly generatorCores: Record<TargetName, number>;
  readonly proxyCores: Record<ProxyName, number>;
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
      const [d, p, h, hs] = [median(of('direct')), median(of('portplex')), median(of('haproxy')), median(of('haproxy-splice'))];
      const ratio = ratioOf(nz(p), nz(h));
      const ratioSplice = ratioOf(nz(p), nz(hs));
      const spread: Partial<Record<TargetName, [number, number]>> = {};
      for (const t of ['direct', ...PROXY_NAMES] as const) spread[t] = [min(of(t)), max(of(t))];
      // The targets: connections at least HAProxy's; bulk 1.3x plain HAProxy and at least
      // HAProxy with splice-auto (what its users turn on for bulk).
      const bulk = figure.startsWith('bulk');
      const pass = bulk ? ratio !== null && ratioSplice !== null && ratio >= 1.3 && ratioSplice >= 1.0 : ratio !== null && ratio >= 1.0;
      const known = bulk ? ratio !== null && ratioSplice !== null : ratio !== null;
      out.push({
        pairing, id: figure, label: labels[figure][0], unit: labels[figure][1], better: 'higher',
        direct: nz(d), portplex: nz(p), haproxy: nz(h), haproxySplice: nz(hs), ratio, ratioSplice,
        target: bulk ? 'pp/HAProxy >= 1.3, pp/splice >= 1.0' : 'pp/HAProxy >= 1.0', result: known ? (pass ? 'PASS' : 'MISS') : null,
        derived: false, spread,
      });
    }
    // Proxy CPU per unit of work (cores / rate, per round, then the median): steadier than the rates
    // when other work shares the machine, and what an optimisation of the hot path moves first.
    for (const figure of Object.keys(labels) as RateFigure[]) {
      const cost = (t: ProxyName): number | null => {
        const xs = data.rates.filter((s) => s.pairing === pairing && s.figure === figure && s.target === t && s.round > 0 && s.value > 0 && s.cpu.proxy !== null).map((s) => (s.cpu.proxy! / s.value) * 1e6);
        return xs.length === 0 ? null : nz(median(xs));
      };
      if (cost('portplex') === null && cost('haproxy') === null) continue;
      const per = figure.startsWith('conns') ? 'conn' : 'MB';
      const ratio = ratioOf(cost('portplex'), cost('haproxy'));
      const conns = figure.startsWith('conns');
      out.push({
        pairing, id: `cpu-${figure}`, label: `proxy CPU per ${per}, ${labels[figure][0].replace(/^new conns\/s, |^bulk download, /, '')}`, unit: `µs/${per}`, better: 'lower',
        direct: null, portplex: cost('portplex'), haproxy: cost('haproxy'), haproxySplice: cost('haproxy-splice'), ratio, ratioSplice: ratioOf(cost('portplex'), cost('haproxy-splice')),
        target: conns ? 'pp/HAProxy <= 1.0' : null, result: conns && ratio !== null ? (ratio <= 1.0 ? 'PASS' : 'MISS') : null, derived: false,
      });
    }
    for (const route of ['http', 'tls'] as const) {
      const s = (t: string): number[] => run.ttfb[`${t}-${route}`] ?? [];
      if (s('portplex').length === 0) continue;
      const name = route === 'http' ? 'HTTP' : 'TLS';
      for (const [q, qn] of [[0.5, 'median'], [0.99, 'p99']] as const) {
        const [d, p, h, hs] = [quantile(s('direct'), q), quantile(s('portplex'), q), quantile(s('haproxy'), q), quantile(s('haproxy-splice'), q)];
        out.push({
          pairing, id: `ttfb-${route}-${qn}`, label: `TTFB ${name}, ${qn}`, unit: 'ms', better: 'lower',
          direct: nz(d), portplex: nz(p), haproxy: nz(h), haproxySplice: nz(hs), ratio: ratioOf(nz(p), nz(h)), ratioSplice: ratioOf(nz(p), nz(hs)), target: null, result: null, derived: false,
        });
        const [ap, ah, ahs] = [nz(p - d), nz(h - d), nz(hs - d)];
        const isP99 = q === 0.99;
        // Median: what portplex adds is at most what HAProxy adds; p99: under a millisecond.
        const result = ap === null ? null : isP99 ? ap <= 1 : ah === null ? null : ap <= ah;
        out.push({
          pairing, id: `ttfb-${route}-added-${qn}`, label: `added TTFB ${name}, ${qn}`, unit: 'ms', better: 'lower',
          direct: null, portplex: ap, haproxy: ah, haproxySplice: ahs, ratio: ratioOf(ap, ah), ratioSplice: ratioOf(ap, ahs),
          target: isP99 ? 'portplex <= 1 ms' : 'portplex <= HAProxy',
          result: result === null ? null : result ? 'PASS' : 'MISS',
          derived: true,
        });
      }
    }
    const rss = (t: ProxyName): number | null => {
      const r = data.rss.find((x) => x.pairing === pairing && x.target === t);
      return r === undefined ? null : r.perConnection / 1024;
    };
    if (rss('portplex') !== null || rss('haproxy') !== null) {
      const ratio = ratioOf(rss('portplex'), rss('haproxy'));
      out.push({
        pairing, id: 'rss-per-conn', label: `RSS per held conn (${data.rssConns})`, unit: 'KiB', better: 'lower',
        direct: null, portplex: rss('portplex'), haproxy: rss('haproxy'), haproxySplice: rss('haproxy-splice'), ratio, ratioSplice: ratioOf(rss('portplex'), rss('haproxy-splice')),
        target: 'pp/HAProxy <= 1.0', result: ratio === null ? null : ratio <= 1.0 ? 'PASS' : 'MISS', derived: false,
      });
    }
  }
  if (data.parser !== undefined && data.parser.rounds.length > 0) {
    const v = median(data.parser.rounds);
    out.push({
      pairing: null, id: 'parser', label: `ClientHello parse (${data.parser.helloBytes} B), 1 core`, unit: 'hellos/s', better: 'higher',
      direct: null, portplex: v, haproxy: null, haproxySplice: null, ratio: null, ratioSplice: null, target: 'portplex >= 1,000,000/s', result: v >= 1e6 ? 'PASS' : 'MISS', derived: false,
    });
  }
  const drip = data.drip;
  if (drip !== undefined && drip.inspectorUs.length > 0) {
    const kb = `${Math.round(drip.headBytes / 1000)} KB`;
    const alone = (id: string, label: string, unit: string, v: number, target: string | null, pass: boolean | null): Figure => ({
      pairing: null, id, label, unit, better: 'lower', direct: null, portplex: v, haproxy: null, haproxySplice: null, ratio: null, ratioSplice: null, target, result: pass === null ? null : pass ? 'PASS' : 'MISS', derived: false,
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
      const fasterProxy = Math.max(...PROXY_NAMES.map(v));
      const headroom = direct / fasterProxy;
      out.push({
        pairing: run.pairing,
        figure,
        direct,
        fasterProxy,
        headroom,
        generatorCores: { direct: cpu('direct', 'generator'), portplex: cpu('portplex', 'generator'), haproxy: cpu('haproxy', 'generator'), 'haproxy-splice': cpu('haproxy-splice', 'generator') },
        proxyCores: { portplex: cpu('portplex', 'proxy'), haproxy: cpu('haproxy', 'proxy'), 'haproxy-splice': cpu('haproxy-splice', 'proxy') },
        backendCores: median(PROXY_NAMES.flatMap(sel).map((s) => s.cpu.backend)),
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
    const rows = [['figure', 'unit', 'better', 'direct', 'portplex', 'HAProxy', 'HAP splice', 'pp/HAProxy', 'pp/splice', 'target', 'result']];
    const x = (r: number | null): string => (r === null ? '—' : `${r.toFixed(2)}x`);
    for (const f of fs) {
      rows.push([f.label, f.unit, f.better, fmt(f.direct, f.unit), fmt(f.portplex, f.unit), fmt(f.haproxy, f.unit), fmt(f.haproxySplice, f.unit), x(f.ratio), x(f.ratioSplice), f.target ?? '', f.result ?? '']);
    }
    parts.push(table(rows), '');
  }
  return parts.join('\n');
}

export function renderGeneratorChecks(checks: readonly GeneratorCheck[]): string {
  if (checks.length === 0) return '';
  const rows = [['pairing', 'figure', 'direct', 'faster proxy', 'headroom', 'gen cores (direct/pp/hap/splice)', 'proxy cores (pp/hap/splice)', 'nginx', 'other (max)', '']];
  for (const c of checks) {
    const unit = c.figure.startsWith('conns') ? 'conns/s' : 'MB/s';
    rows.push([
      c.pairing, c.figure, `${fmt(c.direct, unit)}`, `${fmt(c.fasterProxy, unit)}`, `${c.headroom.toFixed(2)}x`,
      [c.generatorCores.direct, ...PROXY_NAMES.map((p) => c.generatorCores[p])].map((v) => v.toFixed(2)).join('/'),
      PROXY_NAMES.map((p) => c.proxyCores[p].toFixed(2)).join('/'), c.backendCores.toFixed(2), c.otherCores.toFixed(2),
      c.ok ? 'ok' : `CHECK: direct < ${HEADROOM_OK}x`,
    ]);
  }
  return table(rows);
}
