/**
 * Prometheus metrics for one portplex process. Connection counters and histograms are fed by
 * every closed connection; gauges (open connections, server health) and the cumulative refusal
 * counts are read from the running rules at scrape time, so a reload or a removed server never
 * leaves a stale series behind.
 *
 * Labels come only from rule-file names (listener, route, backend, server address) and fixed
 * sets (close reasons, limit kinds, denial reasons, directions): nothing a client sends becomes
 * a label, so the number of series is bounded by the rule file.
 *
 * Every metric names its cluster aggregator: with N worker processes the primary sums counts
 * across workers, but a server is "up" only if it is up in every worker (min), and
 * portplex_server_up_workers says in how many it is.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { BucketHistogram } from './bucket-histogram.js';
import type { BackendSnapshot, UdpStatsView } from './snapshots.js';
import type { CloseReason } from './close-line.js';
import type { ConnectionObserver, ConnectionRecord } from './connection-record.js';

export interface MetricsSources {
  /** Current backends and servers (health state). */
  backends(): readonly BackendSnapshot[];
  /** Open client connections per listener name. */
  openByListener(): ReadonlyMap<string, number>;
  /** Cumulative refusals per limit kind. */
  limitRefusals(): ReadonlyMap<string, number>;
  /** Cumulative forward-proxy denials, key "route/reason". */
  denials(): ReadonlyMap<string, number>;
  /** UDP flow table counters (flows open are in openByListener). */
  udp?(): UdpStatsView;
}

/** Metric names, shared with the status page so both read the same series. */
export const METRIC = {
  connectionsClosed: 'portplex_connections_closed_total',
  bytes: 'portplex_bytes_total',
  decisionSeconds: 'portplex_route_decision_seconds',
  peekedBytes: 'portplex_peeked_bytes',
  denials: 'portplex_denials_total',
  openConnections: 'portplex_open_connections',
  serverUp: 'portplex_server_up',
  serverUpWorkers: 'portplex_server_up_workers',
  serverActive: 'portplex_server_active_connections',
  serverConnectFailures: 'portplex_server_connect_failures_total',
  backendServersUp: 'portplex_backend_servers_up',
  backendServers: 'portplex_backend_servers',
  processes: 'portplex_metrics_processes',
  udpFlowEvents: 'portplex_udp_flow_events_total',
  udpDropped: 'portplex_udp_datagrams_dropped_total',
} as const;

/** From a tenth of a millisecond (a ClientHello in one segment) to the 3 s inspect deadline and beyond. */
export const DECISION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** From nothing (silent clients) through a post-quantum ClientHello (~2 KB) to the 1 MiB max_bytes cap. */
export const PEEKED_BUCKETS = [0, 16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536, 262144, 1048576];

/** What a label says when the connection had no route or no backend (refused, no-route, tunnels). */
const NONE = '';

interface PendingCounts {
  readonly outcomes: Map<CloseReason, number>;
  fromClient: number;
  toClient: number;
}

export class PortplexMetrics implements ConnectionObserver {
  readonly registry: Registry;
  private sources: MetricsSources | undefined;
  private readonly closed: Counter<'listener' | 'route' | 'backend' | 'outcome'>;
  private readonly bytes: Counter<'listener' | 'route' | 'backend' | 'direction'>;
  private readonly decision: BucketHistogram<'listener'>;
  private readonly peeked: BucketHistogram<'listener'>;
  /**
   * Closed-connection counts not yet handed to prom-client, by listener/route/backend. Updating a
   * prom-client counter hashes its labels on every call; here a connection costs three Map lookups
   * and additions, and the counters are brought up to date when they are collected (a scrape).
   * The map is bounded by the rule file (its keys are config names and close reasons).
   */
  private readonly pending = new Map<string, Map<string, Map<string, PendingCounts>>>();

  constructor() {
    // Never the global registry: two instances (tests, several in one process) must not collide on names.
    this.registry = new Registry();
    const registers = [this.registry];
    this.closed = new Counter({
      name: METRIC.connectionsClosed,
      help: 'Client connections closed, by listener, route, backend and outcome (the close reason of the log line); route and backend are empty when none was chosen.',
      labelNames: ['listener', 'route', 'backend', 'outcome'],
      aggregator: 'sum',
      registers,
      collect: () => this.flush(),
    });
    this.bytes = new Counter({
      name: METRIC.bytes,
      help: 'Bytes of closed connections, by listener, route, backend and direction (from_client includes the peeked bytes; to_client).',
      labelNames: ['listener', 'route', 'backend', 'direction'],
      aggregator: 'sum',
      registers,
      collect: () => this.flush(),
    });
    this.decision = new BucketHistogram(
      METRIC.decisionSeconds,
      'Time from the accept to the route decision (inbound PROXY header and inspection), in seconds, for connections that reached one.',
      'listener',
      DECISION_BUCKETS,
      registers,
    );
    this.peeked = new BucketHistogram(METRIC.peekedBytes, 'Bytes peeked before the route decision, for connections that reached one.', 'listener', PEEKED_BUCKETS, registers);
    this.scrapeTimeMetrics(registers);
  }

  connectionClosed(r: ConnectionRecord): void {
    let byRoute = this.pending.get(r.listener);
    if (byRoute === undefined) this.pending.set(r.listener, (byRoute = new Map()));
    const route = r.route ?? NONE;
    let byBackend = byRoute.get(route);
    if (byBackend === undefined) byRoute.set(route, (byBackend = new Map()));
    const backend = r.backend ?? NONE;
    let c = byBackend.get(backend);
    if (c === undefined) byBackend.set(backend, (c = { outcomes: new Map(), fromClient: 0, toClient: 0 }));
    c.outcomes.set(r.reason, (c.outcomes.get(r.reason) ?? 0) + 1);
    c.fromClient += r.bytesFromClient;
    c.toClient += r.bytesToClient;
    if (r.decideMs !== undefined) {
      this.decision.observe(r.listener, r.decideMs / 1000);
      this.peeked.observe(r.listener, r.peeked);
    }
  }

  /** Moves the pending counts into the prom-client counters (before they are read). */
  private flush(): void {
    for (const [listener, byRoute] of this.pending) {
      for (const [route, byBackend] of byRoute) {
        for (const [backend, c] of byBackend) {
          for (const [outcome, n] of c.outcomes) if (n > 0) this.closed.inc({ listener, route, backend, outcome }, n);
          if (c.fromClient > 0) this.bytes.inc({ listener, route, backend, direction: 'from_client' }, c.fromClient);
          if (c.toClient > 0) this.bytes.inc({ listener, route, backend, direction: 'to_client' }, c.toClient);
          c.outcomes.clear();
          c.fromClient = c.toClient = 0;
        }
      }
    }
  }

  /** Called at start and after each rule reload: the gauges read the running rules from then on. */
  setSources(s: MetricsSources): void {
    this.sources = s;
  }

  /** Series computed from the sources at each scrape; each collect() resets first, so what is gone disappears. */
  private scrapeTimeMetrics(registers: Registry[]): void {
    const sources = (): MetricsSources | undefined => this.sources;
    const gauge = <L extends string>(name: string, help: string, labelNames: L[], aggregator: 'sum' | 'min' | 'max', fill: (g: Gauge<L>, s: MetricsSources) => void): void => {
      const g: Gauge<L> = new Gauge<L>({
        name,
        help,
        labelNames,
        aggregator,
        registers,
        collect: () => {
          g.reset();
          const s = sources();
          if (s !== undefined) fill(g, s);
        },
      });
    };
    const counter = <L extends string>(name: string, help: string, labelNames: L[], fill: (c: Counter<L>, s: MetricsSources) => void): void => {
      const c: Counter<L> = new Counter<L>({
        name,
        help,
        labelNames,
        aggregator: 'sum',
        registers,
        collect: () => {
          c.reset();
          const s = sources();
          if (s !== undefined) fill(c, s);
        },
      });
    };

    counter(METRIC.denials, 'Connections refused by a limit (kind="limit", reason = the limit) or denied by a forward-proxy route (kind="forward-proxy", reason = the denial).', ['kind', 'route', 'reason'], (c, s) => {
      for (const [limit, n] of s.limitRefusals()) c.inc({ kind: 'limit', route: NONE, reason: limit }, n);
      for (const [key, n] of s.denials()) {
        // Route names cannot contain "/", so the last one separates the reason.
        const slash = key.lastIndexOf('/');
        c.inc({ kind: 'forward-proxy', route: slash < 0 ? NONE : key.slice(0, slash), reason: key.slice(slash + 1) }, n);
      }
    });
    gauge(METRIC.openConnections, 'Client connections open now, per listener.', ['listener'], 'sum', (g, s) => {
      for (const [listener, n] of s.openByListener()) g.set({ listener }, n);
    });
    gauge(METRIC.serverUp, 'Server health: 1 up, 0 down. In a cluster, 0 if it is down in any worker.', ['backend', 'server', 'backup'], 'min', (g, s) => {
      for (const b of s.backends()) for (const v of b.servers) g.set({ backend: b.name, server: v.address, backup: String(v.backup) }, v.status === 'up' ? 1 : 0);
    });
    gauge(METRIC.serverUpWorkers, 'Worker processes in which the server is up (1 or 0 for a single process).', ['backend', 'server', 'backup'], 'sum', (g, s) => {
      for (const b of s.backends()) for (const v of b.servers) g.set({ backend: b.name, server: v.address, backup: String(v.backup) }, v.status === 'up' ? 1 : 0);
    });
    gauge(METRIC.serverActive, 'Connections open (or connecting) to the server now.', ['backend', 'server'], 'sum', (g, s) => {
      for (const b of s.backends()) for (const v of b.servers) g.set({ backend: b.name, server: v.address }, v.active);
    });
    counter(METRIC.serverConnectFailures, 'Failed connects to the server since the rules were loaded (a reload starts it again at 0).', ['backend', 'server'], (c, s) => {
      for (const b of s.backends()) for (const v of b.servers) c.inc({ backend: b.name, server: v.address }, v.failedConnects);
    });
    gauge(METRIC.backendServersUp, 'Servers of the backend that are up. In a cluster, the lowest count of any worker.', ['backend'], 'min', (g, s) => {
      for (const b of s.backends()) g.set({ backend: b.name }, b.up);
    });
    gauge(METRIC.backendServers, 'Servers the backend has (primaries and backups).', ['backend'], 'max', (g, s) => {
      for (const b of s.backends()) g.set({ backend: b.name }, b.servers.length);
    });
    counter(METRIC.udpFlowEvents, 'What the UDP flow table did by itself: evicted (a flow ended because the table was full), expired (a flow ended by its idle timeout), migrated (a flow moved to the new port of its client, found by its QUIC connection ID).', ['event'], (c, s) => {
      const u = s.udp?.();
      if (u === undefined) return;
      c.inc({ event: 'evicted' }, u.evicted);
      c.inc({ event: 'expired' }, u.expired);
      c.inc({ event: 'migrated' }, u.migrated);
    });
    counter(METRIC.udpDropped, 'UDP datagrams from clients dropped without reaching a backend, by reason.', ['reason'], (c, s) => {
      for (const [reason, n] of s.udp?.().dropped ?? []) c.inc({ reason }, n);
    });
    // Constant 1 per process: summed by the primary, it says how many workers answered the scrape.
    new Gauge({ name: METRIC.processes, help: 'Processes whose metrics this scrape includes (1 per worker that answered).', aggregator: 'sum', registers }).set(1);
  }
}
