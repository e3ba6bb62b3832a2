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
import { summarizeClient } from '../observe/close-captures.js';
import { writeCloseLine, type ClientFields, type TcpCloseReason } from '../observe/close-line.js';
import { unmapIPv4 } from '../protocols/ip/address.js';
import { handoffOf } from '../proxy/handoff.js';
import { splice, type SpliceGuard } from '../proxy/splice.js';
import { connectTunnel, sniForward, type ForwardClient } from '../forward/actions.js';
import type { Runtime } from '../engine/runtime.js';

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
  private clientSummary: ClientFields | undefined;

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
  private finish(reason: TcpCloseReason, detail?: string): void {
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
    if (this.rt.log.isLevelEnabled('warn')) this.clientSummary = summarizeClient(this.session.facts);
    this.session.release();
  }

  private log(reason: TcpCloseReason, detail: string | undefined): void {
    const session = this.session;
    const inbound = session.inbound;
    writeCloseLine(this.rt.log, this.rt.summary, {
      transport: 'tcp',
      id: this.id,
      listener: this.listener.name,
      client: { address: session.srcAddress, port: session.srcPort },
      peer: { address: this.peerAddress, port: this.peerPort },
      proxyHeader: inbound === undefined ? undefined : inbound.version === 1 ? 'v1' : isLocalHeader(inbound) ? 'v2-local' : 'v2',
      route: this.routeName,
      backend: this.backendName,
      server: this.serverAddress,
      target: this.tunnelTarget,
      clientFields: () => this.clientSummary ?? summarizeClient(session.facts),
      uniqueId: this.uniqueId,
      peeked: this.peekedLength ?? session.peekedLength,
      bytes: { fromClient: this.socket.bytesRead, toClient: this.socket.bytesWritten },
      ms: { decide: this.decideMs, total: performance.now() - this.started },
      connectMs: this.connectMs,
      reason,
      detail,
      failures: this.failures,
    });
  }
}


