/**
 * Runs portplex for a compiled rule set in this process: demo services (if any), the listeners and
 * the health checks; swaps in new rules on reload and drains on shutdown.
 */
import type { RulesConfig } from './config/types.js';
import { sameConfig } from './config/same-config.js';
import type { BackendSnapshot } from './observe/snapshots.js';
import { startDemoServices, type RunningDemo } from './demo/services.js';
import type { ListenerChange } from './engine/listener-set.js';
import { buildRuntime, type Runtime } from './engine/runtime.js';
import { TransportListeners } from './transports.js';
import { closeServer } from './listener/listeners.js';
import type { TcpListening } from './engine/listener-set.js';
import { loadAddon, type NativeAddon } from './native/addon.js';
import { chooseDataplane, dataplaneRequest, portZeroListener, type Dataplane, type DataplaneChoice } from './native/choose.js';
import { NativePlane } from './native/plane.js';
import { PortplexError } from './errors.js';
import { hasNetAdmin, transparentRefusal } from './transparent/requirements.js';
import type { ConnectionObserver } from './observe/connection-record.js';
import type { Logger } from './observe/logger.js';
import type { MetricsSources } from './observe/metrics.js';
import { FlowTable } from './udp/flow-table.js';
import { readOpenFilesLimit, udpFlowBudget } from './udp/fd-budget.js';
import type { UdpFlow } from './udp/flow.js';
import type { BoundUdpListener } from './udp/udp-listener.js';

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
  readonly listeners: readonly TcpListening[];
  /** The UDP listeners now accepting new flows. */
  readonly udpListeners: readonly BoundUdpListener[];
  /** Every UDP flow of this process, with its counters. */
  readonly flows: FlowTable<UdpFlow>;
  readonly demos: readonly RunningDemo[];
  /** Which data plane owns the TCP sockets: the native addon, or node:net. */
  readonly dataplane: Dataplane;
  /** Why that one (for the start log line). */
  readonly dataplaneReason: string;
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
  /**
   * The data plane, already chosen (`portplex run` decides once, for every worker). Without it,
   * PORTPLEX_DATAPLANE, then the rules' `dataplane:`, then auto.
   */
  readonly dataplane?: Dataplane;
  /** How many processes bind these listeners (workers): a native worker binds its own socket each. */
  readonly processes?: number;
  /**
   * Called once the listeners are bound and before the first accept (the native plane accepts
   * only from here; node:cluster's workers get theirs from the primary): privileges go here.
   * A throw closes what was bound and fails the start.
   */
  readonly afterBind?: (addon: NativeAddon | undefined) => void | Promise<void>;
}

/** The data plane this process runs: as given, or chosen here the way `portplex run` does. */
export function resolveDataplane(rules: RulesConfig, given: Dataplane | undefined, processes: number): DataplaneChoice {
  if (given !== undefined) return chooseDataplane({ ask: given, source: 'PORTPLEX_DATAPLANE' }, loadAddon, rules, { workers: processes });
  const req = dataplaneRequest(undefined, process.env['PORTPLEX_DATAPLANE'], rules.dataplane);
  if ('invalid' in req) return { ok: false, message: req.invalid };
  return chooseDataplane(req, loadAddon, rules, { workers: processes });
}

export async function startPortplex(initial: RulesConfig, log: Logger, opts: StartOptions = {}): Promise<RunningPortplex> {
  let rules = initial;
  let runtime = buildRuntime(rules, log, undefined, opts.observer);
  const current = (): Runtime => runtime;
  const demos = await startDemoServices(rules.demo);
  const serveUdp = opts.udp ?? true;
  // Read once: a process's descriptor limit does not change under it (Node raised it at start).
  const openFiles = readOpenFilesLimit();
  const fdBudget = (r: RulesConfig): number => udpFlowBudget(openFiles, r.limits.maxConnections, r.listeners.length);
  const flows = new FlowTable<UdpFlow>(rules.udp, rules.limits.trackedAddresses, fdBudget(rules));
  const processes = opts.processes ?? 1;
  const choice = resolveDataplane(rules, opts.dataplane, processes);
  const addon = choice.ok && choice.dataplane === 'native' ? loadAddon() : undefined;
  const plane = addon?.ok ? NativePlane.of(addon.addon) : undefined;
  const bound = new TransportListeners(flows, serveUdp, plane);
  try {
    if (!choice.ok) throw new PortplexError('PORTPLEX_ERR_DATAPLANE_UNAVAILABLE', choice.message);
    const transparent = transparentRefusal(rules, { dataplane: plane === undefined ? 'js' : 'native', netAdmin: hasNetAdmin() });
    if (transparent !== undefined) throw new PortplexError('PORTPLEX_ERR_TRANSPARENT', transparent);
    const staged = await bound.stage(rules, current);
    try {
      await opts.afterBind?.(plane?.addon);
    } catch (e) {
      await staged.abort();
      throw e;
    }
    staged.commit();
  } catch (e) {
    await Promise.all(demos.map((d) => closeServer(d.server)));
    throw e;
  }
  runtime.activate();
  let reloading: Promise<unknown> = Promise.resolve();

  const reload = async (next: RulesConfig): Promise<ReloadOutcome> => {
    const transparent = transparentRefusal(next, { dataplane: plane === undefined ? 'js' : 'native', netAdmin: hasNetAdmin() });
    if (transparent !== undefined) return { ok: false, error: `PORTPLEX_ERR_TRANSPARENT: ${transparent}`, added: [], removed: [], kept: [] };
    // Each native worker would bind a port 0 listener to a port of its own (see chooseDataplane).
    const zero = plane === undefined ? undefined : portZeroListener(next, processes);
    if (zero !== undefined) {
      return { ok: false, error: `listener "${zero}" binds port 0, and each of the ${processes} native workers would get a port of its own: give it a port`, added: [], removed: [], kept: [] };
    }
    const nextRuntime = buildRuntime(next, log, runtime);
    // A listener bound here may accept before the swap below: it already belongs to the new rules.
    let staged: Runtime | undefined = nextRuntime;
    let change: ListenerChange;
    try {
      change = (await bound.stage(next, () => staged ?? runtime)).commit();
    } catch (e) {
      return { ok: false, error: (e as Error).message, added: [], removed: [], kept: [] };
    }
    runtime.dispose();
    runtime = nextRuntime;
    staged = undefined;
    runtime.limits.reconfigure(next.limits);
    flows.reconfigure(next.udp, next.limits.trackedAddresses, fdBudget(next));
    runtime.activate();
    if (!sameConfig(rules.demo, next.demo)) log.warn('the demo: section changed; demo services change only on restart');
    if (rules.dataplane !== next.dataplane) log.warn({ dataplane: plane === undefined ? 'js' : 'native', asked: next.dataplane ?? 'auto' }, 'dataplane: changed; the data plane changes only on restart');
    rules = next;
    return { ok: true, ...change };
  };

  let stopped: Promise<void> | undefined;
  const stopAccepting = (): Promise<void> =>
    (stopped ??= (async () => {
      runtime.dispose();
      await reloading;
      // A reload that was under way has activated its own checks meanwhile.
      runtime.dispose();
      bound.stopAccepting();
    })());

  const closeUdp = async (): Promise<void> => {
    await Promise.all(bound.udp.every().map((l) => l.close()));
    flows.close();
  };

  return {
    get listeners() {
      return bound.tcp.active;
    },
    get udpListeners() {
      return bound.udp.active;
    },
    flows,
    demos,
    dataplane: plane === undefined ? 'js' : 'native',
    dataplaneReason: choice.ok ? choice.reason : '',
    runtime: current,
    rules: () => rules,
    snapshot: () => [...runtime.pools.values()].map((p) => p.snapshot()),
    openByListener: () => bound.openByListener(),
    reload(next) {
      // One reload at a time: a second one waits, then diffs against what the first left.
      const run = reloading.then(() => reload(next));
      reloading = run.catch(() => undefined);
      return run;
    },
    stopAccepting,
    async drain(graceMs: number) {
      await stopAccepting();
      const deadline = Date.now() + graceMs;
      while (bound.openConnections() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const cut = bound.openConnections();
      bound.cutConnections();
      for (const d of demos) d.server.close();
      // A UDP flow has no end to wait for: it is relayed while the TCP connections drain, then ended.
      await closeUdp();
      // The counts of refusals not yet summarised go out before the process exits.
      runtime.summary.flush();
      return cut;
    },
    async close() {
      runtime.dispose();
      await Promise.all([...bound.tcp.active.map((l) => l.close()), ...demos.map((d) => closeServer(d.server)), closeUdp()]);
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
