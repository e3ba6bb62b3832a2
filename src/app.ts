/**
 * Runs portplex for a compiled rule set in this process: demo services (if any), the listeners and
 * the health checks; swaps in new rules on reload and drains on shutdown.
 */
import type { RulesConfig } from './config/types.js';
import { sameConfig } from './config/same-config.js';
import { HealthMonitor } from './backends/health.js';
import type { BackendSnapshot } from './backends/pool.js';
import { startDemoServices, type RunningDemo } from './demo/services.js';
import { bindListeners, closeServer, listenerKey, type BoundListener } from './listener/listeners.js';
import { buildRuntime, type Runtime } from './listener/runtime.js';
import type { ConnectionObserver } from './observe/connection-record.js';
import type { Logger } from './observe/logger.js';
import type { MetricsSources } from './observe/metrics.js';
import { FlowTable } from './udp/flow-table.js';
import { readOpenFilesLimit, udpFlowBudget } from './udp/fd-budget.js';
import type { UdpFlow } from './udp/flow.js';
import { bindUdpListeners, type BoundUdpListener } from './udp/udp-listener.js';

export interface ReloadOutcome {
  readonly ok: boolean;
  /** Why the new rules were not applied (the old ones keep running). */
  readonly error?: string;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly kept: readonly string[];
}

export interface RunningPortplex {
  /** The listeners now accepting (a reload may add and remove some). */
  readonly listeners: readonly BoundListener[];
  /** The UDP listeners now accepting new flows. */
  readonly udpListeners: readonly BoundUdpListener[];
  /** Every UDP flow of this process, with its counters. */
  readonly flows: FlowTable<UdpFlow>;
  readonly demos: readonly RunningDemo[];
  readonly runtime: () => Runtime;
  readonly rules: () => RulesConfig;
  /** Read-only state of every backend and server, for metrics and status pages. */
  snapshot(): BackendSnapshot[];
  /** Open client connections per listener name, including listeners a reload removed. */
  openByListener(): ReadonlyMap<string, number>;
  /**
   * New rules for new connections. Established connections keep the rules they were routed by;
   * listeners whose address is unchanged are not re-bound; added ones are bound first, so a bind
   * failure leaves everything as it was.
   */
  reload(rules: RulesConfig): Promise<ReloadOutcome>;
  /** Closes the listening sockets (idempotent); established connections go on. */
  stopAccepting(): Promise<void>;
  /**
   * Stop accepting, let established connections finish for up to `graceMs`, then close the rest.
   * Resolves with how many connections had to be closed.
   */
  drain(graceMs: number): Promise<number>;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly observer?: ConnectionObserver;
  /**
   * Serve the UDP listeners (default true). With several workers only one does: a datagram goes
   * to whichever process reads the shared socket first, and a flow must stay in one process.
   */
  readonly udp?: boolean;
}

const isUdp = (l: { readonly transport: string }): boolean => l.transport === 'udp';
const isTcp = (l: { readonly transport: string }): boolean => l.transport === 'tcp';

export async function startPortplex(initial: RulesConfig, log: Logger, opts: StartOptions = {}): Promise<RunningPortplex> {
  let rules = initial;
  let runtime = buildRuntime(rules, log, undefined, opts.observer);
  const current = (): Runtime => runtime;
  let health = new HealthMonitor(runtime.pools.values());
  const demos = await startDemoServices(rules.demo);
  const serveUdp = opts.udp ?? true;
  // Read once: a process's descriptor limit does not change under it (Node raised it at start).
  const openFiles = readOpenFilesLimit();
  const fdBudget = (r: RulesConfig): number => udpFlowBudget(openFiles, r.limits.maxConnections, r.listeners.length);
  const flows = new FlowTable<UdpFlow>(rules.udp, rules.limits.trackedAddresses, fdBudget(rules));
  let listeners: BoundListener[];
  let udpListeners: BoundUdpListener[] = [];
  try {
    listeners = await bindListeners(rules.listeners.filter(isTcp), current);
    try {
      if (serveUdp) udpListeners = await bindUdpListeners(rules.listeners.filter(isUdp), current, flows);
    } catch (e) {
      await Promise.all(listeners.map((l) => closeServer(l.server)));
      throw e;
    }
  } catch (e) {
    await Promise.all(demos.map((d) => closeServer(d.server)));
    throw e;
  }
  /** Listeners a reload closed whose connections are still open (drain must wait for them too). */
  const retired = new Set<BoundListener>();
  /** UDP listeners a reload removed: their socket stays for the answers of their flows, until those end. */
  const retiredUdp = new Set<BoundUdpListener>();
  const retireUdp = (l: BoundUdpListener): void => {
    l.stopAccepting();
    if (l.flows() === 0) {
      void l.close();
      return;
    }
    retiredUdp.add(l);
    const poll = setInterval(() => {
      if (l.flows() > 0) return;
      clearInterval(poll);
      retiredUdp.delete(l);
      void l.close();
    }, 1000);
    poll.unref();
  };
  const everyListener = (): BoundListener[] => [...listeners, ...retired];
  health.start();
  let reloading: Promise<unknown> = Promise.resolve();

  const reload = async (next: RulesConfig): Promise<ReloadOutcome> => {
    const byKey = new Map(listeners.map((l) => [listenerKey(l.config), l]));
    const udpByKey = new Map(udpListeners.map((l) => [listenerKey(l.config), l]));
    const wanted = new Set(next.listeners.map(listenerKey));
    const toBind = next.listeners.filter((c) => isTcp(c) && !byKey.has(listenerKey(c)));
    const toBindUdp = serveUdp ? next.listeners.filter((c) => isUdp(c) && !udpByKey.has(listenerKey(c))) : [];
    const nextRuntime = buildRuntime(next, log, runtime);
    // A listener bound here may accept before the swap below: it already belongs to the new rules.
    let staged: Runtime | undefined = nextRuntime;
    let added: BoundListener[];
    let addedUdp: BoundUdpListener[];
    try {
      added = await bindListeners(toBind, () => staged ?? runtime);
      try {
        addedUdp = await bindUdpListeners(toBindUdp, () => staged ?? runtime, flows);
      } catch (e) {
        await Promise.all(added.map((l) => closeServer(l.server)));
        throw e;
      }
    } catch (e) {
      return { ok: false, error: (e as Error).message, added: [], removed: [], kept: [] };
    }
    const keptUdp: BoundUdpListener[] = [];
    for (const c of next.listeners) {
      const l = udpByKey.get(listenerKey(c));
      if (l !== undefined) {
        l.reconfigure(c);
        keptUdp.push(l);
      }
    }
    const removedUdp = udpListeners.filter((l) => !wanted.has(listenerKey(l.config)));
    for (const l of removedUdp) retireUdp(l);
    const kept: BoundListener[] = [];
    for (const c of next.listeners) {
      const l = byKey.get(listenerKey(c));
      if (l !== undefined) {
        l.reconfigure(c);
        kept.push(l);
      }
    }
    const removed = listeners.filter((l) => !wanted.has(listenerKey(l.config)));
    for (const l of removed) {
      // Stop accepting; the connections it accepted go on until they end by themselves.
      l.server.close();
      if (l.sockets.size > 0) {
        retired.add(l);
        for (const s of l.sockets) s.once('close', () => l.sockets.size === 0 && retired.delete(l));
      }
    }
    const order = new Map(next.listeners.map((c, i) => [listenerKey(c), i]));
    listeners = [...kept, ...added].sort((a, b) => order.get(listenerKey(a.config))! - order.get(listenerKey(b.config))!);
    udpListeners = [...keptUdp, ...addedUdp].sort((a, b) => order.get(listenerKey(a.config))! - order.get(listenerKey(b.config))!);
    runtime = nextRuntime;
    staged = undefined;
    runtime.limits.reconfigure(next.limits);
    flows.reconfigure(next.udp, next.limits.trackedAddresses, fdBudget(next));
    health.stop();
    health = new HealthMonitor(runtime.pools.values());
    health.start();
    if (!sameConfig(rules.demo, next.demo)) log.warn('the demo: section changed; demo services change only on restart');
    rules = next;
    const names = (ls: readonly { readonly config: { readonly name: string } }[]): string[] => ls.map((l) => l.config.name);
    return { ok: true, added: names([...added, ...addedUdp]), removed: names([...removed, ...removedUdp]), kept: names([...kept, ...keptUdp]) };
  };

  let stopped: Promise<void> | undefined;
  const stopAccepting = (): Promise<void> =>
    (stopped ??= (async () => {
      health.stop();
      await reloading;
      for (const l of listeners) l.server.close();
      for (const l of udpListeners) l.stopAccepting();
    })());

  const closeUdp = async (): Promise<void> => {
    await Promise.all([...udpListeners, ...retiredUdp].map((l) => l.close()));
    retiredUdp.clear();
    flows.close();
  };

  return {
    get listeners() {
      return listeners;
    },
    get udpListeners() {
      return udpListeners;
    },
    flows,
    demos,
    runtime: current,
    rules: () => rules,
    snapshot: () => [...runtime.pools.values()].map((p) => p.snapshot()),
    openByListener() {
      const out = new Map<string, number>();
      for (const l of everyListener()) out.set(l.config.name, (out.get(l.config.name) ?? 0) + l.sockets.size);
      for (const l of [...udpListeners, ...retiredUdp]) out.set(l.config.name, (out.get(l.config.name) ?? 0) + l.flows());
      return out;
    },
    reload(next) {
      // One reload at a time: a second one waits, then diffs against what the first left.
      const run = reloading.then(() => reload(next));
      reloading = run.catch(() => undefined);
      return run;
    },
    stopAccepting,
    async drain(graceMs: number) {
      await stopAccepting();
      const open = (): number => everyListener().reduce((n, l) => n + l.sockets.size, 0);
      const deadline = Date.now() + graceMs;
      while (open() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const cut = open();
      for (const l of everyListener()) for (const s of l.sockets) s.destroy();
      for (const d of demos) d.server.close();
      // A UDP flow has no end to wait for: it is relayed while the TCP connections drain, then ended.
      await closeUdp();
      // The counts of refusals not yet summarised go out before the process exits.
      runtime.summary.flush();
      return cut;
    },
    async close() {
      health.stop();
      await Promise.all([...listeners.map((l) => closeServer(l.server)), ...demos.map((d) => closeServer(d.server)), closeUdp()]);
      runtime.summary.flush();
    },
  };
}

/** What the metrics read at scrape time, always from the rules now running. */
export function metricsSources(p: RunningPortplex): MetricsSources {
  return {
    backends: () => p.snapshot(),
    openByListener: () => p.openByListener(),
    limitRefusals: () => p.runtime().limits.refused,
    denials: () => p.runtime().denials,
    udp: () => p.flows.stats,
  };
}
