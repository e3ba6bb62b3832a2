/**
 * Metrics only the primary (or the single process) knows: rule reloads, workers, readiness.
 * Built fresh from AdminState at each scrape, so they are never stale and need no updating.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { readiness, type AdminState } from './state.js';

export const PRIMARY_METRIC = {
  reloads: 'portplex_rule_reloads_total',
  rulesLoaded: 'portplex_rules_loaded_timestamp_seconds',
  workersWanted: 'portplex_workers_wanted',
  workersListening: 'portplex_workers_listening',
  workerRestarts: 'portplex_worker_restarts_total',
  ready: 'portplex_ready',
  dataplane: 'portplex_dataplane_info',
} as const;

export function primaryMetrics(s: AdminState): Registry {
  const registry = new Registry();
  const registers = [registry];
  const reloads = new Counter({ name: PRIMARY_METRIC.reloads, help: 'Rule reloads since start, by result (ok, failed).', labelNames: ['result'], registers });
  reloads.inc({ result: 'ok' }, s.reloads.ok);
  reloads.inc({ result: 'failed' }, s.reloads.failed);
  new Gauge({ name: PRIMARY_METRIC.rulesLoaded, help: 'When the running rules were loaded (Unix time, seconds).', registers }).set(s.rulesLoadedAt.getTime() / 1000);
  new Gauge({ name: PRIMARY_METRIC.workersWanted, help: 'Worker processes wanted.', registers }).set(s.workers.wanted);
  new Gauge({ name: PRIMARY_METRIC.workersListening, help: 'Worker processes listening now.', registers }).set(s.workers.listening);
  new Counter({ name: PRIMARY_METRIC.workerRestarts, help: 'Worker processes restarted after they exited.', registers }).inc(s.workers.restarts);
  new Gauge({ name: PRIMARY_METRIC.ready, help: '1 when /readyz answers 200 (listeners bound, not draining, a worker listening), else 0.', registers }).set(readiness(s).ready ? 1 : 0);
  new Gauge({ name: PRIMARY_METRIC.dataplane, help: 'Constant 1; dataplane says who owns the TCP sockets: native (the addon) or js (node:net).', labelNames: ['dataplane'], registers }).set({ dataplane: s.dataplane }, 1);
  return registry;
}
