/**
 * Metrics across node:cluster workers. Connections are counted in the workers; the admin
 * endpoint lives in the primary, which asks every worker for its registry as JSON over the IPC
 * channel and aggregates the answers with each metric's own aggregator (sum for counts, min for
 * server health).
 *
 * prom-client's AggregatorRegistry.clusterMetrics() does the same, but it fails the whole scrape
 * when one worker is slow (and it reads the global registry): here a worker that does not answer
 * in time is left out, so a stuck worker never stalls /metrics or the probes behind it.
 */
import type { Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

export const METRICS_REQUEST = 'portplex:metrics-request';
export const METRICS_RESPONSE = 'portplex:metrics-response';

export interface MetricsRequest {
  readonly type: typeof METRICS_REQUEST;
  readonly id: number;
}

/** One registry's getMetricsAsJSON(), as it crosses the IPC channel. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export interface MetricsResponse {
  readonly type: typeof METRICS_RESPONSE;
  readonly id: number;
  readonly metrics?: MetricsJson;
  /** Set instead of metrics when the worker could not collect them. */
  readonly error?: string;
}

const AGGREGATORS = new Set(['sum', 'first', 'min', 'max', 'average', 'omit']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function isRequest(m: unknown): m is MetricsRequest {
  return isRecord(m) && m.type === METRICS_REQUEST && typeof m.id === 'number';
}

/**
 * What AggregatorRegistry.aggregate() needs not to throw: metrics with a name, a known
 * aggregator and a list of values. Anything else (a worker of another version, a bug) is
 * dropped rather than failing the scrape.
 */
function validMetrics(v: unknown): MetricsJson | undefined {
  if (!Array.isArray(v)) return undefined;
  const ok = v.every((m) => isRecord(m) && typeof m.name === 'string' && typeof m.aggregator === 'string' && AGGREGATORS.has(m.aggregator) && Array.isArray(m.values));
  return ok ? (v as MetricsJson) : undefined;
}

/**
 * Worker side: answers the primary's metrics requests with `registry` as JSON. Other messages
 * (the primary and workers exchange other portplex:* messages) are left alone. Returns the
 * function that removes the handler.
 */
export function answerMetricsRequests(registry: Registry): () => void {
  const reply = (answer: MetricsResponse): void => {
    // The primary may be gone (shutdown): a failed send is not this worker's problem.
    if (process.send === undefined || !process.connected) return;
    process.send(answer, undefined, undefined, () => undefined);
  };
  const onMessage = (message: unknown): void => {
    if (!isRequest(message)) return;
    const { id } = message;
    registry.getMetricsAsJSON().then(
      (metrics) => reply({ type: METRICS_RESPONSE, id, metrics }),
      (e: unknown) => reply({ type: METRICS_RESPONSE, id, error: e instanceof Error ? e.message : String(e) }),
    );
  };
  process.on('message', onMessage);
  return () => {
    process.off('message', onMessage);
  };
}

let nextId = 1;

/** One worker's metrics, or undefined when it does not answer within timeoutMs, errs or goes away. */
function ask(worker: Worker, id: number, timeoutMs: number): Promise<MetricsJson | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (metrics: MetricsJson | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('disconnect', onGone);
      worker.off('exit', onGone);
      resolve(metrics);
    };
    const onMessage = (m: unknown): void => {
      if (isRecord(m) && m.type === METRICS_RESPONSE && m.id === id) done(validMetrics(m.metrics));
    };
    const onGone = (): void => done(undefined);
    const timer = setTimeout(onGone, timeoutMs);
    worker.on('message', onMessage);
    worker.once('disconnect', onGone);
    worker.once('exit', onGone);
    const request: MetricsRequest = { type: METRICS_REQUEST, id };
    try {
      worker.send(request, undefined, (e: Error | null) => {
        if (e) done(undefined);
      });
    } catch {
      done(undefined); // the channel closed between isConnected() and send()
    }
  });
}

/**
 * Primary side: asks every connected worker for its metrics and aggregates what arrives
 * within timeoutMs (portplex_metrics_processes then says how many answered).
 */
export async function collectWorkerMetrics(workers: readonly Worker[], timeoutMs: number): Promise<Registry> {
  const id = nextId++;
  const answers = await Promise.all(workers.filter((w) => w.isConnected()).map((w) => ask(w, id, timeoutMs)));
  return AggregatorRegistry.aggregate(answers.filter((a): a is MetricsJson => a !== undefined));
}
