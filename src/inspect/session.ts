/**
 * One connection's inspection, with no socket and no clock of its own: the driver (a TCP
 * connection, a UDP flow, a test) feeds it the client's bytes, the end of data and the time, and
 * does what each answer says. It owns the inbound PROXY header stage, the inspect, header and silence
 * deadlines, the bytes.regex catch-up backoff, the peeked bytes and their facts, and the one
 * route decision (with its trace). Per-address limits and inspect-byte accounting are process
 * state: the driver keeps them, and the session says when the client address is final (`header`).
 *
 * A UDP flow drives it in datagram mode (DatagramSessionOptions): each `feed` is one datagram, the
 * parsers see the list (Facts.updateDatagrams) and the `bytes` conditions the first one; the
 * answer is final once `udp.inspect_datagrams` datagrams or `inspect.max_bytes` bytes are held, or
 * at the inspect deadline. A flow starts with its first datagram: there is no PROXY header stage,
 * no silence and no bytes.regex catch-up, and nothing to refuse.
 *
 * Times are milliseconds on the driver's clock (performance.now() in production, a counter in
 * tests); every answer is a pure function of the bytes and the times passed in.
 */
import type { InboundProxyConfig } from '../config/types.js';
import type { ErrorCode } from '../errors.js';
import type { MatchContext } from '../protocols/match-context.js';
import type { InboundProxyHeader } from '../protocols/proxy/decode.js';
import { proxySignature } from '../protocols/proxy/decode.js';
import { unmapIPv4 } from '../protocols/ip/address.js';
import type { Decision, RouteTable, TraceStep } from '../router/route-table.js';
import { Facts } from './facts.js';
import { headerEndpoints, inboundStep } from './inbound-proxy.js';
import { PeekBuffer } from './peek-buffer.js';

export type RouteDecision = Extract<Decision, { kind: 'route' }>;

export type SessionStep =
  /** Call `tick` at `deadline` (or feed/end before then). */
  | { readonly kind: 'wait'; readonly deadline: number }
  /**
   * The client address is final (a trusted header was honoured, or there was none): the driver
   * runs its per-address admission, then calls `admitted`. `header` is undefined when none came.
   */
  | { readonly kind: 'header'; readonly header: InboundProxyHeader | undefined }
  | { readonly kind: 'refuse'; readonly reason: 'proxy-refused'; readonly code: ErrorCode; readonly detail: string }
  | {
      readonly kind: 'route';
      readonly decision: RouteDecision;
      /** The close line's `route`: the route's name, 'default', or undefined (nothing matched, no default). */
      readonly routeName: string | undefined;
      /** Milliseconds from the accept to the decision. */
      readonly decideMs: number;
      readonly peeked: number;
      /**
       * The first bytes could still become a PROXY signature (routed before enough of them came):
       * the handover must hold them back until later bytes settle it (src/proxy/handoff.ts).
       */
      readonly signatureUndecided: boolean;
    };

interface CommonOptions {
  readonly table: Pick<RouteTable, 'decide' | 'silentMs' | 'firstSilentMs'>;
  readonly inspect: { readonly maxBytes: number; readonly timeoutMs: number };
  readonly peer: { readonly address: string; readonly port: number };
  readonly local: { readonly address: string; readonly port: number };
  /** Told once, at the decision, each route's verdict (only when given: the debug log). */
  readonly onDecided?: (trace: readonly TraceStep[], decision: RouteDecision, afterMs: number, peeked: number) => void;
}

/** A TCP stream's session. */
export interface SessionOptions extends CommonOptions {
  /** The listener's inbound PROXY settings (accept off: no header stage). */
  readonly proxy: InboundProxyConfig;
  /** The socket peer may send a header to this listener. */
  readonly peerTrusted: boolean;
}

/** A UDP flow's session (datagram mode): `peer` is the client as rules see it. */
export interface DatagramSessionOptions extends CommonOptions {
  /** The answer is final once this many datagrams are held (udp.inspect_datagrams). */
  readonly inspectDatagrams: number;
}

type Phase = 'header' | 'admit' | 'inspect' | 'done';

/** The first catch-up after a client pauses (see catchUpLater). */
const CATCH_UP_MS = 10;

export class InspectionSession implements MatchContext {
  /** The client: the socket peer, or the address a trusted PROXY header carried. */
  srcAddress: string;
  srcPort: number;
  /** Where the client connected to: the socket's local end, or the header's destination. */
  localAddress: string;
  localPort: number;
  readonly facts: Facts;
  final = false;
  /** Milliseconds since inspection started (after any inbound header; from the accept for a silent client). */
  elapsedMs = 0;
  /** The honoured inbound header, if any. */
  inbound: InboundProxyHeader | undefined;
  /** The client sent its FIN. */
  eof = false;

  private phase: Phase;
  private peek = new PeekBuffer();
  /** Datagram mode: the flow's datagrams so far, and their bytes summed (undefined for a stream). */
  private held: Buffer[] | undefined;
  private heldBytes = 0;
  /** The stream's options (its header stage); undefined in datagram mode. */
  private readonly stream: SessionOptions | undefined;
  /** Datagram mode: final at this many datagrams. */
  private readonly inspectDatagrams: number = Infinity;
  private inspectStarted: number;
  private deadlineAt: number;
  private deadlinePassed = false;
  private silenceAt: number | undefined;
  private catchUpAt: number | undefined;
  private catchUps = 0;
  /** The header stage ended on silence: the client's clock keeps counting from the accept. */
  private keepClock = false;
  private readonly trace: TraceStep[] | undefined;
  /** The one wait answer, updated in place: feeding a byte allocates nothing. */
  private readonly wait: { kind: 'wait'; deadline: number } = { kind: 'wait', deadline: Infinity };

  constructor(
    private readonly opts: SessionOptions | DatagramSessionOptions,
    /** The accept time (a flow's first datagram). */
    private readonly started: number,
  ) {
    this.srcAddress = opts.peer.address;
    this.srcPort = opts.peer.port;
    this.localAddress = opts.local.address;
    this.localPort = opts.local.port;
    this.facts = new Facts(opts.inspect.maxBytes);
    this.inspectStarted = started;
    this.trace = opts.onDecided === undefined ? undefined : [];
    if ('inspectDatagrams' in opts) {
      this.held = [];
      this.inspectDatagrams = opts.inspectDatagrams;
      this.phase = 'inspect';
      this.deadlineAt = started + opts.inspect.timeoutMs;
      return;
    }
    this.stream = opts;
    if (opts.proxy.accept === 'off') {
      this.phase = 'admit';
      this.deadlineAt = Infinity;
    } else {
      this.phase = 'header';
      this.deadlineAt = started + opts.proxy.timeoutMs;
      // A client behind a load balancer may be silent too: the silence deadlines run from the accept.
      this.armSilence(started);
    }
  }

  /** What the `bytes` conditions read: the stream so far, or a flow's first datagram. */
  get bytes(): Uint8Array {
    return this.held === undefined ? this.peek.bytes : (this.held[0] ?? EMPTY);
  }

  get peekedLength(): number {
    return this.held === undefined ? this.peek.length : this.heldBytes;
  }

  /**
   * The first answer, at the accept: `header` (admit now) on a listener that takes no header,
   * else wait for it (for a flow: its first datagram is fed next).
   */
  start(): SessionStep {
    return this.phase === 'admit' ? NO_HEADER : this.waiting();
  }

  /** The driver admitted the client (see `header`): inspection starts. */
  admitted(now: number): SessionStep {
    if (this.phase !== 'admit') return this.waiting();
    const afterHeader = this.deadlineAt !== Infinity;
    this.phase = 'inspect';
    this.inspectStarted = now;
    this.deadlinePassed = false;
    this.deadlineAt = now + this.opts.inspect.timeoutMs;
    this.elapsedMs = 0;
    this.armSilence(now);
    // A silent client stays silent: its silence counts from the accept, not from here.
    if (this.keepClock) this.inspectStarted = this.started;
    // After a header stage the bytes behind the header are judged at once (as the same event);
    // without one, nothing has arrived yet.
    return afterHeader ? this.step(now) : this.waiting();
  }

  /** More of the stream, or (datagram mode) the flow's next datagram. */
  feed(bytes: Buffer, now: number): SessionStep {
    if (this.phase === 'done') return DONE_WAIT;
    if (this.held !== undefined) return this.hold(bytes, now);
    this.peek.append(bytes);
    // Any byte rules silence out for good.
    this.silenceAt = undefined;
    return this.step(now);
  }

  end(now: number): SessionStep {
    if (this.phase === 'done') return DONE_WAIT;
    this.eof = true;
    return this.step(now);
  }

  /**
   * Datagram mode: the datagrams a decision was made on, all at once and with nothing more to
   * come, judged for this session's client (another address joining a QUIC connection, whose
   * `src:` conditions must hold for it too: src/udp/flow.ts admits).
   */
  replay(datagrams: readonly Buffer[], now: number): SessionStep {
    if (this.phase === 'done' || this.held === undefined) return DONE_WAIT;
    for (const d of datagrams) this.held.push(d);
    this.heldBytes += datagrams.reduce((n, d) => n + d.length, 0);
    return this.end(now);
  }

  /**
   * The time passed; the driver's timer may fire early (a fraction of a millisecond): then
   * nothing is due yet and the same deadline comes back, to be retried.
   */
  tick(now: number): SessionStep {
    if (this.phase === 'done' || this.phase === 'admit') return this.waiting();
    let due = false;
    if (!this.deadlinePassed && now >= this.deadlineAt) due = this.deadlinePassed = true;
    const silence = this.silenceAt !== undefined && now >= this.silenceAt;
    if (silence) {
      this.silenceAt = undefined;
      due = true;
    }
    const catchUp = this.catchUpAt !== undefined && now >= this.catchUpAt;
    if (!due && !catchUp) return this.waiting();
    if (catchUp) {
      this.catchUpAt = undefined;
      this.catchUps++;
      this.facts.catchingUp = true;
    }
    const r = this.step(now);
    this.facts.catchingUp = false;
    if (silence && r.kind === 'wait') {
      this.armSilence(now);
      return this.waiting();
    }
    return r;
  }

  /**
   * The connection was handed over: keep only what the close line reads (peekedLength), and let
   * the peeked bytes and the parses go. `bytes` and `facts` are empty afterwards.
   */
  release(): void {
    this.peek = new PeekBuffer();
    if (this.held !== undefined) this.held = [];
    this.heldBytes = 0;
    this.facts.clear();
  }

  private hold(datagram: Buffer, now: number): SessionStep {
    this.held!.push(datagram);
    this.heldBytes += datagram.length;
    return this.step(now);
  }

  private step(now: number): SessionStep {
    if (this.phase === 'header') return this.readHeader(now);
    if (this.phase === 'inspect') return this.held === undefined ? this.evaluate(now) : this.evaluateDatagrams(now, this.held);
    return this.waiting();
  }

  private readHeader(now: number): SessionStep {
    // Only a stream session has a header stage.
    const o = this.stream!;
    this.elapsedMs = now - this.inspectStarted;
    const silent = this.peek.length === 0 && this.elapsedMs >= o.table.firstSilentMs;
    const s = inboundStep(this.peek.bytes, o.proxy, o.peerTrusted, this.eof || this.deadlinePassed || silent);
    if (s.kind === 'wait') return this.waiting();
    if (s.kind === 'refuse') return this.refuse(s.code, s.reason);
    let header: InboundProxyHeader | undefined;
    if (s.kind === 'header') {
      header = this.inbound = s.header;
      const ep = headerEndpoints(s.header);
      if (ep) {
        this.srcAddress = unmapIPv4(ep.src.address);
        this.srcPort = ep.src.port;
        this.localAddress = unmapIPv4(ep.dst.address);
        this.localPort = ep.dst.port;
      }
      // Only what follows the header is client data to inspect and replay.
      const rest = this.peek.bytes.subarray(s.length);
      this.peek = new PeekBuffer();
      if (rest.length > 0) this.peek.append(Buffer.from(rest));
    }
    this.keepClock = silent;
    this.phase = 'admit';
    this.silenceAt = this.catchUpAt = undefined;
    return header === undefined ? NO_HEADER : { kind: 'header', header };
  }

  private evaluate(now: number): SessionStep {
    const n = this.peek.length;
    const o = this.opts;
    this.elapsedMs = now - this.inspectStarted;
    this.final = this.eof || this.deadlinePassed || n >= o.inspect.maxBytes || (n === 0 && this.elapsedMs >= o.table.firstSilentMs);
    this.facts.update(this.peek.bytes, this.final);
    const trace = this.trace;
    if (trace !== undefined) trace.length = 0;
    const d = o.table.decide(this, trace);
    if (d.kind !== 'route') {
      this.catchUpLater(this.facts.deferred, now);
      return this.waiting();
    }
    this.decided(d, trace);
    this.silenceAt = this.catchUpAt = undefined;
    // Client data that starts with a PROXY signature is a header nobody may send here: on a
    // listener without accept, or a second header behind the load balancer's (a forged address).
    const sig = proxySignature(this.peek.bytes);
    if (sig === 'v1' || sig === 'v2') {
      return this.inbound !== undefined
        ? this.refuse('PORTPLEX_ERR_PROXY_IN_DATA', `a second PROXY ${sig} header after the load balancer's`)
        : this.refuse('PORTPLEX_ERR_PROXY_NOT_ACCEPTED', `a PROXY ${sig} header arrived on a listener with proxy_protocol.accept off`);
    }
    return this.route(d, now, sig === 'maybe' && !this.eof);
  }

  /** A flow's datagrams so far: no signature to look for (a PROXY header on UDP is ours to send, not to take). */
  private evaluateDatagrams(now: number, held: readonly Buffer[]): SessionStep {
    const o = this.opts;
    this.elapsedMs = now - this.inspectStarted;
    this.final = this.eof || this.deadlinePassed || held.length >= this.inspectDatagrams || this.heldBytes >= o.inspect.maxBytes;
    this.facts.updateDatagrams(held, this.heldBytes);
    const trace = this.trace;
    if (trace !== undefined) trace.length = 0;
    const d = o.table.decide(this, trace);
    if (d.kind !== 'route') return this.waiting();
    this.decided(d, trace);
    return this.route(d, now, false);
  }

  private decided(d: RouteDecision, trace: readonly TraceStep[] | undefined): void {
    this.opts.onDecided?.(trace!, d, this.elapsedMs, this.peekedLength);
    this.phase = 'done';
  }

  private route(d: RouteDecision, now: number, signatureUndecided: boolean): SessionStep {
    return {
      kind: 'route',
      decision: d,
      routeName: d.route?.name ?? (d.backend !== undefined ? 'default' : undefined),
      decideMs: now - this.started,
      peeked: this.peekedLength,
      signatureUndecided,
    };
  }

  /**
   * A condition put off a pass over the bytes until more of them come (src/matchers/over-text.ts):
   * ask it again once the client has paused, 10 ms * 2^k after its last byte for the k-th time (a
   * client that keeps pausing cannot make it re-run more than log2(timeout / 10 ms) times). Each
   * evaluation that still wants it pushes it back by the same duration.
   */
  private catchUpLater(wanted: boolean, now: number): void {
    this.catchUpAt = wanted ? now + CATCH_UP_MS * 2 ** Math.min(this.catchUps, 20) : undefined;
  }

  /** The next `silent:` duration, as long as the client has said nothing. */
  private armSilence(now: number): void {
    this.silenceAt = undefined;
    if (this.peek.length > 0) return;
    // Compare with the elapsed time the router last saw, not a fresh clock reading: a timer may
    // fire a fraction of a millisecond early, and the duration it was armed for must be retried.
    const next = this.opts.table.silentMs.find((ms) => ms > this.elapsedMs);
    if (next === undefined || next >= this.opts.inspect.timeoutMs) return;
    this.silenceAt = now + Math.max(1, Math.ceil(next - (now - this.inspectStarted)));
  }

  private refuse(code: ErrorCode, reason: string): SessionStep {
    this.phase = 'done';
    return { kind: 'refuse', reason: 'proxy-refused', code, detail: `${code}: ${reason}` };
  }

  private waiting(): SessionStep {
    let at = this.deadlineAt;
    if (this.deadlinePassed) at = Infinity;
    if (this.silenceAt !== undefined && this.silenceAt < at) at = this.silenceAt;
    if (this.catchUpAt !== undefined && this.catchUpAt < at) at = this.catchUpAt;
    this.wait.deadline = at;
    return this.wait;
  }
}

const EMPTY = new Uint8Array(0);
const NO_HEADER: SessionStep = Object.freeze({ kind: 'header', header: undefined });
const DONE_WAIT: SessionStep = Object.freeze({ kind: 'wait', deadline: Infinity });
