/** Runs every backend's active health checks on their intervals, feeding results to the pools. */
import type { BackendPool } from './pool.js';
import { runHealthCheck } from './health-check.js';

export class HealthMonitor {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly pools: Iterable<BackendPool>) {}

  start(): void {
    for (const pool of this.pools) {
      const h = pool.config.health;
      if (h === undefined) continue;
      for (const server of pool.servers) {
        const tick = (): void => {
          if (this.stopped) return;
          runHealthCheck(server.config, h, (r) => {
            if (this.stopped) return;
            pool.checkResult(server, r.ok, r.detail);
            // ±10% jitter so the checks of many servers do not line up.
            const t = setTimeout(() => {
              this.timers.delete(t);
              tick();
            }, Math.round(h.intervalMs * (0.9 + Math.random() * 0.2)));
            t.unref();
            this.timers.add(t);
          });
        };
        tick();
      }
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
