/**
 * Time-to-first-byte prober: `node ttfb-client.js '{"targets":[...],"probes":N,"gapMs":G}'`.
 *
 * One connection at a time (latency, not load): connect, send the route's request at once, time
 * from just before connect() to the first byte of the answer, read the answer to its end and
 * check it (warm-up probes too, which are not recorded). The targets take turns probe by probe (direct, portplex, HAProxy, for each route, in
 * an order that rotates), so drift on the machine reaches them all alike. Prints
 * `RESULT {samples: {label: [ms...]}, errors: {...}, bad: {...}}`.
 */
import { performance } from 'node:perf_hooks';
import { emit, lifetime } from './child-io.js';
import { answerIsRight, exchange, requestFor, type Route } from './wire.js';

interface Config {
  readonly targets: readonly { label: string; port: number; route: Route }[];
  readonly probes: number;
  /** Probes per target first, not recorded: a proxy measured only for TTFB starts with cold code. */
  readonly warmup: number;
  readonly gapMs: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const perProbeBound = 5000;
lifetime((config.warmup + config.probes) * config.targets.length * (config.gapMs + 50) + 30_000);

const samples: Record<string, number[]> = {};
const errors: Record<string, number> = {};
const bad: Record<string, number> = {};
const problems: string[] = [];
for (const t of config.targets) {
  samples[t.label] = [];
  errors[t.label] = 0;
  bad[t.label] = 0;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const n = config.targets.length;
let t0 = performance.now();
for (let i = 0; i < config.warmup + config.probes; i++) {
  const record = i >= config.warmup;
  if (i === config.warmup) t0 = performance.now();
  for (let k = 0; k < n; k++) {
    const t = config.targets[(i + k) % n]!;
    try {
      const r = await exchange(t.port, requestFor(t.route), perProbeBound);
      if (answerIsRight(t.route, r.answer)) {
        if (record) samples[t.label]!.push(r.firstByteMs);
      } else {
        bad[t.label]!++;
        if (problems.length < 5) problems.push(`${t.label}: wrong answer ${JSON.stringify(r.answer.slice(0, 120))}`);
      }
    } catch (e) {
      errors[t.label]!++;
      if (problems.length < 5) problems.push(`${t.label}: ${(e as Error).message}`);
    }
    await sleep(config.gapMs);
  }
}
emit('RESULT', { samples, errors, bad, problems, seconds: (performance.now() - t0) / 1000 });
process.exit(0);
