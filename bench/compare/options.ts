/**
 * Command line of `npm run bench` (node dist/bench/compare/cli.js). Everything has a bound: rounds,
 * seconds per measurement, connection counts; --quick shrinks all of them for CI.
 */
import { join } from 'node:path';
import { REPO_ROOT } from './wire.js';
import { DATAPLANE_ASKS, type DataplaneAsk } from '../../src/config/types.js';

export const FIGURES = ['conns', 'bulk', 'ttfb', 'rss', 'parser', 'drip'] as const;
export type FigureGroup = (typeof FIGURES)[number];

/** single: portplex --workers 0 vs HAProxy nbthread 1; dual: --workers 2 vs nbthread 2. */
export const PAIRINGS = { single: { workers: 0, nbthread: 1 }, dual: { workers: 2, nbthread: 2 } } as const;
export type Pairing = keyof typeof PAIRINGS;

/** portplex's --dataplane for the run (auto: the native addon where it loads). */
export { DATAPLANE_ASKS, type DataplaneAsk };

export interface Options {
  readonly quick: boolean;
  /** Rounds of the rate figures; the proxies take turns in each round (ABBA across rounds). */
  readonly rounds: number;
  /** Seconds per rate measurement (wrk needs whole seconds). */
  readonly seconds: number;
  readonly only: ReadonlySet<FigureGroup>;
  readonly pairs: readonly Pairing[];
  readonly dataplane: DataplaneAsk;
  /** Idle routed connections held for the RSS figure. */
  readonly rssConns: number;
  /** TTFB probes per target per round. */
  readonly ttfbProbes: number;
  /** Concurrent short connections (wrk -c). */
  readonly concurrency: number;
  /** Long connections of the "several" bulk figure. */
  readonly bulkConns: number;
  /** Where latest.json and the timestamped copy go. */
  readonly outDir: string;
}

export const USAGE = `usage: npm run bench -- [options]     (node dist/bench/compare/cli.js [options])
  --quick              a few seconds per figure (CI): 1 round of 1 s, a short warm-up, 500 held connections, 60 TTFB probes
  --rounds N           rounds of the rate figures, proxies alternating (default 3; quick 1)
  --seconds N          seconds per rate measurement, whole seconds (default 2; quick 1)
  --only LIST          figures to measure: conns,bulk,ttfb,rss,parser,drip (default all)
  --pairs LIST         single (portplex --workers 0 vs HAProxy nbthread 1), dual (--workers 2 vs nbthread 2); default both
  --dataplane PLANE    portplex run --dataplane: auto (default: native where the addon loads), native, js
  --rss-conns N        idle connections held for RSS per connection (default 5000; quick 500)
  --ttfb-probes N      TTFB probes per target per round (default 300; quick 60)
  --concurrency N      concurrent short connections, wrk -c (default 64)
  --bulk-conns N       connections of the "several" bulk figure (default 8)
  --out DIR            where latest.json and the timestamped copy go (default bench/results)
  -h, --help`;

export class UsageError extends Error {}

export function parseOptions(argv: readonly string[]): Options | 'help' {
  const given = new Map<string, string>();
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return 'help';
    if (a === '--quick') {
      quick = true;
      continue;
    }
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (!['--rounds', '--seconds', '--only', '--pairs', '--dataplane', '--rss-conns', '--ttfb-probes', '--concurrency', '--bulk-conns', '--out'].includes(flag)) throw new UsageError(`unknown argument ${a}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    given.set(flag, value);
  }
  const int = (flag: string, dflt: number, lo: number, hi: number): number => {
    const v = given.get(flag);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) throw new UsageError(`${flag} must be a whole number from ${lo} to ${hi}, got ${v}`);
    return Number(v);
  };
  const list = <T extends string>(flag: string, all: readonly T[]): T[] => {
    const v = given.get(flag);
    if (v === undefined) return [...all];
    const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const it of items) if (!all.includes(it as T)) throw new UsageError(`${flag}: unknown "${it}" (expected ${all.join(', ')})`);
    if (items.length === 0) throw new UsageError(`${flag} needs at least one of ${all.join(', ')}`);
    return all.filter((x) => items.includes(x));
  };
  const oneOf = <T extends string>(flag: string, all: readonly T[], dflt: T): T => {
    const v = given.get(flag);
    if (v === undefined) return dflt;
    if (!all.includes(v as T)) throw new UsageError(`${flag}: unknown "${v}" (expected ${all.join(', ')})`);
    return v as T;
  };
  return {
    quick,
    rounds: int('--rounds', quick ? 1 : 3, 1, 20),
    seconds: int('--seconds', quick ? 1 : 2, 1, 60),
    only: new Set(list('--only', FIGURES)),
    pairs: list('--pairs', Object.keys(PAIRINGS) as Pairing[]),
    dataplane: oneOf('--dataplane', DATAPLANE_ASKS, 'auto'),
    rssConns: int('--rss-conns', quick ? 500 : 5000, 10, 50_000),
    ttfbProbes: int('--ttfb-probes', quick ? 60 : 300, 10, 10_000),
    concurrency: int('--concurrency', 64, 1, 1024),
    bulkConns: int('--bulk-conns', 8, 2, 64),
    outDir: given.get('--out') ?? join(REPO_ROOT, 'bench/results'),
  };
}

/** A rough duration of the whole run, printed at the start (and the base of the hard time limit). */
export function estimateSeconds(o: Options): number {
  const perPair =
    (o.only.has('conns') || o.only.has('bulk') ? (o.quick ? 3 : 3 * 3) : 0) + // warm-up
    (o.only.has('conns') ? o.rounds * 2 * 4 * (o.seconds + 0.2) : 0) +
    (o.only.has('bulk') ? o.rounds * 2 * 4 * (o.seconds + 0.3) : 0) +
    (o.only.has('ttfb') ? ((o.ttfbProbes * o.rounds + Math.min(100, o.ttfbProbes * o.rounds)) * 8 * 1.5) / 1000 : 0) +
    (o.only.has('rss') ? 3 * (o.rssConns / 2000 + 2) : 0) +
    3; // starting the proxies
  const proxied = ['conns', 'bulk', 'ttfb', 'rss'].some((f) => o.only.has(f as FigureGroup));
  // drip: the inspector alone, then a warm-up and 1-2 dripped connections per round over TCP (~1 s each).
  const drip = o.only.has('drip') ? 3 + (o.quick ? 1 : 2) * o.rounds + 1 : 0;
  return Math.ceil((proxied ? o.pairs.length * perPair : 0) + (o.only.has('parser') ? 1 + o.rounds : 0) + drip + 3);
}
