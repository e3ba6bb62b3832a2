/**
 * What each admin path answers, once the request has been admitted (gate.ts): GET /metrics
 * (Prometheus text), /healthz, /readyz, the status page at / and the same view as /status.json.
 */
import { Registry } from 'prom-client';
import { primaryMetrics } from './primary-metrics.js';
import { readiness, type AdminSource } from './state.js';
import { renderStatusPage } from './status-page.js';
import { buildStatusView, type StatusView } from './status-view.js';

export interface Reply {
  readonly status: number;
  readonly type: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export const TEXT = 'text/plain; charset=utf-8';
/** The page has no scripts and loads nothing: even a markup bug could not run code or fetch anything. */
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const textReply = (status: number, body: string, headers?: Readonly<Record<string, string>>): Reply => ({ status, type: TEXT, body, ...(headers ? { headers } : {}) });

/** Paths that answer without the admin token: the platform's probes have none to send. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** The workers' (or the process's) metrics and the primary's own, in one registry. */
async function scrape(source: AdminSource): Promise<Registry> {
  return Registry.merge([await source.metrics(), primaryMetrics(source.state())]);
}

async function statusView(source: AdminSource): Promise<StatusView> {
  const registry = await scrape(source);
  return buildStatusView(source.state(), await registry.getMetricsAsJSON());
}

export async function route(path: string, source: AdminSource): Promise<Reply> {
  switch (path) {
    case '/healthz':
      return textReply(200, 'ok\n');
    case '/readyz': {
      const r = readiness(source.state());
      return r.ready ? textReply(200, 'ready\n') : textReply(503, r.reasons.map((x) => `${x}\n`).join(''));
    }
    case '/metrics': {
      const registry = await scrape(source);
      return { status: 200, type: registry.contentType, body: await registry.metrics() };
    }
    case '/':
      return { status: 200, type: 'text/html; charset=utf-8', body: renderStatusPage(await statusView(source)), headers: { 'content-security-policy': PAGE_CSP } };
    case '/status.json':
      return { status: 200, type: 'application/json; charset=utf-8', body: `${JSON.stringify(await statusView(source), null, 2)}\n` };
    default:
      return textReply(404, 'not found: the admin endpoint serves /, /status.json, /metrics, /healthz and /readyz\n');
  }
}
