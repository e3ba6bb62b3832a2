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
  /**
   * Stop accepting, let established connections finish for up to `graceMs`, then close the rest.
   * Resolves with how many connections had to be closed.
   */
  drain(graceMs: number): Promise<number>;
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
    async drain(graceMs: number) {
      health.stop();
      for (const l of listeners) l.server.close();
      const open = (): number => listeners.reduce((n, l) => n + l.sockets.size, 0);
      const deadline = Date.now() + graceMs;
      while (open() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const cut = open();
      for (const l of listeners) for (const s of l.sockets) s.destroy();
      for (const d of demos) d.server.close();
      return cut;
    },
    async close() {
      health.stop();
      await Promise.all([...listeners.map((l) => closeServer(l.server)), ...demos.map((d) => closeServer(d.server))]);
    },
  };
}
