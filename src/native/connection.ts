/**
 * The native data plane's driver of one client connection: the same decisions as the node:net
 * driver (src/listener/connection.ts), taken by the same session, limits and close notes, while
 * the addon owns the sockets. The addon calls in when client bytes or the client's FIN arrive
 * (until the route is decided, and again while the PROXY-signature guard holds the relay), when a
 * backend connect ends, and once when it closed the connection itself; everything else is a call out.
 */
import { randomBytes } from 'node:crypto';
import type { BackendPool } from '../backends/pool.js';
import type { Dialer } from '../backends/dial.js';
import type { ListenerConfig, SendProxy } from '../config/types.js';
import type { InspectionSession, SessionStep } from '../inspect/session.js';
import { writeCloseLine, type Endpoint, type TcpCloseReason } from '../observe/close-line.js';
import { unmapIPv4 } from '../protocols/ip/address.js';
import { handoffOf } from '../proxy/handoff.js';
import type { SpliceGuard } from '../proxy/splice.js';
import { connectTunnel, sniForward, type ForwardClient } from '../forward/actions.js';
import { RESPONSE_LINGER_MS } from '../forward/responses.js';
import type { Runtime } from '../engine/runtime.js';
import { ClientAccount } from '../engine/client-account.js';
import { CloseNotes, type ByteCounts } from '../engine/close-notes.js';
import { nextConnectionId } from '../engine/connection-id.js';
import { refusalDetail, tcpSession } from '../engine/tcp-session.js';
import { DeadlineTimer } from '../net/deadline-timer.js';
import { NativeClose } from './addon.js';
import { nativeDialer, type ConnectSlot, type NativeBackend } from './dialer.js';
import type { NativeConnectionEvents, NativePlane } from './plane.js';

type Phase = 'inspect' | 'connect' | 'relay' | 'respond' | 'closed';

export class NativeConnection implements NativeConnectionEvents {
  readonly id = nextConnectionId();
  private phase: Phase = 'inspect';
  private readonly started = performance.now();
  /** Until the relay starts: the session, its deadline timer and the dialer (then let go: a held connection keeps less). */
  private live: InspectionSession | undefined;
  private timer: DeadlineTimer | undefined = new DeadlineTimer(() => this.act(this.session.tick(performance.now())));
  /** The client's address (after any trusted PROXY header), for the per-address accounts at close. */
  private srcAddress = '';
  private readonly peerAddress: string;
  private abortDial: (() => void) | undefined;
  private signatureUndecided = false;
  private readonly account: ClientAccount;
  private readonly notes: CloseNotes;
  private readonly slot: ConnectSlot = { onConnected: undefined, backendClosed: [] };
  private dialer: Dialer<NativeBackend> | undefined;
  /** While the relay holds the client's bytes for the PROXY-signature guard: the guard and the bytes. */
  private guard: SpliceGuard | undefined;
  private held: Buffer = EMPTY;
  /** What a final answer's close reports (respond()). */
  private answered: { readonly reason: TcpCloseReason; readonly detail: string } | undefined;

  constructor(
    private readonly plane: NativePlane,
    private readonly conn: number,
    private readonly listener: ListenerConfig,
    private readonly rt: Runtime,
    peer: Endpoint,
    local: Endpoint,
    private readonly gone: (c: NativeConnection) => void,
  ) {
    const client = { address: unmapIPv4(peer.address), port: peer.port };
    this.peerAddress = client.address;
    this.live = tcpSession(listener, rt, this.id, client, { address: unmapIPv4(local.address), port: local.port }, this.started);
    this.account = new ClientAccount(rt.limits, listener);
    this.notes = new CloseNotes(this.id, listener.name, client, this.live);
    this.dialer = nativeDialer(plane, conn, this.slot);
    plane.attach(conn, this);
  }

  /** The session; only while inspecting and connecting (startRelay lets it go). */
  private get session(): InspectionSession {
    if (this.live === undefined) throw new Error('portplex: the inspection session was used after the relay started');
    return this.live;
  }

  start(): void {
    // The peer was gone before its address could be read.
    if (this.peerAddress === '') return this.finish('client-error', 'ENOTCONN');
    this.act(this.session.start());
  }

  data(bytes: Buffer): void {
    if (this.phase === 'inspect') {
      if (!this.account.holdBytes(bytes.length)) return this.finish('limit', 'inspect-buffer-total');
      return this.act(this.session.feed(bytes, performance.now()));
    }
    const guard = this.guard;
    if (this.phase !== 'relay' || guard === undefined) return;
    this.held = this.held.length === 0 ? bytes : Buffer.concat([this.held, bytes]);
    const v = guard.check(this.held);
    if (v === 'ok') this.release();
    else if (v !== 'wait') this.finish('proxy-refused', v.refuse);
  }

  end(): void {
    if (this.phase === 'inspect') return this.act(this.session.end(performance.now()));
    // Nothing more can arrive to complete a signature.
    if (this.phase === 'relay' && this.guard !== undefined) this.release();
  }

  connected(errno: number): void {
    this.slot.onConnected?.(errno);
  }

  closed(reason: NativeClose, errno: number, bytes: ByteCounts): void {
    const name = errno > 0 ? this.plane.errnoName(errno) : '';
    switch (reason) {
      case NativeClose.Done:
        return this.finish('done', undefined, bytes);
      case NativeClose.ClientError:
        return this.finish('client-error', name, bytes);
      case NativeClose.BackendError:
        return this.finish('backend-error', name, bytes);
      case NativeClose.IdleTimeout:
        return this.finish('idle-timeout', undefined, bytes);
      case NativeClose.Responded:
        return this.finish(this.answered?.reason ?? 'done', this.answered?.detail, bytes);
      case NativeClose.ClientResetAfterFin:
        return this.finish('done', `client reset after its FIN (${name})`, bytes);
      case NativeClose.BackendResetAfterFin:
        return this.finish('done', `server reset after its FIN (${name})`, bytes);
    }
  }

  /** Ends it now, in whatever phase (the drain's grace is over), as a closed client socket would. */
  cut(): void {
    this.finish(this.phase === 'inspect' ? 'client-closed-during-inspect' : this.phase === 'connect' ? 'client-closed-during-connect' : 'done');
  }

  /** Does what the session said. */
  private act(step: SessionStep): void {
    if (this.phase !== 'inspect') return;
    switch (step.kind) {
      case 'wait':
        return this.timer?.wakeAt(step.deadline);
      case 'header':
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
    this.account.doneInspecting(this.session.srcAddress);
    this.timer?.stop();
    this.plane.addon.pauseClient(this.conn);
  }

  private toBackend(name: string | undefined): void {
    this.notes.backendName = name;
    const pool = name === undefined ? undefined : this.rt.pools.get(name);
    if (pool === undefined) return this.finish('no-route', 'PORTPLEX_ERR_NO_ROUTE');
    this.abortDial = pool.connect(
      this.session.srcAddress,
      (outcome) => {
        this.abortDial = undefined;
        this.notes.failures = outcome.failures.length > 0 ? outcome.failures : undefined;
        if (outcome.socket === undefined) return this.finish('backend-unreachable', 'PORTPLEX_ERR_BACKEND_UNREACHABLE');
        this.notes.connectMs = performance.now() - this.started;
        this.notes.serverAddress = outcome.server?.address;
        this.connectedTo(outcome.server!.sendProxy, pool);
      },
      this.dialer!,
    );
  }

  private forwardClient(): ForwardClient<NativeBackend> {
    const s = this.session;
    return {
      facts: s.facts,
      bytes: s.bytes as Buffer,
      resolver: this.rt.resolver,
      denials: this.rt.denials,
      dialer: this.dialer!,
      waiting: () => this.phase === 'connect',
      discard: () => this.plane.addon.abortConnect(this.conn),
      target: (t) => {
        this.abortDial = undefined;
        this.notes.tunnelTarget = t;
      },
      reached: (_link, address, toTarget, toClient) => {
        this.notes.connectMs = performance.now() - this.started;
        this.notes.serverAddress = address;
        this.startRelay(toTarget, toClient, undefined);
      },
      respond: (response, reason, detail) => {
        this.phase = 'respond';
        this.answered = { reason, detail };
        this.plane.addon.respond(this.conn, response, RESPONSE_LINGER_MS);
      },
      finish: (reason, detail) => this.finish(reason, detail),
      toBackend: (name) => this.toBackend(name),
    };
  }

  private connectedTo(sendProxy: SendProxy, pool: BackendPool): void {
    if (this.phase !== 'connect') return this.plane.addon.abortConnect(this.conn);
    const proxyV2 = pool.config.proxyV2;
    if (sendProxy === 'v2' && proxyV2.uniqueId) this.notes.uniqueId = randomBytes(16);
    const h = handoffOf(this.session, sendProxy, proxyV2, this.notes.uniqueId, this.signatureUndecided);
    if (h.ok) return this.startRelay(h.head, undefined, h.guard);
    this.finish('proxy-header-error', h.detail);
  }

  private startRelay(toBackend: Buffer | undefined, toClient: Buffer | undefined, guard: SpliceGuard | undefined): void {
    this.phase = 'relay';
    // Summarised only if a close line can be written at all (warn is the highest close level).
    this.notes.settle(this.rt.log.isLevelEnabled('warn'));
    this.srcAddress = this.session.srcAddress;
    this.live = undefined;
    this.timer = undefined;
    this.dialer = undefined;
    this.guard = guard;
    this.held = guard?.held ?? EMPTY;
    this.plane.addon.relay(this.conn, toBackend !== undefined && toBackend.length > 0 ? toBackend : null, toClient ?? null, this.rt.idleMs, guard !== undefined);
  }

  /** The guard let the client's bytes through. */
  private release(): void {
    const held = this.held;
    this.guard = undefined;
    this.held = EMPTY;
    this.plane.addon.release(this.conn, held.length > 0 ? held : null);
  }

  /** Ends the connection (once) and writes its single log line; `reported` when the addon closed it. */
  private finish(reason: TcpCloseReason, detail?: string, reported?: ByteCounts): void {
    if (this.phase === 'closed') return;
    const wasInspecting = this.phase === 'inspect';
    this.phase = 'closed';
    if (wasInspecting) this.stopInspecting();
    this.abortDial?.();
    const bytes = reported ?? this.plane.close(this.conn);
    for (const fn of this.slot.backendClosed.splice(0)) fn();
    this.account.release(this.live?.srcAddress ?? this.srcAddress);
    this.gone(this);
    this.rt.observer?.connectionClosed(this.notes.record(reason, bytes));
    writeCloseLine(this.rt.log, this.rt.summary, this.notes.line(reason, detail, bytes, performance.now() - this.started));
  }
}

const EMPTY = Buffer.alloc(0);
