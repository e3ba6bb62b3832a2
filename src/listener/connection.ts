/**
 * The TCP driver of one client connection: socket work only. It feeds the client's bytes, its
 * FIN and the time to an InspectionSession (src/inspect/session.ts), keeps one timer at the
 * session's next deadline, admits the client against the per-address limits when the session
 * says the address is final, then dials what the route names and hands over (src/proxy/handoff.ts,
 * src/forward/actions.ts). It writes exactly one log line at close.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { BackendPool } from '../backends/pool.js';
import type { ListenerConfig, SendProxy } from '../config/types.js';
import { isLocalHeader } from '../inspect/inbound-proxy.js';
import { InspectionSession, type SessionStep } from '../inspect/session.js';
import { escapeClientText } from '../observe/escape.js';
import { tlsVersionName } from '../protocols/tls-client-hello.js';
import { unmapIPv4 } from '../protocols/ip-address.js';
import type { PostgresFirstMessage } from '../protocols/postgres.js';
import type { RdpConnectionRequest } from '../protocols/rdp.js';
import type { XmppStreamHeader } from '../protocols/xmpp.js';
import { handoffOf } from '../proxy/handoff.js';
import { splice, type SpliceGuard } from '../proxy/splice.js';
import { connectTunnel, sniForward, type ForwardClient } from '../forward/actions.js';
import type { Runtime } from './runtime.js';

let sequence = 0;
const ID_PREFIX = process.pid.toString(36) + '-';

type Phase = 'inspect' | 'connect' | 'splice' | 'closed';

export class Connection {
  readonly id = ID_PREFIX + (++sequence).toString(36);
  private phase: Phase = 'inspect';
  private readonly started = performance.now();
  private readonly peerAddress: string;
  private readonly peerPort: number;
  private readonly session: InspectionSession;
  private timer: NodeJS.Timeout | undefined;
  /** When `timer` fires (it may be later than the session's deadline: it is re-armed lazily). */
  private timerAt = Infinity;
  private abortDial: (() => void) | undefined;
  private decideMs: number | undefined;
  private connectMs: number | undefined;
  private routeName: string | undefined;
  private backendName: string | undefined;
  private serverAddress: string | undefined;
  private uniqueId: Buffer | undefined;
  private backend: Socket | undefined;
  private failures: readonly string[] | undefined;
  private tunnelTarget: string | undefined;
  private clientAdmitted = false;
  private countedInspecting = false;
  private heldInspectBytes = 0;
  /** Once spliced: how many bytes were peeked, and the client facts the close line reports. */
  private peekedLength: number | undefined;
  private clientSummary: ClientSummary | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly listener: ListenerConfig,
    private readonly rt: Runtime,
  ) {
    this.peerAddress = unmapIPv4(socket.remoteAddress ?? '');
    this.peerPort = socket.remotePort ?? 0;
    const debug = rt.log.isLevelEnabled('debug');
    this.session = new InspectionSession(
      {
        table: rt.table,
        inspect: rt.inspect,
        proxy: listener.proxy,
        peerTrusted: listener.proxy.accept !== 'off' && rt.trusts(listener, this.peerAddress),
        peer: { address: this.peerAddress, port: this.peerPort },
        local: { address: unmapIPv4(socket.localAddress ?? ''), port: socket.localPort ?? 0 },
        // The compact form of `portplex explain`: each route's verdict, and when it was decided.
        onDecided: debug
          ? (trace, d, afterMs, peeked) =>
              rt.log.debug({ id: this.id, trace: trace.map((t) => `${t.route}:${t.verdict}`).join(' '), route: d.route?.name ?? 'default', after_ms: Math.round(afterMs * 100) / 100, peeked }, 'route decided')
          : undefined,
      },
      this.started,
    );
  }

  start(): void {
    const s = this.socket;
    s.on('error', this.onEarlyError);
    s.on('close', this.onEarlyClose);
    if (this.peerAddress === '') {
      // The peer was gone before we could even read its address.
      s.destroy();
      return;
    }
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    this.act(this.session.start());
  }

  private readonly onData = (chunk: Buffer): void => {
    if (!this.rt.limits.holdInspectBytes(chunk.length, this.listener.name)) {
      this.finish('limit', 'inspect-buffer-total');
      return;
    }
    this.heldInspectBytes += chunk.length;
    this.act(this.session.feed(chunk, performance.now()));
  };

  private readonly onEnd = (): void => this.act(this.session.end(performance.now()));

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    this.act(this.session.tick(performance.now()));
  };

  private readonly onEarlyError = (e: NodeJS.ErrnoException): void => {
    this.finish('client-error', e.code ?? e.message);
  };

  private readonly onEarlyClose = (): void => {
    this.finish(this.phase === 'inspect' ? 'client-closed-during-inspect' : 'client-closed-during-connect');
  };

  /** Does what the session said. */
  private act(step: SessionStep): void {
    if (this.phase !== 'inspect') return;
    switch (step.kind) {
      case 'wait':
        return this.wakeAt(step.deadline);
      case 'header':
        // Per-address limits, once the client address is final (after any PROXY header).
        if (!this.rt.limits.admitClient(this.session.srcAddress, this.listener.name)) return this.finish('limit', 'per-address limit (see the "limit reached" log line)');
        this.clientAdmitted = this.countedInspecting = true;
        return this.act(this.session.admitted(performance.now()));
      case 'refuse': {
        let detail = step.detail;
        if (step.code === 'PORTPLEX_ERR_PROXY_NOT_ACCEPTED') {
          const other = this.rt.trustedElsewhere(this.listener, this.peerAddress);
          if (other !== undefined) detail += `; listener "${other}" trusts this peer: the same load balancer probably sends to both, so set proxy_protocol on "${this.listener.name}" too`;
        }
        return this.finish(step.reason, detail);
      }
      case 'route': {
        this.stopInspecting();
        this.phase = 'connect';
        this.decideMs = step.decideMs;
        this.routeName = step.routeName;
        const route = step.decision.route;
        const action = route?.action;
        if (action?.kind === 'connect') this.abortDial = connectTunnel(this.forwardClient(), action.connect, route!.name);
        else if (action?.kind === 'sni-forward') this.abortDial = sniForward(this.forwardClient(), action.forward, route!.name);
        else this.toBackend(step.decision.backend, step.signatureUndecided);
      }
    }
  }

  /** One timer, at the session's next deadline; moved only when that comes sooner (a later one is re-armed when it fires). */
  private wakeAt(deadline: number): void {
    if (deadline >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = deadline === Infinity ? undefined : setTimeout(this.onTimer, Math.max(1, Math.ceil(deadline - performance.now())));
  }

  private stopInspecting(): void {
    const s = this.socket;
    this.rt.limits.releaseInspectBytes(this.heldInspectBytes);
    this.heldInspectBytes = 0;
    if (this.countedInspecting) {
      this.countedInspecting = false;
      this.rt.limits.doneInspecting(this.session.srcAddress);
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.pause();
  }

  private toBackend(name: string | undefined, signatureUndecided = false): void {
    this.backendName = name;
    const pool = name === undefined ? undefined : this.rt.pools.get(name);
    if (pool === undefined) return this.finish('no-route', 'PORTPLEX_ERR_NO_ROUTE');
    this.abortDial = pool.connect(this.session.srcAddress, (outcome) => {
      this.abortDial = undefined;
      this.failures = outcome.failures.length > 0 ? outcome.failures : undefined;
      if (outcome.socket === undefined) return this.finish('backend-unreachable', 'PORTPLEX_ERR_BACKEND_UNREACHABLE');
      this.connectMs = performance.now() - this.started;
      this.serverAddress = outcome.server?.address;
      this.connected(outcome.socket, outcome.server!.sendProxy, pool, signatureUndecided);
    });
  }

  private forwardClient(): ForwardClient {
    const s = this.session;
    return {
      socket: this.socket,
      facts: s.facts,
      bytes: s.bytes as Buffer,
      resolver: this.rt.resolver,
      denials: this.rt.denials,
      waiting: () => this.phase === 'connect' && !this.socket.destroyed,
      target: (t) => {
        this.abortDial = undefined;
        this.tunnelTarget = t;
      },
      reached: (socket, address, head) => {
        this.connectMs = performance.now() - this.started;
        this.serverAddress = address;
        this.startSplice(socket, head, undefined);
      },
      detach: () => {
        this.socket.removeListener('close', this.onEarlyClose);
        this.socket.removeListener('error', this.onEarlyError);
      },
      finish: (reason, detail) => this.finish(reason, detail),
      toBackend: (name) => this.toBackend(name),
    };
  }

  private connected(backend: Socket, sendProxy: SendProxy, pool: BackendPool, signatureUndecided: boolean): void {
    this.backend = backend;
    if (this.phase !== 'connect' || this.socket.destroyed) return void backend.destroy();
    const proxyV2 = pool.config.proxyV2;
    if (sendProxy === 'v2' && proxyV2.uniqueId) this.uniqueId = randomBytes(16);
    const h = handoffOf(this.session, sendProxy, proxyV2, this.uniqueId, signatureUndecided);
    if (h.ok) return this.startSplice(backend, h.head, h.guard);
    backend.destroy();
    this.finish('proxy-header-error', h.detail);
  }

  private startSplice(backend: Socket, head: Buffer | undefined, guard: SpliceGuard | undefined): void {
    const s = this.socket;
    s.removeListener('error', this.onEarlyError);
    s.removeListener('close', this.onEarlyClose);
    this.phase = 'splice';
    this.backend = backend;
    this.settle();
    splice(s, backend, head, { idleMs: this.rt.idleMs, ...(guard ? { guard } : {}) }, (reason, detail) => this.finish(reason, detail));
  }

  /** Ends the connection (once) and writes its single log line. */
  private finish(reason: string, detail?: string): void {
    if (this.phase === 'closed') return;
    const wasInspecting = this.phase === 'inspect';
    this.phase = 'closed';
    if (wasInspecting) this.stopInspecting();
    this.abortDial?.();
    this.socket.destroy();
    this.backend?.destroy();
    if (this.clientAdmitted) this.rt.limits.releaseClient(this.session.srcAddress, false);
    this.rt.limits.releaseSocket(this.listener);
    this.rt.observer?.connectionClosed({
      listener: this.listener.name,
      route: this.routeName,
      backend: this.backendName,
      server: this.serverAddress,
      reason,
      bytesFromClient: this.socket.bytesRead,
      bytesToClient: this.socket.bytesWritten,
      decideMs: this.decideMs,
      peeked: this.peekedLength ?? this.session.peekedLength,
    });
    this.log(reason, detail);
  }

  /**
   * A spliced connection may live for hours: keep only what its close line needs, and let the
   * peeked bytes and the parsed hello or request go (a third of a held connection's memory).
   */
  private settle(): void {
    this.peekedLength = this.session.peekedLength;
    // Summarised only if a close line can be written at all (warn is the highest close level).
    if (this.rt.log.isLevelEnabled('warn')) this.clientSummary = this.summarizeClient();
    this.session.release();
  }

  /** The client facts of the close line (escaped: client text). */
  private summarizeClient(): ClientSummary {
    const hello = this.session.facts.clientHello();
    const http = this.session.facts.httpHead();
    return {
      sni: hello?.sni,
      alpn: hello && hello.alpn.length > 0 ? hello.alpn.map((a) => escapeClientText(a)) : undefined,
      tls_version: hello ? tlsVersionName(hello.version) : undefined,
      http_host: escapeClientText(http?.host),
      ...this.captures(),
    };
  }

  /** What the first message named, for protocols whose routes can match on it (escaped: client text). */
  private captures(): Record<string, string | undefined> {
    const xmpp = this.session.facts.known<XmppStreamHeader>('xmpp');
    const rdp = this.session.facts.known<RdpConnectionRequest>('rdp');
    const pg = this.session.facts.known<PostgresFirstMessage>('postgres');
    if (xmpp === undefined && rdp === undefined && pg === undefined) return {};
    return {
      xmpp_to: escapeClientText(xmpp?.to),
      rdp_cookie: escapeClientText(rdp?.cookie),
      pg_kind: pg?.kind,
      pg_user: escapeClientText(pg?.user),
      pg_database: escapeClientText(pg?.database),
    };
  }

  private log(reason: string, detail: string | undefined): void {
    const log = this.rt.log;
    // Limit refusals are reported by the limits (once per kind and minute), not per connection.
    // A peer gone before its address could be read (reset right after the handshake) is noise.
    const level = reason === 'limit' || this.peerAddress === '' ? 'debug' : WARN_REASONS.has(reason) ? 'warn' : 'info';
    if (!log.isLevelEnabled(level)) return;
    // Refusals are what junk traffic produces: past a burst per interval, counted into one summary
    // line per listener and reason. Every other close keeps its own line.
    if (level === 'warn' && !this.rt.summary.admit(CLOSE_LINE, this.listener.name, reason)) return;
    const client = this.clientSummary ?? this.summarizeClient();
    const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 100) / 100);
    const inbound = this.session.inbound;
    log[level](
      {
        id: this.id,
        listener: this.listener.name,
        client: { address: this.session.srcAddress, port: this.session.srcPort },
        peer: inbound !== undefined || reason === 'proxy-refused' ? { address: this.peerAddress, port: this.peerPort } : undefined,
        proxy_header: inbound === undefined ? undefined : inbound.version === 1 ? 'v1' : isLocalHeader(inbound) ? 'v2-local' : 'v2',
        route: this.routeName,
        backend: this.backendName,
        server: this.serverAddress,
        target: this.tunnelTarget === undefined ? undefined : escapeClientText(this.tunnelTarget),
        ...client,
        unique_id: this.uniqueId?.toString('hex'),
        peeked: this.peekedLength ?? this.session.peekedLength,
        bytes: { from_client: this.socket.bytesRead, to_client: this.socket.bytesWritten },
        ms: { decide: ms(this.decideMs), connect: ms(this.connectMs), total: ms(performance.now() - this.started) },
        reason,
        detail,
        failures: this.failures,
      },
      CLOSE_LINE,
    );
  }
}


type ClientSummary = Readonly<Record<string, unknown>>;
const CLOSE_LINE = 'connection closed';
/** Close reasons logged at warn: refusals and failures, summarised under a flood. */
const WARN_REASONS = new Set(['backend-unreachable', 'no-route', 'proxy-header-error', 'proxy-refused', 'tunnel-denied', 'tunnel-failed', 'no-sni']);
