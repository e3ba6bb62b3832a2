/**
 * The admin endpoint (node:http, no framework): GET /metrics (Prometheus text), /healthz,
 * /readyz, the status page at / and the same view as /status.json. HEAD is answered like GET
 * without a body; other methods get 405 and other paths 404.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Registry } from 'prom-client';
import type { HostPort } from '../config/types.js';
import { formatHostPort } from '../config/units.js';
import { PortplexError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { primaryMetrics } from './primary-metrics.js';
import { readiness, type AdminSource } from './state.js';
import { renderStatusPage } from './status-page.js';
import { buildStatusView, type StatusView } from './status-view.js';

export type { AdminSource, AdminState } from './state.js';

export interface RunningAdmin {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

interface Reply {
  readonly status: number;
  readonly type: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

const TEXT = 'text/plain; charset=utf-8';
/** The page has no scripts and loads nothing: even a markup bug could not run code or fetch anything. */
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The workers' (or the process's) metrics and the primary's own, in one registry. */
async function scrape(source: AdminSource): Promise<Registry> {
  return Registry.merge([await source.metrics(), primaryMetrics(source.state())]);
}

async function statusView(source: AdminSource): Promise<StatusView> {
  const registry = await scrape(source);
  return buildStatusView(source.state(), await registry.getMetricsAsJSON());
}

async function route(path: string, source: AdminSource): Promise<Reply> {
  switch (path) {
    case '/healthz':
      return { status: 200, type: TEXT, body: 'ok\n' };
    case '/readyz': {
      const r = readiness(source.state());
      return r.ready ? { status: 200, type: TEXT, body: 'ready\n' } : { status: 503, type: TEXT, body: r.reasons.map((x) => `${x}\n`).join('') };
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
      return { status: 404, type: TEXT, body: `not found: the admin endpoint serves /, /status.json, /metrics, /healthz and /readyz\n` };
  }
}

function send(req: IncomingMessage, res: ServerResponse, r: Reply): void {
  res.writeHead(r.status, {
    'content-type': r.type,
    'content-length': Buffer.byteLength(r.body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...r.headers,
  });
  res.end(req.method === 'HEAD' ? undefined : r.body);
}

export function startAdminServer(listen: HostPort, source: AdminSource, log: Logger): Promise<RunningAdmin> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(req, res, { status: 405, type: TEXT, body: 'method not allowed: use GET or HEAD\n', headers: { allow: 'GET, HEAD' } });
      return;
    }
    const path = new URL(req.url ?? '/', 'http://admin').pathname;
    route(path, source).then(
      (reply) => send(req, res, reply),
      (e: unknown) => {
        log.error({ err: e instanceof Error ? e.message : String(e), path }, 'admin endpoint: request failed');
        if (!res.headersSent) send(req, res, { status: 500, type: TEXT, body: 'internal error (see the log)\n' });
        else res.destroy();
      },
    );
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const where = formatHostPort(listen);
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => {
      reject(new PortplexError('PORTPLEX_ERR_LISTEN', `admin endpoint: cannot listen on ${where}: ${e.message}`, { cause: e }));
    };
    server.once('error', onError);
    server.listen(listen.port, listen.host, () => {
      server.off('error', onError);
      server.on('error', (e) => log.error({ err: e.message }, 'admin endpoint error'));
      const address = server.address() as AddressInfo;
      log.info({ admin: `http://${formatHostPort({ host: address.address, port: address.port })}/` }, 'admin endpoint listening');
      resolve({
        address,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Keep-alive clients (browsers, Prometheus) would hold close() open: end them too.
            if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
            else for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}
