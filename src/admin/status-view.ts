/**
 * The status page's data, as plain values: the running rules (listeners, routes in order,
 * backends and their servers) joined with what the metrics say now (hits, open connections,
 * up/down per worker). Pure: the same input gives the same view, so it is tested without a
 * server, and /status.json is this object as JSON.
 */
import type { BackendConfig, ProxyAccept, RouteConfig } from '../config/types.js';
import { formatHostPort } from '../config/units.js';
import { METRIC } from '../observe/metrics.js';
import type { MetricsJson } from './cluster-metrics.js';
import { summarizeCondition } from './condition-summary.js';
import { readiness, type AdminState } from './state.js';

export interface ListenerView {
  readonly name: string;
  readonly address: string;
  readonly proxyProtocol: ProxyAccept;
  readonly open: number;
}

export interface RouteView {
  /** 1-based position: the order routes are tried in. */
  readonly position: number;
  readonly name: string;
  readonly action: 'backend' | 'connect' | 'sni_forward';
  /** The backend name, or what the forward-proxy action reaches. */
  readonly target: string;
  readonly when: string;
  /** Closed connections this route took. */
  readonly hits: number;
}

export type ServerStateView = 'up' | 'down' | 'unknown';

export interface ServerView {
  readonly address: string;
  readonly backup: boolean;
  readonly weight: number;
  /** Down in any worker is down; unknown when no worker reported the server. */
  readonly state: ServerStateView;
  readonly upWorkers: number;
  readonly workers: number;
  readonly active: number;
}

export interface BackendView {
  readonly name: string;
  readonly balance: BackendConfig['balance'];
  /** "tcp check every 5s", "tls check …", "passive only" or "no checks". */
  readonly checks: string;
  readonly serversUp: number;
  readonly servers: readonly ServerView[];
}

export interface DenialView {
  readonly kind: string;
  readonly route: string;
  readonly reason: string;
  readonly count: number;
}

export interface StatusView {
  readonly generatedAt: string;
  readonly refreshSeconds: number;
  readonly ready: boolean;
  readonly notReadyReasons: readonly string[];
  readonly rules: { readonly source: string; readonly files: readonly string[]; readonly loadedAt: string; readonly warnings: readonly string[] };
  readonly reload: { readonly result: 'none' | 'ok' | 'failed'; readonly ok: number; readonly failed: number; readonly lastAt: string | undefined; readonly lastError: string | undefined };
  /** `reporting`: workers whose metrics this view includes. */
  readonly workers: { readonly wanted: number; readonly listening: number; readonly restarts: number; readonly reporting: number };
  readonly listeners: readonly ListenerView[];
  readonly routes: readonly RouteView[];
  /** Hits are undefined when a route is itself named "default" (the two cannot be told apart). */
  readonly defaultBackend: { readonly name: string; readonly hits: number | undefined } | undefined;
  /** Connections closed before any route or backend was chosen: no route, refused by a limit or a PROXY check, client gone. */
  readonly unrouted: number;
  readonly backends: readonly BackendView[];
  readonly denials: readonly DenialView[];
}

interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly metricName: string | undefined;
}

/** One metric's samples with string labels (histogram bucket/sum/count samples carry metricName). */
function samples(json: MetricsJson, name: string): Sample[] {
  const m = json.find((x) => x.name === name);
  if (m === undefined) return [];
  return (m.values as { labels: Record<string, unknown>; value: number; metricName?: string }[]).map((v) => ({
    labels: Object.fromEntries(Object.entries(v.labels ?? {}).map(([k, x]) => [k, String(x)])),
    value: Number(v.value),
    metricName: v.metricName,
  }));
}

function sum(list: readonly Sample[], keep: (l: Readonly<Record<string, string>>) => boolean): number {
  return list.reduce((n, s) => (keep(s.labels) ? n + s.value : n), 0);
}

const serverKey = (backend: string, server: string): string => `${backend}\n${server}`;

function byServer(json: MetricsJson, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples(json, name)) out.set(serverKey(s.labels.backend ?? '', s.labels.server ?? ''), s.value);
  return out;
}

function secondsText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function checksOf(b: BackendConfig): string {
  const h = b.health;
  if (h !== undefined) return `${h.type} check every ${secondsText(h.intervalMs)}${h.type === 'tls' && h.sni !== undefined ? ` (SNI ${h.sni})` : ''}`;
  return b.passive.failures > 0 ? 'passive only' : 'no checks';
}

function actionOf(r: RouteConfig): Pick<RouteView, 'action' | 'target'> {
  switch (r.action.kind) {
    case 'backend':
      return { action: 'backend', target: r.action.backend };
    case 'connect': {
      const ports = r.action.connect.ports.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(', ');
      return { action: 'connect', target: `CONNECT tunnels to port ${ports}` };
    }
    case 'sni-forward': {
      const f = r.action.forward;
      return { action: 'sni_forward', target: `the SNI on port ${f.port}${f.fallback === undefined ? '' : `, no SNI: ${f.fallback}`}` };
    }
  }
}

export function buildStatusView(state: AdminState, metricsJson: MetricsJson, now: Date = new Date()): StatusView {
  const { rules } = state;
  const closed = samples(metricsJson, METRIC.connectionsClosed);
  const reporting = sum(samples(metricsJson, METRIC.processes), () => true);
  const open = samples(metricsJson, METRIC.openConnections);
  const up = byServer(metricsJson, METRIC.serverUp);
  const upWorkers = byServer(metricsJson, METRIC.serverUpWorkers);
  const active = byServer(metricsJson, METRIC.serverActive);
  const ready = readiness(state);

  const routeNamedDefault = rules.routes.some((r) => r.name === 'default');
  const defaultBackend =
    rules.defaultBackend === undefined
      ? undefined
      : {
          name: rules.defaultBackend,
          // The listener labels default-backend connections route "default" (as in its log line), or leaves the route empty.
          hits: routeNamedDefault ? undefined : sum(closed, (l) => l.route === 'default' || (l.route === '' && l.backend !== '')),
        };

  const backends = [...rules.backends.values()].map((b): BackendView => {
    const servers = b.servers.map((s): ServerView => {
      const key = serverKey(b.name, s.address);
      const u = up.get(key);
      return {
        address: s.address,
        backup: s.backup,
        weight: s.weight,
        state: u === undefined ? 'unknown' : u >= 1 ? 'up' : 'down',
        upWorkers: upWorkers.get(key) ?? 0,
        workers: reporting,
        active: active.get(key) ?? 0,
      };
    });
    return { name: b.name, balance: b.balance, checks: checksOf(b), serversUp: servers.filter((s) => s.state === 'up').length, servers };
  });

  const { reloads } = state;
  return {
    generatedAt: now.toISOString(),
    refreshSeconds: Math.round((rules.admin?.statusRefreshMs ?? 5000) / 1000),
    ready: ready.ready,
    notReadyReasons: ready.reasons,
    rules: {
      source: state.rulesSource,
      files: rules.files,
      loadedAt: state.rulesLoadedAt.toISOString(),
      warnings: rules.warnings.map((w) => `${w.file}:${w.line}:${w.col}: ${w.message}`),
    },
    reload: {
      result: reloads.lastAt === undefined ? 'none' : reloads.lastError === undefined ? 'ok' : 'failed',
      ok: reloads.ok,
      failed: reloads.failed,
      lastAt: reloads.lastAt?.toISOString(),
      lastError: reloads.lastError,
    },
    workers: { ...state.workers, reporting },
    listeners: rules.listeners.map((l) => ({ name: l.name, address: formatHostPort(l) + (l.transport === 'udp' ? ' udp' : ''), proxyProtocol: l.proxy.accept, open: sum(open, (x) => x.listener === l.name) })),
    routes: rules.routes.map((r, i) => ({ position: i + 1, name: r.name, ...actionOf(r), when: summarizeCondition(r.when), hits: sum(closed, (l) => l.route === r.name) })),
    defaultBackend,
    unrouted: sum(closed, (l) => l.route === '' && l.backend === ''),
    backends,
    denials: samples(metricsJson, METRIC.denials)
      .filter((s) => s.value > 0)
      .map((s) => ({ kind: s.labels.kind ?? '', route: s.labels.route ?? '', reason: s.labels.reason ?? '', count: s.value })),
  };
}
