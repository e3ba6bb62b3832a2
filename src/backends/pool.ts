/**
 * A backend's servers with HAProxy's semantics: balancing among available primaries, backups
 * only when no primary can take the connection, retries on another server after a failed
 * connect, passive checks (consecutive connect failures take a server out), and the state the
 * active health checks drive. State changes are logged once, when they happen.
 */
import type { Socket } from 'node:net';
import type { BackendConfig, ServerConfig } from '../config/types.js';
import type { Logger } from '../observe/logger.js';
import { pickServer } from './balance.js';
import { isTransparentSetupError, socketDialer, type Dialer } from './dial.js';
import type { BackendSnapshot } from '../observe/snapshots.js';
import { ServerState } from './server-state.js';

export interface ConnectOutcome<L = Socket> {
  /** The transport's connection to the server (a node:net socket unless another dialer made it). */
  readonly socket: L | undefined;
  readonly server: ServerConfig | undefined;
  /** "addr: reason" for every server that failed, in the order tried. */
  readonly failures: readonly string[];
}

const NONE_TRIED: ReadonlySet<ServerState> = new Set();

const releaseOnClose = (server: ServerState) => (): void => {
  server.active--;
};
const LOCAL_ERRORS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL', 'aborted']);

export class BackendPool {
  readonly servers: readonly ServerState[];
  private readonly primaries: readonly ServerState[];
  private readonly backups: readonly ServerState[];
  private tiebreak = 0;

  constructor(
    readonly config: BackendConfig,
    private readonly log: Logger | undefined,
  ) {
    this.servers = config.servers.map((s) => new ServerState(s));
    this.primaries = this.servers.filter((s) => !s.config.backup);
    this.backups = this.servers.filter((s) => s.config.backup);
  }

  snapshot(): BackendSnapshot {
    const servers = this.servers.map((s) => s.snapshot());
    return { name: this.config.name, balance: this.config.balance, up: servers.filter((s) => s.status === 'up').length, servers };
  }

  /**
   * Connects to a server chosen for this client, retrying on others, with node:net sockets or
   * another transport's `dialer` (the native data plane's). Returns an abort function.
   */
  connect(clientAddress: string, done: (outcome: ConnectOutcome) => void): () => void;
  connect<L>(clientAddress: string, done: (outcome: ConnectOutcome<L>) => void, dialer: Dialer<L>): () => void;
  connect<L>(clientAddress: string, done: (outcome: ConnectOutcome<L>) => void, dialer?: Dialer<L>): () => void {
    if (dialer === undefined) return this.connectWith(clientAddress, socketDialer, done as unknown as (outcome: ConnectOutcome) => void);
    return this.connectWith(clientAddress, dialer, done);
  }

  private connectWith<L>(clientAddress: string, dialer: Dialer<L>, done: (outcome: ConnectOutcome<L>) => void): () => void {
    const tried = new Set<ServerState>();
    const failures: string[] = [];
    let attemptsLeft = 1 + this.config.retries;
    let abort: (() => void) | undefined;
    let aborted = false;
    const attempt = (): void => {
      const server = aborted ? undefined : this.choose(clientAddress, tried);
      if (server === undefined) {
        if (!aborted && tried.size === 0) failures.push(`${this.config.name}: no server available (${this.describeUnavailable()})`);
        done({ socket: undefined, server: undefined, failures });
        return;
      }
      tried.add(server);
      server.active++; // reserved while connecting, so leastconn and max_connections see it
      abort = dialer(
        server.config,
        {
          timeoutMs: this.config.connectTimeoutMs,
          noDelay: this.config.noDelay,
          keepAliveMs: this.config.keepAliveMs,
          onOptionError: (option, e) => this.log?.warn({ backend: this.config.name, server: server.config.address, option, err: String(e) }, 'socket option not applied'),
          ...(server.config.transparent ? { transparentSource: clientAddress } : {}),
        },
        (r) => {
          if (r.ok) {
            server.total++;
            server.consecutiveConnectFailures = 0;
            // Made outside this closure, so that a long connection does not keep the attempt's state alive.
            r.onClose(releaseOnClose(server));
            done({ socket: r.link, server: server.config, failures });
            return;
          }
          server.active--;
          if (r.error === 'aborted') {
            done({ socket: undefined, server: undefined, failures });
            return;
          }
          failures.push(`${server.config.address}: ${r.error}`);
          this.connectFailed(server, r.error);
          if (--attemptsLeft > 0) attempt();
          else done({ socket: undefined, server: undefined, failures });
        },
      );
    };
    attempt();
    return () => {
      aborted = true;
      abort?.();
    };
  }

  /**
   * A server for a UDP flow: chosen like a TCP connection's, with nothing to dial. It counts as
   * active (leastconn, max_connections) until the flow hands it back with `release`.
   */
  pick(clientAddress: string): ServerState | undefined {
    const server = this.choose(clientAddress, NONE_TRIED);
    if (server !== undefined) {
      server.active++;
      server.total++;
    }
    return server;
  }

  /**
   * `server` again, for another path of a UDP flow's connection (a QUIC client that moved): only
   * that server knows the connection, so it is taken whatever its state. Counted like `pick`.
   */
  hold(server: ServerState): void {
    server.active++;
    server.total++;
  }

  release(server: ServerState): void {
    server.active--;
  }

  private choose(clientAddress: string, tried: ReadonlySet<ServerState>): ServerState | undefined {
    const now = Date.now();
    const usable = (s: ServerState): boolean => {
      if (s.status === 'down' && s.retryAfter > 0 && now >= s.retryAfter) this.markUp(s, 'passive cool-down over');
      return s.available && !tried.has(s);
    };
    let candidates = this.primaries.filter(usable);
    if (candidates.length === 0) candidates = this.backups.filter(usable);
    return pickServer(this.config.balance, candidates, clientAddress, this.tiebreak++);
  }

  private describeUnavailable(): string {
    return this.servers.map((s) => `${s.config.address} ${s.status === 'down' ? 'down' : 'full'}`).join(', ');
  }

  private connectFailed(server: ServerState, error: string): void {
    server.failedConnects++;
    // Out of descriptors or buffers here is our problem, not the server's: no passive strike.
    if (LOCAL_ERRORS.has(error) || isTransparentSetupError(error)) return;
    server.consecutiveConnectFailures++;
    const limit = this.config.passive.failures;
    if (limit > 0 && server.consecutiveConnectFailures >= limit && server.status === 'up') {
      // Down until the next successful active check; without active checks, for the cool-down.
      server.retryAfter = this.config.health === undefined ? Date.now() + this.config.passive.cooldownMs : 0;
      this.markDown(server, `${server.consecutiveConnectFailures} consecutive connect failures (last: ${error})`, 'passive');
    }
  }

  /** Called by the active health checker with each check's result. */
  checkResult(server: ServerState, ok: boolean, detail: string): void {
    const h = this.config.health;
    if (h === undefined) return;
    server.lastCheck = { ok, detail, at: Date.now() };
    if (ok) {
      server.checkFailures = 0;
      server.checkSuccesses++;
      // A passive take-down ends at the first good check; a check-driven one needs `rise` of them.
      if (server.status === 'down' && (server.downBy === 'passive' || server.checkSuccesses >= h.rise)) {
        this.markUp(server, `check passed ${server.checkSuccesses}x: ${detail}`);
      }
    } else {
      server.checkSuccesses = 0;
      server.checkFailures++;
      if (server.status === 'up' && server.checkFailures >= h.fall) this.markDown(server, `check failed ${server.checkFailures}x: ${detail}`, 'check');
    }
  }

  private markDown(server: ServerState, reason: string, source: 'check' | 'passive'): void {
    server.status = 'down';
    server.downBy = source;
    server.reason = source === 'check' ? reason : `passive: ${reason}`;
    server.lastChange = Date.now();
    server.checkSuccesses = 0;
    const left = this.servers.filter((s) => s.status === 'up' && !s.config.backup).length;
    this.log?.warn({ backend: this.config.name, server: server.config.address, backup: server.config.backup, reason: server.reason, primaries_up: left }, 'server down');
  }

  private markUp(server: ServerState, reason: string): void {
    server.status = 'up';
    server.downBy = undefined;
    server.reason = undefined;
    server.retryAfter = 0;
    server.consecutiveConnectFailures = 0;
    server.checkFailures = 0;
    server.lastChange = Date.now();
    this.log?.info({ backend: this.config.name, server: server.config.address, backup: server.config.backup, reason }, 'server up');
  }
}
