/** Everything a connection needs from the loaded rules, built once per rule load. */
import type { BackendConfig, RulesConfig } from '../config/types.js';
import { BackendPool } from '../backends/pool.js';
import { RouteTable } from '../router/route-table.js';
import type { Logger } from '../observe/logger.js';

export interface Runtime {
  readonly table: RouteTable;
  readonly pools: ReadonlyMap<string, BackendPool>;
  readonly backends: ReadonlyMap<string, BackendConfig>;
  readonly inspect: RulesConfig['inspect'];
  readonly idleMs: number;
  readonly log: Logger;
}

export function buildRuntime(rules: RulesConfig, log: Logger): Runtime {
  const pools = new Map<string, BackendPool>();
  for (const [name, b] of rules.backends) pools.set(name, new BackendPool(b));
  return { table: new RouteTable(rules), pools, backends: rules.backends, inspect: rules.inspect, idleMs: rules.timeouts.idleMs, log };
}
