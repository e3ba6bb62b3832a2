/**
 * Cluster aggregation with real node:cluster workers: counts are summed, a server down in any
 * worker is down (min) while portplex_server_up_workers says in how many it is up, a worker that
 * does not answer is left out without failing the scrape, and other portplex:* messages are ignored.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { collectWorkerMetrics, type MetricsJson } from '../../src/admin/cluster-metrics.js';
import { METRIC } from '../../src/observe/metrics.js';

const FIXTURE = fileURLToPath(new URL('./cluster-worker-fixture.js', import.meta.url));
/** Long enough for a loaded machine; only the silent worker ever waits it out. */
const ANSWER_MS = 3000;

cluster.setupPrimary({ exec: FIXTURE, silent: false });

function waitFor(worker: Worker, type: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type) {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number): void => reject(new Error(`worker exited (${code}) before "${type}"`));
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
}

/** Forks a fixture worker, killed after the test whatever happens. */
async function fork(t: TestContext, env: Record<string, string>): Promise<Worker> {
  const worker = cluster.fork(env);
  t.after(async () => {
    if (worker.process.exitCode !== null || worker.process.signalCode !== null) return;
    const exited = once(worker, 'exit');
    worker.process.kill('SIGKILL');
    await exited;
  });
  await waitFor(worker, 'portplex:fixture-ready');
  return worker;
}

function values(json: MetricsJson, name: string): { labels: Record<string, string | number | undefined>; value: number; metricName?: string }[] {
  const m = json.find((x) => x.name === name);
  assert.ok(m, `${name} is in the aggregated metrics`);
  return m.values as { labels: Record<string, string | number | undefined>; value: number; metricName?: string }[];
}

function single(json: MetricsJson, name: string, labels: Record<string, string> = {}): number {
  const hits = values(json, name).filter((v) => v.metricName === undefined && Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  assert.equal(hits.length, 1, `${name}${JSON.stringify(labels)}: ${JSON.stringify(values(json, name))}`);
  return hits[0]!.value;
}

describe('collectWorkerMetrics / answerMetricsRequests with real cluster workers', () => {
  it('sums counts over the workers, takes the min of server_up, and leaves out a worker that does not answer', async (t) => {
    const up = await fork(t, { FIXTURE_CONNECTIONS: '2', FIXTURE_SERVER_UP: '1', FIXTURE_NOISE: '1' });
    const down = await fork(t, { FIXTURE_CONNECTIONS: '3', FIXTURE_SERVER_UP: '0' });
    const silent = await fork(t, { FIXTURE_CONNECTIONS: '7', FIXTURE_SERVER_UP: '1', FIXTURE_SILENT: '1' });

    const json = await (await collectWorkerMetrics([up, down, silent], ANSWER_MS)).getMetricsAsJSON();
    assert.equal(single(json, METRIC.processes), 2, 'the silent worker is left out');
    assert.equal(single(json, METRIC.connectionsClosed, { listener: 'main', route: 'web', backend: 'web', outcome: 'done' }), 5);
    assert.equal(single(json, METRIC.bytes, { direction: 'from_client' }), 500);
    assert.equal(single(json, METRIC.bytes, { direction: 'to_client' }), 500);
    const count = values(json, METRIC.decisionSeconds).find((v) => v.metricName === `${METRIC.decisionSeconds}_count`);
    assert.equal(count?.value, 5, 'histogram counts are summed');
    assert.equal(single(json, METRIC.openConnections, { listener: 'main' }), 2);
    assert.equal(single(json, METRIC.serverActive, { backend: 'web', server: '127.0.0.1:4443' }), 2);
    assert.equal(single(json, METRIC.denials, { kind: 'limit', reason: 'per-ip-rate' }), 4);
    assert.equal(single(json, METRIC.denials, { kind: 'forward-proxy', route: 'proxy', reason: 'port-not-allowed' }), 2);
    // Down in one worker: down (min); up in one of the two that answered.
    assert.equal(single(json, METRIC.serverUp, { backend: 'web', server: '127.0.0.1:4443', backup: 'false' }), 0);
    assert.equal(single(json, METRIC.serverUpWorkers, { backend: 'web', server: '127.0.0.1:4443' }), 1);
    assert.equal(single(json, METRIC.backendServersUp, { backend: 'web' }), 0);

    // The aggregated registry renders as Prometheus text.
    const text = await (await collectWorkerMetrics([up, down], ANSWER_MS)).metrics();
    assert.match(text, /^portplex_connections_closed_total\{listener="main",route="web",backend="web",outcome="done"\} 5$/m);
    assert.match(text, /^portplex_server_up\{backend="web",server="127\.0\.0\.1:4443",backup="false"\} 0$/m);
  });

  it('up in every worker that answers is up; an uninstalled handler stops answering; no workers is an empty registry', async (t) => {
    const a = await fork(t, { FIXTURE_CONNECTIONS: '1', FIXTURE_SERVER_UP: '1' });
    const b = await fork(t, { FIXTURE_CONNECTIONS: '1', FIXTURE_SERVER_UP: '1', FIXTURE_NOISE: '1' });
    let json = await (await collectWorkerMetrics([a, b], ANSWER_MS)).getMetricsAsJSON();
    assert.equal(single(json, METRIC.serverUp, { backend: 'web' }), 1);
    assert.equal(single(json, METRIC.serverUpWorkers, { backend: 'web' }), 2);
    assert.equal(single(json, METRIC.backendServersUp, { backend: 'web' }), 1);

    const uninstalled = waitFor(b, 'portplex:fixture-uninstalled');
    b.send({ type: 'portplex:fixture-uninstall' });
    await uninstalled;
    json = await (await collectWorkerMetrics([a, b], ANSWER_MS)).getMetricsAsJSON();
    assert.equal(single(json, METRIC.processes), 1);
    assert.equal(single(json, METRIC.connectionsClosed, { route: 'web' }), 1);

    // A worker that exits is skipped (not connected), and none at all still gives a registry.
    const exited = once(a, 'exit');
    a.process.kill('SIGKILL');
    await exited;
    json = await (await collectWorkerMetrics([a], ANSWER_MS)).getMetricsAsJSON();
    assert.deepEqual(json, []);
    assert.equal(await (await collectWorkerMetrics([], ANSWER_MS)).metrics(), '\n');
  });
});
