/**
 * The TCP driver of one client connection: socket work only. It feeds the client's bytes, its
 * FIN and the time to an InspectionSession (src/inspect/session.ts), keeps one timer at the
 * session's next deadline, admits the client against the per-address limits when the session
 * says the address is final, then dials what the route names and hands over (src/proxy/handoff.ts,
 * src/forward/actions.ts). It writes exactly one log line at close. What is not socket work lives
 * beside it: the session's construction (tcp-session.ts), the limits it holds (client-account.ts),
 * what the close line reports (close-notes.ts) and its timer (deadline-timer.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { BackendPool } from '../backends/pool.js';
import type { ListenerConfig, SendProxy } from '../config/types.js';
import type { InspectionSession, SessionStep } from '../inspect/session.js';
import { writeCloseLine, type TcpCloseReason } from '../observe/close-line.js';
import { unmapIPv4 } from '../protocols/ip/address.js';
import { handoffOf } from '../proxy/handoff.js';
import { splice, type SpliceGuard } from '../proxy/splice.js';
import { connectTunnel, sniForward, type ForwardClient } from '../forward/actions.js';
import { socketDialer } from '../backends/dial.js';
import { RESPONSE_LINGER_MS } from '../forward/responses.js';
import { nextConnectionId } from '../engine/connection-id.js';
import type { Runtime } from '../engine/runtime.js';
import { ClientAccount } from '../engine/client-account.js';
import { DeadlineTimer } from '../net/deadline-timer.js';
import { CloseNotes } from '../engine/close-notes.js';
import { refusalDetail, tcpSession } from '../engine/tcp-session.js';


type Phase = 'inspect' | 'connect' | 'splice' | 'closed';

export class Connection {
  readonly id = nextConnectionId();
  private phase: Phase = 'inspect';
  private readonly started = performance.now();
  private readonly peerAddress: string;
  private readonly peerPort: number;
  private readonly session: InspectionSession;
  private readonly timer = new DeadlineTimer(() => this.act(this.session.tick(performance.now())));
  private abortDial: (() => void) | undefined;
  /** The routed bytes could still begin a PROXY signature: every way to a backend (an sni_forward fallback too) guards them. */
  private signatureUndecided = false;
  private backend: Socket | undefined;
  private readonly account: ClientAccount;
  private readonly notes: CloseNotes;

  constructor(
    private readonly socket: Socket,
    private readonly listener: ListenerConfig,
    private readonly rt: Runtime,
  ) {
    this.peerAddress = unmapIPv4(socket.remoteAddress ?? '');
    this.peerPort = socket.remotePort ?? 0;
    const peer = { address: this.peerAddress, port: this.peerPort };
    const local = { address: unmapIPv4(socket.localAddress ?? ''), port: socket.localPort ?? 0 };
    this.session = tcpSession(listener, rt, this.id, peer, local, this.started);
    this.account = new ClientAccount(rt.limits, listener);
    this.notes = new CloseNotes(this.id, listener.name, peer, this.session);
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
    if (!this.account.holdBytes(chunk.length)) return this.finish('limit', 'inspect-buffer-total');
    this.act(this.session.feed(chunk, performance.now()));
  };

  private readonly onEnd = (): void => this.act(this.session.end(performance.now()));

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
        return this.timer.wakeAt(step.deadline);
      case 'header':
        // Per-address limits, once the client address is final (after any PROXY header).
        if (!this.account.admit(this.session.srcAddress)) return this.finish('limit', 'per-address limit (see the "limit reached" log line)');
        return this.act(this.session.admitted(performance.now()));
      case 'refuse':
        return this.finish(step.reason, refusalDetail(step, this.rt, this.listener, this.peerAddress));
      case 'route': {
        this.stopInspecting();
        this.phase = 'connect';
        this.notes.decideMs = step.decideMs;
        this.notes.routeName = step.routeName;
        this.signatureUndecided = step.signatureUndecided;
        const route = step.decision.route;
        const action = route?.action;
        if (action?.kind === 'connect') this.abortDial = connectTunnel(this.forwardClient(), action.connect, route!.name);
        else if (action?.kind === 'sni-forward') this.abortDial = sniForward(this.forwardClient(), action.forward, route!.name) ?? this.abortDial;
        else this.toBackend(step.decision.backend);
      }
    }
  }

  private stopInspecting(): void {
    const s = this.socket;
    this.account.doneInspecting(this.session.srcAddress);
    this.timer.stop();
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.pause();
  }

  private toBackend(name: string | undefined): void {
    this.notes.backendName = name;
    const pool = name === undefined ? undefined : this.rt.pools.get(name);
    if (pool === undefined) return this.finish('no-route', 'PORTPLEX_ERR_NO_ROUTE');
    this.abortDial = pool.connect(this.session.srcAddress, (outcome) => {
      this.abortDial = undefined;
      this.notes.failures = outcome.failures.length > 0 ? outcome.failures : undefined;
      if (outcome.socket === undefined) return this.finish('backend-unreachable', 'PORTPLEX_ERR_BACKEND_UNREACHABLE');
      this.notes.connectMs = performance.now() - this.started;
      this.notes.serverAddress = outcome.server?.address;
      this.connected(outcome.socket, outcome.server!.sendProxy, pool, this.signatureUndecided);
    });
  }

  private forwardClient(): ForwardClient<Socket> {
    const s = this.session;
    return {
      facts: s.facts,
      bytes: s.bytes as Buffer,
      resolver: this.rt.resolver,
      denials: this.rt.denials,
      dialer: socketDialer,
      waiting: () => this.phase === 'connect' && !this.socket.destroyed,
      discard: (socket) => socket.destroy(),
      target: (t) => {
        this.abortDial = undefined;
        this.notes.tunnelTarget = t;
      },
      reached: (socket, address, toTarget, toClient) => {
        this.notes.connectMs = performance.now() - this.started;
        this.notes.serverAddress = address;
        if (toClient !== undefined) this.socket.write(toClient);
        this.startSplice(socket, toTarget, undefined);
      },
      respond: (response, reason, detail) => this.respond(response, reason, detail),
      finish: (reason, detail) => this.finish(reason, detail),
      toBackend: (name) => this.toBackend(name),
    };
  }

  private connected(backend: Socket, sendProxy: SendProxy, pool: BackendPool, signatureUndecided: boolean): void {
    if (this.phase !== 'connect' || this.socket.destroyed) return void backend.destroy();
    const proxyV2 = pool.config.proxyV2;
    if (sendProxy === 'v2' && proxyV2.uniqueId) this.notes.uniqueId = randomBytes(16);
    const h = handoffOf(this.session, sendProxy, proxyV2, this.notes.uniqueId, signatureUndecided);
    if (h.ok) return this.startSplice(backend, h.head, h.guard);
    backend.destroy();
    this.finish('proxy-header-error', h.detail);
  }

  /** A final answer (forward/actions.ts): it drains, then the close is reported once the client is gone (at most 2 s). */
  private respond(response: Buffer, reason: TcpCloseReason, detail: string): void {
    const s = this.socket;
    // A client that resets after reading the answer (curl does after a 403) keeps this reason.
    this.detachEarly();
    s.on('error', () => undefined);
    s.once('close', () => this.finish(reason, detail));
    s.end(response);
    setTimeout(() => s.destroy(), RESPONSE_LINGER_MS).unref();
  }

  private detachEarly(): void {
    this.socket.removeListener('error', this.onEarlyError);
    this.socket.removeListener('close', this.onEarlyClose);
  }

  private startSplice(backend: Socket, head: Buffer | undefined, guard: SpliceGuard | undefined): void {
    this.detachEarly();
    this.phase = 'splice';
    this.backend = backend;
    // Summarised only if a close line can be written at all (warn is the highest close level).
    this.notes.settle(this.rt.log.isLevelEnabled('warn'));
    splice(this.socket, backend, head, { idleMs: this.rt.idleMs, ...(guard ? { guard } : {}) }, (reason, detail) => this.finish(reason, detail));
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
    this.account.release(this.session.srcAddress);
    const bytes = { fromClient: this.socket.bytesRead, toClient: this.socket.bytesWritten };
    this.rt.observer?.connectionClosed(this.notes.record(reason, bytes));
    writeCloseLine(this.rt.log, this.rt.summary, this.notes.line(reason, detail, bytes, performance.now() - this.started));
  }
}
