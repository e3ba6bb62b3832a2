/** Everything a connection needs from the loaded rules, built once per rule load. */
import type { BackendConfig, ListenerConfig, RulesConfig } from '../config/types.js';
import { BackendPool } from '../backends/pool.js';
import { cidrSet, type CidrSet } from '../matchers/cidr-set.js';
import { RouteTable } from '../router/route-table.js';
import { TargetResolver } from '../forward/resolver.js';
import { Limits } from './limits.js';
import type { Logger } from '../observe/logger.js';

export interface Runtime {
  readonly table: RouteTable;
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
}

export function buildRuntime(rules: RulesConfig, log: Logger): Runtime {
  const pools = new Map<string, BackendPool>();
  for (const [name, b] of rules.backends) pools.set(name, new BackendPool(b, log));
  const trust = new Map<string, CidrSet>();
  for (const l of rules.listeners) trust.set(l.name, l.proxy.accept === 'off' ? () => false : cidrSet(l.proxy.trusted));
  return {
    table: new RouteTable(rules),
    pools,
    backends: rules.backends,
    inspect: rules.inspect,
    idleMs: rules.timeouts.idleMs,
    log,
    trusts: (listener, peer) => trust.get(listener.name)?.(peer) ?? false,
    resolver: new TargetResolver(),
    denials: new Map(),
    limits: new Limits(rules.limits, log),
    trustedElsewhere: (listener, peer) => rules.listeners.find((l) => l.name !== listener.name && trust.get(l.name)?.(peer) === true)?.name,
  };
}
