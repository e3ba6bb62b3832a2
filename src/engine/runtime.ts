/** Everything a connection needs from the loaded rules, built once per rule load. */
import type { BackendConfig, ListenerConfig, RulesConfig } from '../config/types.js';
import { HealthMonitor } from '../backends/health.js';
import { BackendPool } from '../backends/pool.js';
import { cidrSet, type CidrSet } from '../matchers/cidr-set.js';
import { RouteTable } from '../router/route-table.js';
import { TargetResolver } from '../forward/resolver.js';
import { Limits } from './limits.js';
import type { Logger } from '../observe/logger.js';
import { LogSummary } from '../observe/log-summary.js';
import type { ConnectionObserver } from '../observe/connection-record.js';
import { sameConfig } from '../config/same-config.js';

export interface Runtime {
  readonly table: RouteTable;
  /** Routes to UDP backends, for the first datagrams of a UDP flow. */
  readonly udpTable: RouteTable;
  readonly udp: RulesConfig['udp'];
  readonly pools: ReadonlyMap<string, BackendPool>;
  readonly backends: ReadonlyMap<string, BackendConfig>;
  readonly inspect: RulesConfig['inspect'];
  readonly idleMs: number;
  readonly log: Logger;
  /** Is this peer allowed to send a PROXY header to this listener? */
  trusts(listener: ListenerConfig, peer: string): boolean;
  /** The name of another listener that trusts this peer, if any (the mixed-listener mistake). */
  trustedElsewhere(listener: ListenerConfig, peer: string): string | undefined;
  /** Name resolution for forward-proxy routes (CONNECT, sni_forward), cached by TTL. */
  readonly resolver: TargetResolver;
  /** Forward-proxy denials by "route/reason", so an admin can watch tunnel attempts. */
  readonly denials: Map<string, number>;
  readonly limits: Limits;
  /** Bounds the refusal lines of a flood: a burst of each kind in full, then one count per interval. */
  readonly summary: LogSummary;
  /** Told about every closed connection (metrics); optional so tools and tests can run without. */
  readonly observer: ConnectionObserver | undefined;
  /** Starts the health checks of this rule set's pools (once it is the rule set in force). */
  activate(): void;
  /** Stops this rule set's health checks (a reload replaced it, or the process stops); idempotent. */
  dispose(): void;
}

/**
 * Builds the runtime for a rule set. On a reload, `previous` hands over what must outlive one
 * rule set: the limits' counts (open connections hold them; the caller applies the new limits
 * once the new rules are in force), the denial counters, the log summaries, the name cache,
 * and the pools of backends whose configuration did not change (their health state and
 * connection counts stay true).
 */
export function buildRuntime(rules: RulesConfig, log: Logger, previous?: Runtime, observer?: ConnectionObserver): Runtime {
  const pools = new Map<string, BackendPool>();
  for (const [name, b] of rules.backends) {
    const old = previous?.pools.get(name);
    pools.set(name, old !== undefined && sameConfig(old.config, b) ? old : new BackendPool(b, log));
  }
  const summary = previous?.summary ?? new LogSummary(log);
  const trust = new Map<string, CidrSet>();
  for (const l of rules.listeners) trust.set(l.name, l.proxy.accept === 'off' ? () => false : cidrSet(l.proxy.trusted));
  // Built here, started by activate(): a reload that fails to bind never starts the checks it staged.
  const health = new HealthMonitor(pools.values());
  return {
    table: new RouteTable(rules, 'tcp'),
    udpTable: new RouteTable(rules, 'udp'),
    udp: rules.udp,
    pools,
    backends: rules.backends,
    inspect: rules.inspect,
    idleMs: rules.timeouts.idleMs,
    log,
    trusts: (listener, peer) => trust.get(listener.name)?.(peer) ?? false,
    resolver: previous?.resolver ?? new TargetResolver(),
    denials: previous?.denials ?? new Map(),
    limits: previous?.limits ?? new Limits(rules.limits, log, summary),
    summary,
    observer: observer ?? previous?.observer,
    trustedElsewhere: (listener, peer) => rules.listeners.find((l) => l.name !== listener.name && trust.get(l.name)?.(peer) === true)?.name,
    activate: () => health.start(),
    dispose: () => health.stop(),
  };
}
