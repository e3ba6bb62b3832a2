/**
 * `npm run bench`: portplex against HAProxy, side by side, on this machine's loopback.
 *
 * Exit codes: 0 the run completed (whatever the figures say: a MISS is a result, not an error);
 * 1 something did not work under load (a connection not routed or not answered, a socket error,
 * a process that died) — the figures of such a run are not to be trusted; 2 bad arguments, a
 * missing program or an unbuilt tree; 3 the hard time limit; 130/143 interrupted.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { findTool, missingToolMessage } from '../../test/helpers/interop.js';
import { PAIRINGS, USAGE, UsageError, estimateSeconds, parseOptions, type Options } from './options.js';
import { hardNofile } from './procfs.js';
import { Supervisor } from './procs.js';
import { buildFigures, generatorChecks, renderFigures, renderGeneratorChecks } from './report.js';
import { runBench, type Tools } from './run.js';
import { quantile } from './stats.js';
import { REPO_ROOT } from './wire.js';

const t0 = Date.now();
const log = (msg: string): void => {
  process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
};

function fail(code: number, msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(code);
}

let opts: Options;
try {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  opts = parsed;
} catch (e) {
  if (e instanceof UsageError) fail(2, `${e.message}\n${USAGE}`);
  throw e;
}

// The programs each figure needs; a missing one names its Debian package (exit 2).
const needs = new Set<string>();
if (opts.only.has('conns')) needs.add('wrk');
if (['conns', 'bulk', 'ttfb', 'rss'].some((f) => opts.only.has(f as never))) {
  needs.add('nginx');
  needs.add('haproxy');
}
const missing = [...needs].filter((n) => findTool(n) === undefined);
if (missing.length > 0) fail(2, missing.map((n) => missingToolMessage(n)).join('\n'));
const tools: Tools = { haproxy: findTool('haproxy') ?? '', nginx: findTool('nginx') ?? '', wrk: findTool('wrk') ?? '' };
if (!existsSync(join(REPO_ROOT, 'dist/src/cli.js'))) fail(2, 'dist/src/cli.js is missing: build first (npm run bench builds, or npx tsc -p tsconfig.json)');

// Held connections need descriptors: about two per connection in the proxy. Without the right to
// raise the hard limit (CAP_SYS_RESOURCE), the count is lowered to what fits, and the report says so.
const hard = hardNofile();
let rssConns = opts.rssConns;
const canRaise = process.getuid?.() === 0 && (() => {
  try {
    execFileSync('/bin/sh', ['-c', `ulimit -n ${2 * opts.rssConns + 2048}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!canRaise && 2 * rssConns + 2048 > hard) {
  rssConns = Math.max(10, Math.floor((hard - 2048) / 2));
  log(`RLIMIT_NOFILE hard limit is ${hard} and cannot be raised here: holding ${rssConns} connections instead of ${opts.rssConns}`);
}

/** What a short command printed, stdout then stderr (nginx -v and wrk -v print their version on stderr). */
function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO_ROOT, timeout: 10_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}
const firstLine = (s: string): string => s.split('\n', 1)[0] ?? '';

const estimate = estimateSeconds({ ...opts, rssConns });
const sup = new Supervisor();
const budget = { lifetimeMs: (estimate * 2 + 180) * 1000 };
const failures: string[] = [];

// Whatever happens, nothing is left running and no temp dir is left behind.
process.on('exit', () => sup.killAllSync());
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}: stopping every process and removing the temp dirs\n`);
    sup.killAllSync();
    process.exit(code);
  });
}
const hardLimit = setTimeout(() => {
  process.stderr.write(`bench: hard time limit (${Math.round(budget.lifetimeMs / 1000)} s) reached: stopping\n`);
  sup.killAllSync();
  process.exit(3);
}, budget.lifetimeMs);
hardLimit.unref();

const commit = run('git', ['rev-parse', 'HEAD']);
const dirty = run('git', ['status', '--porcelain', '--untracked-files=no']) !== '';
const versions = {
  node: process.version,
  haproxy: tools.haproxy ? firstLine(run(tools.haproxy, ['-v'])) : null,
  nginx: tools.nginx ? firstLine(run(tools.nginx, ['-v'])) : null,
  wrk: tools.wrk ? firstLine(run(tools.wrk, ['-v'])) : null,
};
const machine = {
  cores: cpus().length,
  availableParallelism: availableParallelism(),
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  loadavgStart: loadavg(),
  loadavgEnd: [] as number[],
};
log(`portplex ${commit.slice(0, 10)}${dirty ? ' (uncommitted changes)' : ''}, node ${versions.node}, ${versions.haproxy ?? 'no haproxy'}; ${machine.cores} cores, load average ${machine.loadavgStart.map((x) => x.toFixed(2)).join(' ')}`);
log(`about ${estimate} s: ${opts.pairs.join(' + ')}, ${opts.rounds} round(s) of ${opts.seconds} s, figures ${[...opts.only].join(',')}`);

function ttfbSummary(ms: readonly number[]): Record<string, number> {
  const q = (x: number): number => Math.round(quantile(ms, x) * 1000) / 1000;
  return { count: ms.length, min: q(0), p10: q(0.1), p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: q(1) };
}

const started = new Date();
let exitCode = 0;
try {
  const data = await runBench({ opts, tools, sup, budget, failures, log, rssConns });
  await sup.stopAll();
  machine.loadavgEnd = loadavg();
  const figures = buildFigures(data, opts);
  const checks = generatorChecks(data);
  const titles: Record<string, string> = {};
  for (const p of data.pairings) {
    titles[p.pairing] = `${p.pairing}: portplex ${p.portplex}${PAIRINGS[p.pairing].workers === 0 ? ' (one process)' : ' (a primary and workers)'} vs HAProxy ${p.haproxy} and ${p.haproxySplice}`;
  }
  const noisy = checks.filter((c) => c.otherCores > 0.15);
  const out = [
    '',
    `bench: portplex ${commit.slice(0, 10)}${dirty ? '+changes' : ''} vs ${versions.haproxy ?? 'HAProxy'}, node ${versions.node}, ${machine.cores} cores (${machine.cpuModel}), ${opts.rounds} round(s) x ${opts.seconds} s`,
    '',
    renderFigures(figures, titles),
    checks.length > 0 ? 'Generator check (medians over rounds; cores = CPU-seconds per second during the measurement):' : '',
    renderGeneratorChecks(checks),
    noisy.length > 0 ? `\nnote: other processes used up to ${Math.max(...noisy.map((c) => c.otherCores)).toFixed(2)} cores during some measurements: the figures are noisy.` : '',
    failures.length > 0 ? `\nFAILED under load (${failures.length}):\n  ${failures.join('\n  ')}` : '',
    '',
  ];
  process.stdout.write(out.join('\n'));

  const record = {
    schema: 1,
    started: started.toISOString(),
    finished: new Date().toISOString(),
    durationSeconds: (Date.now() - t0) / 1000,
    commit,
    dirty,
    versions,
    machine,
    options: { ...opts, only: [...opts.only], rssConnsUsed: data.rssConns },
    pairings: data.pairings.map((p) => ({ pairing: p.pairing, portplex: p.portplex, haproxy: p.haproxy, haproxySplice: p.haproxySplice })),
    figures,
    generatorCheck: checks,
    samples: {
      rates: data.rates,
      rss: data.rss,
      parser: data.parser ?? null,
      drip: data.drip ?? null,
      // TTFB distributions summarised (ms): thousands of raw probes would make every record ~100 KB.
      ttfb: Object.fromEntries(data.pairings.map((p) => [p.pairing, Object.fromEntries(Object.entries(p.ttfb).map(([k, v]) => [k, ttfbSummary(v)]))])),
    },
    failures,
    ok: failures.length === 0,
  };
  mkdirSync(opts.outDir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const json = JSON.stringify(record, null, 2) + '\n';
  writeFileSync(join(opts.outDir, 'latest.json'), json);
  writeFileSync(join(opts.outDir, `${stamp}-${commit.slice(0, 10) || 'nocommit'}.json`), json);
  log(`wrote ${join(opts.outDir, 'latest.json')} and ${stamp}-${commit.slice(0, 10)}.json`);
  exitCode = failures.length > 0 ? 1 : 0;
} catch (e) {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  if (failures.length > 0) process.stderr.write(`also failed under load:\n  ${failures.join('\n  ')}\n`);
  exitCode = 1;
} finally {
  await sup.stopAll();
}
process.exit(exitCode);
