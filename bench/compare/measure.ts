/**
 * One measurement each: new connections per second (wrk), bulk throughput (bulk-client), time to
 * first byte (ttfb-client), RSS per held connection (hold-client). Every one of them also checks
 * that the work was really done — every connection routed to the right backend and answered, no
 * socket error — and records a failure otherwise: a proxy that drops connections under load must
 * not look fast.
 */
import { join } from 'node:path';
import { BULK_PATH, HTTP_BODY, TLS_BODY, TLS_STATUS } from './configs.js';
import { CpuWindow, type CpuUse } from './cpu.js';
import { parseEvent } from './child-io.js';
import { processTree, treeRss } from './procfs.js';
import { describeExit, type Proc, type Supervisor } from './procs.js';
import { median } from './stats.js';
import type { Backends, ProxyName, RunningProxy } from './stack.js';
import { HELLO_FILE, REPO_ROOT, type Route } from './wire.js';

export type TargetName = 'direct' | ProxyName;
export type RateFigure = 'conns-http' | 'conns-tls' | 'bulk-1' | 'bulk-n';

/** A rate target: the proxy under test, or the backend itself (direct). */
export interface Target {
  readonly name: TargetName;
  readonly proxy?: RunningProxy;
}

export interface Context {
  readonly sup: Supervisor;
  readonly wrk: string;
  readonly backends: Backends;
  /** Short-connection concurrency (wrk -c). */
  readonly concurrency: number;
  /** Correctness problems found so far (each fails the run, never a timing). */
  readonly failures: string[];
  readonly log: (msg: string) => void;
}

export interface RateSample {
  readonly pairing: string;
  readonly figure: RateFigure;
  readonly target: TargetName;
  readonly round: number;
  /** Connections per second, or MB/s (10^6 bytes). */
  readonly value: number;
  readonly cpu: CpuUse;
  readonly detail: Record<string, number>;
}

const here = (file: string): string => join(REPO_ROOT, 'dist/bench/compare', file);
const LUA = join(REPO_ROOT, 'bench/compare/wrk-check.lua');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function portOf(ctx: Context, t: Target, route: Route): number {
  if (t.proxy) return t.proxy.port;
  return route === 'http' ? ctx.backends.ports.httpDirect : ctx.backends.ports.tlsDirect;
}

/**
 * Runs `gen`'s measurement window through a CpuWindow: opened `delayMs` after `started`
 * resolves, closed `spanMs` later (both inside the generator's timed window).
 */
async function cpuDuring(pids: ConstructorParameters<typeof CpuWindow>[0], started: Promise<unknown>, delayMs: number, spanMs: number): Promise<CpuUse> {
  await started;
  await sleep(delayMs);
  const w = new CpuWindow(pids);
  w.open();
  await sleep(spanMs);
  return w.close();
}

interface WrkCounts {
  requests: number;
  duration_us: number;
  bytes: number;
  ok: number;
  bad: number;
  connect_errors: number;
  read_errors: number;
  write_errors: number;
  status_errors: number;
  timeouts: number;
  latency_p50_us: number;
  latency_p99_us: number;
}

/**
 * New connections per second: wrk, one thread, `concurrency` connections, each carrying one request
 * (`Connection: close` for HTTP; the ClientHello for TLS, which the backend answers and closes).
 */
export async function measureConns(ctx: Context, pairing: string, t: Target, route: Route, seconds: number, round: number): Promise<RateSample> {
  const port = portOf(ctx, t, route);
  const expect = route === 'http' ? ['200', HTTP_BODY] : [String(TLS_STATUS), TLS_BODY, HELLO_FILE];
  const args = ['-t', '1', '-c', String(ctx.concurrency), '-d', `${seconds}s`, '--timeout', '5s', '-H', 'Connection: close', '-s', LUA, `http://127.0.0.1:${port}/`, '--', ...expect];
  const wrk = ctx.sup.start(`wrk ${route} -> ${t.name}`, ctx.wrk, args, { lifetimeMs: seconds * 1000 + 20_000, nofile: ctx.concurrency + 256 });
  // wrk's stdout is a pipe, so it says nothing until the end: the window starts shortly after the spawn.
  const cpu = cpuDuring({ proxy: t.proxy?.proc.pid, generator: wrk.pid, backend: ctx.backends.proc.pid }, Promise.resolve(), 200, seconds * 1000 - 400);
  const exit = await wrk.exited;
  const use = await cpu;
  const line = wrk.output().split('\n').find((l) => l.startsWith('BENCH-WRK '));
  const what = `${pairing} round ${round}: new connections (${route}) to ${t.name}`;
  if (exit.code !== 0 || line === undefined) {
    ctx.failures.push(`${what}: wrk ${describeExit(exit)} without a result. Output:\n${wrk.output()}`);
    return { pairing, figure: `conns-${route}`, target: t.name, round, value: NaN, cpu: use, detail: {} };
  }
  const c = parseEvent<WrkCounts>(line, 'BENCH-WRK')!;
  const errors = c.connect_errors + c.read_errors + c.write_errors + c.timeouts;
  if (c.requests === 0 || c.ok !== c.requests || c.bad !== 0 || errors !== 0) {
    ctx.failures.push(`${what}: ${c.requests} answers, ${c.ok} right, ${c.bad} wrong; socket errors: connect ${c.connect_errors}, read ${c.read_errors}, write ${c.write_errors}, timeout ${c.timeouts}`);
  }
  const value = c.requests / (c.duration_us / 1e6);
  return { pairing, figure: `conns-${route}`, target: t.name, round, value, cpu: use, detail: { ...c } };
}

interface BulkResult {
  bytes: number;
  seconds: number;
  responses: number;
  errors: number;
  bad: number;
  connections: number;
  minConnectionBytes: number;
  problems: string[];
}

/** Bulk throughput, backend to client, over `conns` long keep-alive connections. */
export async function measureBulk(ctx: Context, pairing: string, t: Target, conns: number, seconds: number, round: number): Promise<RateSample> {
  const port = portOf(ctx, t, 'http');
  const figure: RateFigure = conns === 1 ? 'bulk-1' : 'bulk-n';
  const client = ctx.sup.start(`bulk x${conns} -> ${t.name}`, process.execPath, [here('bulk-client.js'), String(port), String(conns), String(seconds), BULK_PATH, String(ctx.backends.bulkBytes)], {
    lifetimeMs: seconds * 1000 + 40_000,
  });
  const started = client.waitLine((l) => l.startsWith('START'), 15_000, 'open its connections');
  const resultLine = client.waitLine((l) => l.startsWith('RESULT '), seconds * 1000 + 30_000, 'report');
  resultLine.catch(() => undefined);
  const what = `${pairing} round ${round}: bulk over ${conns} connection(s) to ${t.name}`;
  let use: CpuUse = { proxy: null, generator: NaN, backend: NaN, other: NaN, windowSeconds: 0 };
  let r: BulkResult | undefined;
  try {
    use = await cpuDuring({ proxy: t.proxy?.proc.pid, generator: client.pid, backend: ctx.backends.proc.pid }, started, 50, seconds * 1000 - 150);
    r = parseEvent<BulkResult>(await resultLine, 'RESULT');
  } catch (e) {
    ctx.failures.push(`${what}: ${(e as Error).message}`);
  }
  await client.exited;
  if (r === undefined) return { pairing, figure, target: t.name, round, value: NaN, cpu: use, detail: {} };
  if (r.errors !== 0 || r.bad !== 0 || r.bytes === 0 || r.minConnectionBytes === 0) {
    ctx.failures.push(`${what}: ${r.errors} errors, ${r.bad} wrong answers, ${r.bytes} bytes, least on one connection ${r.minConnectionBytes}: ${r.problems.join('; ')}`);
  }
  const { problems: _p, ...counts } = r;
  return { pairing, figure, target: t.name, round, value: r.bytes / r.seconds / 1e6, cpu: use, detail: counts };
}

export interface TtfbTarget {
  readonly label: string;
  readonly port: number;
  readonly route: Route;
}

interface TtfbResult {
  samples: Record<string, number[]>;
  errors: Record<string, number>;
  bad: Record<string, number>;
  problems: string[];
  seconds: number;
}

/** Sequential TTFB probes over every target, taking turns; returns the samples (ms) per label. */
export async function measureTtfb(ctx: Context, pairing: string, targets: readonly TtfbTarget[], probes: number, gapMs: number): Promise<Record<string, number[]>> {
  const warmup = Math.min(probes, 100);
  const config = JSON.stringify({ targets, probes, warmup, gapMs });
  const bound = (warmup + probes) * targets.length * (gapMs + 20) + 60_000;
  const client = ctx.sup.start('ttfb prober', process.execPath, [here('ttfb-client.js'), config], { lifetimeMs: bound });
  const what = `${pairing}: TTFB probes`;
  let r: TtfbResult | undefined;
  try {
    r = parseEvent<TtfbResult>(await client.waitLine((l) => l.startsWith('RESULT '), bound, 'report'), 'RESULT');
  } catch (e) {
    ctx.failures.push(`${what}: ${(e as Error).message}`);
  }
  await client.exited;
  if (r === undefined) return {};
  for (const t of targets) {
    if (r.errors[t.label] !== 0 || r.bad[t.label] !== 0 || (r.samples[t.label]?.length ?? 0) !== probes) {
      ctx.failures.push(`${what}: ${t.label}: ${r.errors[t.label]} errors, ${r.bad[t.label]} wrong answers of ${probes}: ${r.problems.join('; ')}`);
    }
  }
  return r.samples;
}

export interface RssSample {
  readonly pairing: string;
  readonly target: ProxyName;
  readonly connections: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  /** (after - before) / connections, bytes. */
  readonly perConnection: number;
  readonly processes: number;
}

interface HoldReady {
  opened: number;
  answered: number;
  errors: number;
  bad: number;
  closedEarly: number;
  problems: string[];
  seconds: number;
}

/** Median of three RSS readings of the proxy's process tree, `gapMs` apart. */
async function steadyRss(pid: number, gapMs: number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(gapMs);
    xs.push(treeRss(pid));
  }
  return median(xs);
}

/**
 * RSS per held connection: the proxy's RSS (its whole process tree, from /proc) before and after
 * `n` routed, answered, idle connections are opened through it, divided by `n`.
 */
export async function measureRss(ctx: Context, pairing: string, proxy: RunningProxy, n: number, settleMs: number): Promise<RssSample | undefined> {
  const pid = proxy.proc.pid;
  const before = await steadyRss(pid, 100);
  const holder: Proc = ctx.sup.start(`hold ${n} -> ${proxy.name}`, process.execPath, [here('hold-client.js'), String(proxy.port), String(n), '100'], {
    lifetimeMs: 180_000,
    nofile: n + 512,
    stdinPipe: true,
  });
  const what = `${pairing}: ${n} held connections through ${proxy.name}`;
  try {
    const ready = parseEvent<HoldReady>(await holder.waitLine((l) => l.startsWith('READY '), 120_000, 'open its connections'), 'READY')!;
    if (ready.answered !== n || ready.errors !== 0 || ready.bad !== 0 || ready.closedEarly !== 0) {
      ctx.failures.push(`${what}: ${ready.answered} answered, ${ready.errors} errors, ${ready.bad} wrong answers, ${ready.closedEarly} closed early: ${ready.problems.join('; ')}`);
    }
    await sleep(settleMs);
    const after = await steadyRss(pid, 200);
    const processes = processTree(pid).length;
    const done = holder.waitLine((l) => l.startsWith('DONE '), 30_000, 'close its connections');
    holder.child.stdin!.end('close\n');
    const d = parseEvent<{ closedEarly: number }>(await done, 'DONE')!;
    if (d.closedEarly !== 0) ctx.failures.push(`${what}: ${d.closedEarly} held connections were closed while held`);
    await holder.exited;
    return { pairing, target: proxy.name, connections: ready.answered, rssBefore: before, rssAfter: after, perConnection: (after - before) / Math.max(1, ready.answered), processes };
  } catch (e) {
    ctx.failures.push(`${what}: ${(e as Error).message}`);
    await ctx.sup.stop(holder);
    return undefined;
  }
}
