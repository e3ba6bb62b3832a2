/** Starts portplex for a compiled rule set: demo services (if any), then the listeners. */
import type { RulesConfig } from './config/types.js';
import { HealthMonitor } from './backends/health.js';
import type { BackendSnapshot } from './backends/pool.js';
import { startDemoServices, type RunningDemo } from './demo/services.js';
import { bindListeners, closeServer, type BoundListener } from './listener/listeners.js';
import { buildRuntime, type Runtime } from './listener/runtime.js';
import type { Logger } from './observe/logger.js';

export interface RunningPortplex {
  readonly listeners: readonly BoundListener[];
  readonly demos: readonly RunningDemo[];
  readonly runtime: () => Runtime;
  /** Read-only state of every backend and server, for metrics and status pages. */
  snapshot(): BackendSnapshot[];
  close(): Promise<void>;
}

export async function startPortplex(rules: RulesConfig, log: Logger): Promise<RunningPortplex> {
  const runtime = buildRuntime(rules, log);
  const current = (): Runtime => runtime;
  const health = new HealthMonitor(runtime.pools.values());
  const demos = await startDemoServices(rules.demo);
  let listeners: BoundListener[];
  try {
    listeners = await bindListeners(rules.listeners, current);
  } catch (e) {
    await Promise.all(demos.map((d) => closeServer(d.server)));
    throw e;
  }
  health.start();
  return {
    listeners,
    demos,
    runtime: current,
    snapshot: () => [...runtime.pools.values()].map((p) => p.snapshot()),
    async close() {
      health.stop();
      await Promise.all([...listeners.map((l) => closeServer(l.server)), ...demos.map((d) => closeServer(d.server))]);
    },
  };
}
