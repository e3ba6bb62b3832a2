/**
 * A cluster worker for test/admin/cluster-metrics.test.ts (not a test itself): it records the
 * connections and server state its environment describes into a real PortplexMetrics and answers
 * the primary's metrics requests with answerMetricsRequests. Outside a cluster worker it does nothing.
 *
 *   FIXTURE_CONNECTIONS  closed connections to record (route "web", 100 bytes each way, decided in 2 ms)
 *   FIXTURE_SERVER_UP    "1" or "0": the state of server 127.0.0.1:4443 of backend "web"
 *   FIXTURE_SILENT       "1": never answer (a stuck worker)
 *   FIXTURE_NOISE        "1": before each answer, send other portplex:* messages and a response with another id
 */
import cluster from 'node:cluster';
import { answerMetricsRequests, METRICS_RESPONSE } from '../../src/admin/cluster-metrics.js';
import { PortplexMetrics } from '../../src/observe/metrics.js';

function isRequest(m: unknown): m is { type: string; id: number } {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'portplex:metrics-request';
}

if (cluster.isWorker) {
  const metrics = new PortplexMetrics();
  const n = Number(process.env.FIXTURE_CONNECTIONS ?? '0');
  for (let i = 0; i < n; i++) {
    metrics.connectionClosed({ listener: 'main', route: 'web', backend: 'web', server: '127.0.0.1:4443', reason: 'done', bytesFromClient: 100, bytesToClient: 100, decideMs: 2, peeked: 517 });
  }
  const up = process.env.FIXTURE_SERVER_UP === '1';
  metrics.setSources({
    backends: () => [
      {
        name: 'web',
        balance: 'roundrobin',
        up: up ? 1 : 0,
        servers: [{ address: '127.0.0.1:4443', backup: false, weight: 1, status: up ? 'up' : 'down', reason: up ? undefined : 'check failed', active: 1, total: n, failedConnects: 0, lastCheck: undefined, lastChange: 0 }],
      },
    ],
    openByListener: () => new Map([['main', 1]]),
    limitRefusals: () => new Map([['per-ip-rate', 2]]),
    denials: () => new Map([['proxy/port-not-allowed', 1]]),
  });
  if (process.env.FIXTURE_NOISE === '1') {
    process.on('message', (m: unknown) => {
      if (!isRequest(m)) return;
      process.send?.({ type: 'portplex:status', listening: true });
      process.send?.({ type: METRICS_RESPONSE, id: m.id + 1_000_000, metrics: 'not metrics' });
    });
  }
  let uninstall = process.env.FIXTURE_SILENT === '1' ? (): void => undefined : answerMetricsRequests(metrics.registry);
  process.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'portplex:fixture-uninstall') {
      uninstall();
      uninstall = (): void => undefined;
      process.send?.({ type: 'portplex:fixture-uninstalled' });
    }
  });
  process.send?.({ type: 'portplex:fixture-ready' });
}
