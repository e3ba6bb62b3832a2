/**
 * One client connection's life: an inbound PROXY header when the listener takes one, then
 * inspect (accumulate bytes until the routes can decide), route, dial the backend, hand over to
 * the splice, and write exactly one log line at close.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { BackendPool } from '../backends/pool.js';
import type { ConnectActionConfig, ListenerConfig, SendProxy, SniForwardConfig } from '../config/types.js';
import type { ErrorCode } from '../errors.js';
import { Facts } from '../inspect/facts.js';
import { headerEndpoints, inboundStep, isLocalHeader } from '../inspect/inbound-proxy.js';
import { PeekBuffer } from '../inspect/peek-buffer.js';
import type { MatchContext } from '../protocols/match-context.js';
import { summarizeClient } from '../observe/close-captures.js';
import { writeCloseLine, type ClientFields, type TcpCloseReason } from '../observe/close-line.js';
import { proxySignature, type InboundProxyHeader } from '../protocols/proxy/decode.js';
import { unmapIPv4 } from '../protocols/ip/address.js';
import { outgoingHeader } from '../proxy/outgoing-header.js';
import { splice, type GuardVerdict, type SpliceOptions } from '../proxy/splice.js';
import { openConnectTunnel, openSniForward, type TunnelOutcome } from '../forward/tunnel.js';
import { CONNECTION_ESTABLISHED, errorResponse } from '../forward/responses.js';
import type { Decision, TraceStep } from '../router/route-table.js';
import type { Runtime } from '../engine/runtime.js';

let sequence = 0;
const ID_PREFIX = process.pid.toString(36) + '-';


type Phase = 'header' | 'inspect' | 'connect' | 'splice' | 'closed';

export class Connection implements MatchContext {
  readonly id = ID_PREFIX + (++sequence).toString(36);
  /** The client: the socket peer, or the address a trusted PROXY header carried. */
  srcAddress: string;
  srcPort: number;
  /** Where the client connected to: the socket's local end, or the header's destination. */
  localAddress: string;
  localPort: number;
  readonly facts: Facts;
  final = false;
  /** Milliseconds since inspection started (after any inbound header). */
  elapsedMs = 0;

  private phase: Phase = 'header';
  private peek = new PeekBuffer();
  private readonly started = performance.now();
  private inspectStarted = this.started;
  private readonly peerAddress: string;
  private readonly peerPort: number;
  private inbound: InboundProxyHeader | undefined;
  private eof = false;
  private deadlinePassed = false;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;
  private catchUpTimer: NodeJS.Timeout | undefined;
  private catchUps = 0;
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
    this.srcAddress = this.peerAddress = unmapIPv4(socket.remoteAddress ?? '');
    this.srcPort = this.peerPort = socket.remotePort ?? 0;
    this.localAddress = unmapIPv4(socket.localAddress ?? '');
    this.localPort = socket.localPort ?? 0;
    this.facts = new Facts(rt.inspect.maxBytes);
  }

  get bytes(): Uint8Array {
    return this.peek.bytes;
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
    if (this.listener.proxy.accept === 'off') {
      if (!this.admitClient()) return;
      this.startInspecting();
    } else {
      this.deadlineTimer = setTimeout(this.onDeadline, this.listener.proxy.timeoutMs);
      // A client behind a load balancer may be silent too: the silence timers run from the accept.
      this.armSilenceTimer();
    }
  }

  private startInspecting(): void {
    this.phase = 'inspect';
    this.inspectStarted = performance.now();
    this.deadlinePassed = false;
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(this.onDeadline, this.rt.inspect.timeoutMs);
    clearTimeout(this.silenceTimer);
    this.silenceTimer = undefined;
    this.elapsedMs = 0;
    this.armSilenceTimer();
  }

  /** Per-address limits, once the client address is final (after any PROXY header). */
  private admitClient(): boolean {
    if (!this.rt.limits.admitClient(this.srcAddress, this.listener.name)) {
      this.finish('limit', 'per-address limit (see the "limit reached" log line)');
      return false;
    }
    this.clientAdmitted = true;
    this.countedInspecting = true;
    return true;
  }

  private readonly onData = (chunk: Buffer): void => {
    if (!this.rt.limits.holdInspectBytes(chunk.length, this.listener.name)) {
      this.finish('limit', 'inspect-buffer-total');
      return;
    }
    this.heldInspectBytes += chunk.length;
    this.peek.append(chunk);
    if (this.silenceTimer !== undefined) {
      clearTimeout(this.silenceTimer);
      this.silenceTimer = undefined;
    }
    this.step();
  };

  private readonly onEnd = (): void => {
    this.eof = true;
    this.step();
  };

  private readonly onDeadline = (): void => {
    this.deadlineTimer = undefined;
    this.deadlinePassed = true;
    this.step();
  };

  /** Wakes the router at the next `silent:` duration, as long as the client has said nothing. */
  private armSilenceTimer(): void {
    if (this.peek.length > 0) return;
    // Compare with the elapsed time the router last saw, not a fresh clock reading: a timer may
    // fire a fraction of a millisecond early, and the duration it was armed for must be retried.
    const next = this.rt.table.silentMs.find((ms) => ms > this.elapsedMs);
    if (next === undefined || next >= this.rt.inspect.timeoutMs) return;
    const now = performance.now() - this.inspectStarted;
    this.silenceTimer = setTimeout(this.onSilence, Math.max(1, Math.ceil(next - now)));
  }

  private readonly onSilence = (): void => {
    this.silenceTimer = undefined;
    this.step();
    if (this.phase === 'inspect' || this.phase === 'header') this.armSilenceTimer();
  };

  private readonly onEarlyError = (e: NodeJS.ErrnoException): void => {
    this.finish('client-error', e.code ?? e.message);
  };

  private readonly onEarlyClose = (): void => {
    this.finish(this.phase === 'inspect' || this.phase === 'header' ? 'client-closed-during-inspect' : 'client-closed-during-connect');
  };

  private step(): void {
    if (this.phase === 'header') this.readInboundHeader();
    if (this.phase === 'inspect') this.evaluate();
  }

  /** The inbound PROXY header stage (listeners with proxy_protocol.accept on). */
  private readInboundHeader(): void {
    this.elapsedMs = performance.now() - this.inspectStarted;
    const silent = this.peek.length === 0 && this.elapsedMs >= this.rt.table.firstSilentMs;
    const cfg = this.listener.proxy;
    const step = inboundStep(this.peek.bytes, cfg, this.rt.trusts(this.listener, this.peerAddress), this.eof || this.deadlinePassed || silent);
    if (step.kind === 'wait') return;
    if (step.kind === 'refuse') {
      this.refuse(step.code, step.reason);
      return;
    }
    if (step.kind === 'header') {
      this.inbound = step.header;
      const ep = headerEndpoints(step.header);
      if (ep) {
        this.srcAddress = unmapIPv4(ep.src.address);
        this.srcPort = ep.src.port;
        this.localAddress = unmapIPv4(ep.dst.address);
        this.localPort = ep.dst.port;
      }
      // Only what follows the header is client data to inspect and replay.
      const rest = this.peek.bytes.subarray(step.length);
      this.peek = new PeekBuffer();
      if (rest.length > 0) this.peek.append(Buffer.from(rest));
    }
    if (!this.admitClient()) return;
    // A silent client stays silent: its silence counts from the accept, not from here.
    const keepClock = silent;
    this.startInspecting();
    if (keepClock) this.inspectStarted = this.started;
  }

  private evaluate(): void {
    const n = this.peek.length;
    this.elapsedMs = performance.now() - this.inspectStarted;
    this.final = this.eof || this.deadlinePassed || n >= this.rt.inspect.maxBytes || (n === 0 && this.elapsedMs >= this.rt.table.firstSilentMs);
    this.facts.update(this.peek.bytes, this.final);
    const d = this.rt.table.decide(this);
    if (d.kind !== 'route') {
      this.catchUpLater(this.facts.deferred);
      return;
    }
    if (this.rt.log.isLevelEnabled('debug')) {
      // The compact form of `portplex explain`: each route's verdict, and when it was decided.
      const trace: TraceStep[] = [];
      this.rt.table.decide(this, trace);
      this.rt.log.debug({ id: this.id, trace: trace.map((t) => `${t.route}:${t.verdict}`).join(' '), route: d.route?.name ?? 'default', after_ms: Math.round(this.elapsedMs * 100) / 100, peeked: n }, 'route decided');
    }
    this.route(d);
  }

  /**
   * A condition put off a pass over the bytes until more of them come (src/matchers/over-text.ts):
   * ask it again once the client has paused, 10 ms * 2^k after its last byte for the k-th time (a
   * client that keeps pausing cannot make it re-run more than log2(timeout / 10 ms) times).
   */
  private catchUpLater(wanted: boolean): void {
    if (!wanted) {
      clearTimeout(this.catchUpTimer);
      this.catchUpTimer = undefined;
    } else if (this.catchUpTimer !== undefined) {
      this.catchUpTimer.refresh();
    } else {
      this.catchUpTimer = setTimeout(this.onCatchUp, CATCH_UP_MS * 2 ** Math.min(this.catchUps, 20));
    }
  }

  private readonly onCatchUp = (): void => {
    this.catchUpTimer = undefined;
    this.catchUps++;
    this.facts.catchingUp = true;
    this.step();
    this.facts.catchingUp = false;
  };

  private refuse(code: ErrorCode, reason: string): void {
    let detail = `${code}: ${reason}`;
    if (code === 'PORTPLEX_ERR_PROXY_NOT_ACCEPTED') {
      const other = this.rt.trustedElsewhere(this.listener, this.peerAddress);
      if (other !== undefined) detail += `; listener "${other}" trusts this peer: the same load balancer probably sends to both, so set proxy_protocol on "${this.listener.name}" too`;
    }
    this.finish('proxy-refused', detail);
  }

  private stopInspecting(): void {
    const s = this.socket;
    this.rt.limits.releaseInspectBytes(this.heldInspectBytes);
    this.heldInspectBytes = 0;
    if (this.countedInspecting) {
      this.countedInspecting = false;
      this.rt.limits.doneInspecting(this.srcAddress);
    }
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.silenceTimer);
    clearTimeout(this.catchUpTimer);
    this.deadlineTimer = this.silenceTimer = this.catchUpTimer = undefined;
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.pause();
  }

  private route(d: Extract<Decision, { kind: 'route' }>): void {
    // Client data that starts with a PROXY signature is a header nobody may send here: on a
    // listener without accept, or a second header behind the load balancer's (a forged address).
    const sig = proxySignature(this.peek.bytes);
    if (sig === 'v1' || sig === 'v2') {
      this.stopInspecting();
      if (this.inbound !== undefined) this.refuse('PORTPLEX_ERR_PROXY_IN_DATA', `a second PROXY ${sig} header after the load balancer's`);
      else this.refuse('PORTPLEX_ERR_PROXY_NOT_ACCEPTED', `a PROXY ${sig} header arrived on a listener with proxy_protocol.accept off`);
      return;
    }
    this.stopInspecting();
    this.phase = 'connect';
    this.decideMs = performance.now() - this.started;
    this.routeName = d.route?.name ?? (d.backend !== undefined ? 'default' : undefined);
    const action = d.route?.action;
    if (action?.kind === 'connect') this.connectTunnel(action.connect, d.route!.name);
    else if (action?.kind === 'sni-forward') this.sniForward(action.forward, d.route!.name);
    else this.toBackend(d.backend);
  }

  private toBackend(name: string | undefined): void {
    this.backendName = name;
    const pool = name === undefined ? undefined : this.rt.pools.get(name);
    if (pool === undefined) {
      this.finish('no-route', 'PORTPLEX_ERR_NO_ROUTE');
      return;
    }
    this.abortDial = pool.connect(this.srcAddress, (outcome) => {
      this.abortDial = undefined;
      this.failures = outcome.failures.length > 0 ? outcome.failures : undefined;
      if (outcome.socket === undefined) {
        this.finish('backend-unreachable', 'PORTPLEX_ERR_BACKEND_UNREACHABLE');
        return;
      }
      this.connectMs = performance.now() - this.started;
      this.serverAddress = outcome.server?.address;
      this.connected(outcome.socket, outcome.server!.sendProxy, pool);
    });
  }

  /** `connect:` routes: answer the CONNECT request ourselves, then tunnel. */
  private connectTunnel(cfg: ConnectActionConfig, route: string): void {
    const parsed = this.facts.http();
    if (parsed.kind !== 'ok') {
      const why = parsed.kind === 'invalid' ? parsed.reason : 'incomplete request head';
      this.deny(route, 'bad-request');
      this.respondAndClose(errorResponse(400, `route "${route}" expects an HTTP CONNECT request: ${why}`), 'tunnel-denied', `400 bad-request: ${why}`);
      return;
    }
    const head = parsed.value;
    const bytes = this.peek.bytes;
    const headText = Buffer.from(bytes.buffer, bytes.byteOffset, head.headerBytes).toString('latin1');
    this.abortDial = openConnectTunnel(
      { method: head.method, target: head.target, hostHeader: head.hostHeader, head: headText },
      cfg,
      route,
      this.rt.resolver,
      this.onTunnel(route, (o) => this.respondAndClose(errorResponse(o.status, o.message, o.headers), tunnelReason(o.status), `${o.status} ${o.denial}`), (socket) => {
        // The 200 goes out before any client byte reaches the target; bytes the client pipelined
        // after its request head follow it, exactly once.
        this.socket.write(CONNECTION_ESTABLISHED);
        this.startSplice(socket, this.peek.bytes.subarray(head.headerBytes), undefined);
      }),
    );
  }

  /** `sni_forward:` routes: connect to the ClientHello's server name and replay the hello. */
  private sniForward(cfg: SniForwardConfig, route: string): void {
    const hello = this.facts.tls();
    const sni = hello.kind === 'ok' ? hello.value.sni : undefined;
    if (sni === undefined) {
      if (cfg.fallback !== undefined) this.toBackend(cfg.fallback);
      else this.finish('no-sni', 'the ClientHello has no (valid) SNI to forward to, and the route has no fallback');
      return;
    }
    this.abortDial = openSniForward(
      sni,
      cfg,
      route,
      this.rt.resolver,
      this.onTunnel(route, (o) => this.finish(tunnelReason(o.status), `${o.status} ${o.denial}: ${o.message}`), (socket) => this.startSplice(socket, this.peek.bytes, undefined)),
    );
  }

  /** The common end of both forward actions: count and report a denial, or take the connected target. */
  private onTunnel(route: string, denied: (o: Extract<TunnelOutcome, { ok: false }>) => void, connected: (socket: Socket) => void): (o: TunnelOutcome) => void {
    return (o) => {
      this.abortDial = undefined;
      this.tunnelTarget = o.target;
      if (!o.ok) {
        this.deny(route, o.denial);
        denied(o);
        return;
      }
      if (this.phase !== 'connect' || this.socket.destroyed) {
        o.socket.destroy();
        return;
      }
      this.connectMs = performance.now() - this.started;
      this.serverAddress = o.address;
      connected(o.socket);
    };
  }

  private deny(route: string, denial: string): void {
    const key = `${route}/${denial}`;
    this.rt.denials.set(key, (this.rt.denials.get(key) ?? 0) + 1);
  }

  /** Sends a final answer, lets it drain, and logs once the client is gone (at most 2 s later). */
  private respondAndClose(response: Buffer, reason: TcpCloseReason, detail: string): void {
    const s = this.socket;
    s.removeListener('close', this.onEarlyClose);
    // A client that resets after reading the answer (curl does after a 403) keeps this reason.
    s.removeListener('error', this.onEarlyError);
    s.on('error', () => undefined);
    s.once('close', () => this.finish(reason, detail));
    s.end(response);
    setTimeout(() => s.destroy(), 2000).unref();
  }

  private connected(backend: Socket, sendProxy: SendProxy, pool: BackendPool): void {
    this.backend = backend;
    if (this.phase !== 'connect' || this.socket.destroyed) {
      backend.destroy();
      return;
    }
    const { proxyV2 } = pool.config;
    if (sendProxy === 'v2' && proxyV2.uniqueId) this.uniqueId = randomBytes(16);
    const hello = this.facts.clientHello();
    const inbound = this.inbound;
    const header = outgoingHeader(
      sendProxy,
      { srcAddress: this.srcAddress, srcPort: this.srcPort, dstAddress: this.localAddress, dstPort: this.localPort },
      {
        sni: hello?.sni,
        alpn: hello?.alpn[0],
        local: inbound !== undefined && isLocalHeader(inbound),
        uniqueId: this.uniqueId,
        inboundTlvs: inbound?.version === 2 ? inbound.tlvs : [],
      },
      proxyV2,
    );
    if (!header.ok) {
      backend.destroy();
      this.finish('proxy-header-error', `PORTPLEX_ERR_PROXY_HEADER_TOO_LARGE: ${header.message}`);
      return;
    }
    // Bytes that could still be the start of a PROXY signature are held back by the guard (below)
    // until the next bytes settle it; everything else goes out with the header in one write.
    const replay = this.peek.bytes;
    const undecided = !this.eof && proxySignature(replay) === 'maybe';
    const sent = undecided ? EMPTY : replay;
    const head = header.header === undefined ? sent : sent.length === 0 ? header.header : Buffer.concat([header.header, sent]);
    // Routed before the first bytes could rule out a PROXY signature (a route that needs no
    // bytes): those bytes are still checked before any of them reaches the backend.
    this.startSplice(backend, head, undecided ? this.signatureGuard(Buffer.from(replay)) : undefined);
  }

  private startSplice(backend: Socket, head: Buffer | undefined, guard: SpliceOptions['guard']): void {
    const s = this.socket;
    s.removeListener('error', this.onEarlyError);
    s.removeListener('close', this.onEarlyClose);
    this.phase = 'splice';
    this.backend = backend;
    this.settle();
    splice(s, backend, head, { idleMs: this.rt.idleMs, ...(guard ? { guard } : {}) }, (reason, detail) => this.finish(reason, detail));
  }

  private signatureGuard(held: Buffer): NonNullable<SpliceOptions['guard']> {
    return {
      held,
      check: (b) => {
        const sig = proxySignature(b);
        return sig === 'maybe' ? 'wait' : sig === 'none' ? 'ok' : 'refuse';
      },
      detail: (b) => {
        const sig = proxySignature(b);
        return this.inbound !== undefined
          ? `PORTPLEX_ERR_PROXY_IN_DATA: a second PROXY ${sig} header after the load balancer's`
          : `PORTPLEX_ERR_PROXY_NOT_ACCEPTED: a PROXY ${sig} header arrived on a listener with proxy_protocol.accept off`;
      },
    };
  }

  /** Ends the connection (once) and writes its single log line. */
  private finish(reason: TcpCloseReason, detail?: string): void {
    if (this.phase === 'closed') return;
    const wasInspecting = this.phase === 'inspect' || this.phase === 'header';
    this.phase = 'closed';
    if (wasInspecting) this.stopInspecting();
    this.abortDial?.();
    this.socket.destroy();
    this.backend?.destroy();
    if (this.clientAdmitted) this.rt.limits.releaseClient(this.srcAddress, false);
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
      peeked: this.peekedLength ?? this.peek.length,
    });
    this.log(reason, detail);
  }

  /**
   * A spliced connection may live for hours: keep only what its close line needs, and let the
   * peeked bytes and the parsed hello or request go (a third of a held connection's memory).
   */
  private settle(): void {
    this.peekedLength = this.peek.length;
    // Summarised only if a close line can be written at all (warn is the highest close level).
    if (this.rt.log.isLevelEnabled('warn')) this.clientSummary = summarizeClient(this.facts);
    this.peek = new PeekBuffer();
    this.facts.clear();
  }

  private log(reason: TcpCloseReason, detail: string | undefined): void {
    const inbound = this.inbound;
    writeCloseLine(this.rt.log, this.rt.summary, {
      transport: 'tcp',
      id: this.id,
      listener: this.listener.name,
      client: { address: this.srcAddress, port: this.srcPort },
      peer: { address: this.peerAddress, port: this.peerPort },
      proxyHeader: inbound === undefined ? undefined : inbound.version === 1 ? 'v1' : isLocalHeader(inbound) ? 'v2-local' : 'v2',
      route: this.routeName,
      backend: this.backendName,
      server: this.serverAddress,
      target: this.tunnelTarget,
      clientFields: () => this.clientSummary ?? summarizeClient(this.facts),
      uniqueId: this.uniqueId,
      peeked: this.peekedLength ?? this.peek.length,
      bytes: { fromClient: this.socket.bytesRead, toClient: this.socket.bytesWritten },
      ms: { decide: this.decideMs, total: performance.now() - this.started },
      connectMs: this.connectMs,
      reason,
      detail,
      failures: this.failures,
    });
  }
}

const EMPTY = Buffer.alloc(0);
/** The first catch-up after a client pauses (see catchUpLater). */
const CATCH_UP_MS = 10;

const tunnelReason = (status: number): TcpCloseReason => (status >= 500 ? 'tunnel-failed' : 'tunnel-denied');
