/**
 * The order of the run. nginx runs throughout; for each pairing a fresh portplex and two HAProxy
 * (plain, and with `option splice-auto`) are started and measured:
 *
 *  1. RSS per held connection first, while both proxies are fresh (no garbage from earlier load in
 *     portplex's heap to hide or inflate the growth);
 *  2. a warm-up of each kind of load through each proxy (V8 optimises portplex's hot path; HAProxy
 *     fills its pools), checked but not recorded;
 *  3. the rate figures in rounds: in each round every figure is measured direct, then through the
 *     three proxies (portplex, HAProxy, HAProxy with splice-auto) in turn, the order rotating from
 *     round to round, so drift of the machine over time reaches all alike;
 *  4. TTFB probes, the targets taking turns probe by probe.
 *
 * The parser and slow-drip figures are measured before anything else is started, on an otherwise
 * idle bench process.
 */
import { PAIRINGS, type Options, type Pairing } from './options.js';
import { measureBulk, measureConns, measureRss, measureTtfb, type Context, type RateSample, type RssSample, type Target, type TtfbTarget } from './measure.js';
import { measureDrip, type DripResult } from './drip.js';
import { measureParser, type ParserResult } from './parser.js';
import type { Supervisor } from './procs.js';
import { startBackends, startHaproxy, startPortplex, type Budget, type RunningProxy } from './stack.js';

export interface Tools {
  readonly haproxy: string;
  readonly nginx: string;
  readonly wrk: string;
}

export interface PairingRun {
  readonly pairing: Pairing;
  readonly portplex: string;
  readonly haproxy: string;
  readonly haproxySplice: string;
  ttfb: Record<string, number[]>;
}

export interface BenchData {
  readonly rates: RateSample[];
  readonly rss: RssSample[];
  readonly pairings: PairingRun[];
  parser: ParserResult | undefined;
  drip: DripResult | undefined;
  /** Held connections actually used (lowered when the descriptor limit is too low). */
  rssConns: number;
}

/** The bulk file: 16 MiB keeps several whole responses per connection in a 1-second quick run. */
const BULK_BYTES = 16 * 1024 * 1024;

export async function runBench(o: {
  opts: Options;
  tools: Tools;
  sup: Supervisor;
  budget: Budget;
  failures: string[];
  log: (msg: string) => void;
  rssConns: number;
}): Promise<BenchData> {
  const { opts, sup, log, failures } = o;
  const data: BenchData = { rates: [], rss: [], pairings: [], parser: undefined, drip: undefined, rssConns: o.rssConns };
  const has = (f: string): boolean => opts.only.has(f as never);

  if (has('parser')) {
    log(`parser: ClientHello parse rate (warm-up, then ${opts.rounds} round(s) of ${opts.quick ? 0.5 : 1} s)`);
    data.parser = measureParser({ warmupMs: opts.quick ? 300 : 1000, roundMs: opts.quick ? 500 : 1000, rounds: opts.rounds }, failures);
  }
  if (has('drip')) {
    log(`drip: a 15 KB HTTP head one byte per segment: the inspector alone, then portplex over TCP (${opts.rounds} round(s))`);
    data.drip = await measureDrip(sup, o.budget, { quick: opts.quick, rounds: opts.rounds, dataplane: opts.dataplane }, failures);
    const us = (xs: number[]): string => xs.map((x) => Math.round(x).toLocaleString('en-US')).join(', ');
    log(`drip: inspector ${us(data.drip.inspectorUs)} µs/conn, ${data.drip.readsPerByte.toFixed(1)} reads per byte; TCP ${us(data.drip.tcpUs)} µs/conn`);
  }
  if (!['conns', 'bulk', 'ttfb', 'rss'].some(has)) return data;

  const held = has('rss') ? o.rssConns : 0;
  const backends = await startBackends(sup, { nginx: o.tools.nginx, bulkBytes: BULK_BYTES, heldConnections: held, budget: o.budget });
  const ctx: Context = { sup, wrk: o.tools.wrk, backends, concurrency: opts.concurrency, failures, log };
  const direct: Target = { name: 'direct' };

  for (const [pi, pairing] of opts.pairs.entries()) {
    const { workers, nbthread } = PAIRINGS[pairing];
    log(`${pairing}: starting portplex --workers ${workers} --dataplane ${opts.dataplane}, haproxy nbthread ${nbthread} and haproxy nbthread ${nbthread} with splice-auto`);
    const pp = await startPortplex(sup, { workers, dataplane: opts.dataplane, ports: backends.ports, heldConnections: held, budget: o.budget });
    const hapStart = { haproxy: o.tools.haproxy, nbthread, ports: backends.ports, heldConnections: held, budget: o.budget };
    const hap = await startHaproxy(sup, { ...hapStart, splice: false });
    const hapSplice = await startHaproxy(sup, { ...hapStart, splice: true });
    const run: PairingRun = { pairing, portplex: pp.mode, haproxy: hap.mode, haproxySplice: hapSplice.mode, ttfb: {} };
    data.pairings.push(run);
    const all = [pp, hap, hapSplice];
    // Each takes each place in turn across rounds (rotation), so drift reaches all alike.
    const proxies = (turn: number): RunningProxy[] => all.map((_, i) => all[(i + turn) % all.length]!);
    log(`${pairing}: portplex runs ${pp.mode}`);

    if (has('rss')) {
      for (const p of proxies(pi)) {
        const s = await measureRss(ctx, pairing, p, o.rssConns, opts.quick ? 500 : 1000);
        if (s) {
          data.rss.push(s);
          log(`${pairing}: ${p.name} RSS ${(s.rssBefore / 1048576).toFixed(1)} -> ${(s.rssAfter / 1048576).toFixed(1)} MiB with ${s.connections} held connections: ${(s.perConnection / 1024).toFixed(1)} KiB each`);
        }
      }
    }

    const rateJobs: { name: string; run: (t: Target, round: number) => Promise<RateSample> }[] = [];
    if (has('conns')) {
      rateJobs.push({ name: 'new connections, HTTP', run: (t, r) => measureConns(ctx, pairing, t, 'http', opts.seconds, r) });
      rateJobs.push({ name: 'new connections, TLS hello', run: (t, r) => measureConns(ctx, pairing, t, 'tls', opts.seconds, r) });
    }
    if (has('bulk')) {
      rateJobs.push({ name: 'bulk, 1 connection', run: (t, r) => measureBulk(ctx, pairing, t, 1, opts.seconds, r) });
      rateJobs.push({ name: `bulk, ${opts.bulkConns} connections`, run: (t, r) => measureBulk(ctx, pairing, t, opts.bulkConns, opts.seconds, r) });
    }
    if (rateJobs.length > 0) {
      // --quick keeps one second of one load (HTTP connections: the path every load shares —
      // accept, inspect, connect, PROXY header, splice): its figures are a smoke test, not ones to compare.
      log(`${pairing}: warm-up (${opts.quick ? '1 s of HTTP connections' : '1 s of each load'} through each proxy, not recorded)`);
      for (const p of all) {
        const t: Target = { name: p.name, proxy: p };
        if (has('conns')) await measureConns(ctx, pairing, t, 'http', 1, 0);
        if (has('conns') && !opts.quick) await measureConns(ctx, pairing, t, 'tls', 1, 0);
        if (has('bulk') && (!opts.quick || !has('conns'))) await measureBulk(ctx, pairing, t, 1, 1, 0);
      }
      for (let round = 1; round <= opts.rounds; round++) {
        const order = proxies(round - 1).map((p): Target => ({ name: p.name, proxy: p }));
        for (const job of rateJobs) {
          const line: string[] = [];
          for (const t of [direct, ...order]) {
            const s = await job.run(t, round);
            data.rates.push(s);
            const unit = s.figure.startsWith('conns') ? '/s' : ' MB/s';
            line.push(`${t.name} ${Math.round(s.value).toLocaleString('en-US')}${unit}${s.cpu.proxy !== null ? ` (${s.cpu.proxy.toFixed(2)} cores)` : ''}`);
          }
          log(`${pairing} round ${round}/${opts.rounds}: ${job.name}: ${line.join(', ')}`);
        }
      }
    }

    if (has('ttfb')) {
      const targets: TtfbTarget[] = [];
      for (const route of ['http', 'tls'] as const) {
        targets.push({ label: `direct-${route}`, port: route === 'http' ? backends.ports.httpDirect : backends.ports.tlsDirect, route });
        for (const p of all) targets.push({ label: `${p.name}-${route}`, port: p.port, route });
      }
      const probes = opts.ttfbProbes * opts.rounds;
      log(`${pairing}: TTFB, ${probes} sequential probes per target (${targets.map((t) => t.label).join(', ')})`);
      run.ttfb = await measureTtfb(ctx, pairing, targets, probes, 1);
    }

    await Promise.all(all.map((p) => sup.stop(p.proc)));
    for (const p of all) {
      const e = p.proc.exit();
      // Killed by the bench's own SIGKILL after the grace time is a hang, not a clean stop.
      if (e?.signal === 'SIGKILL') failures.push(`${pairing}: ${p.proc.name} did not stop within 3 s of SIGTERM`);
    }
  }
  return data;
}
