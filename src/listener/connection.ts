/**
 * One client connection's life: inspect (accumulate bytes until the routes can decide), route,
 * dial the backend, hand over to the splice, and write exactly one log line at close.
 */
import type { Socket } from 'node:net';
import type { ListenerConfig } from '../config/types.js';
import { Facts } from '../inspect/facts.js';
import { PeekBuffer } from '../inspect/peek-buffer.js';
import type { MatchContext } from '../matchers/context.js';
import { escapeClientText } from '../observe/escape.js';
import { outgoingHeader } from '../proxy/outgoing-header.js';
import { splice } from '../proxy/splice.js';
import { tlsVersionName } from '../protocols/tls-client-hello.js';
import type { Decision } from '../router/route-table.js';
import type { Runtime } from './runtime.js';

let sequence = 0;
const ID_PREFIX = process.pid.toString(36) + '-';

/** "::ffff:1.2.3.4" is how a dual-stack socket reports an IPv4 client: rules and logs want 1.2.3.4. */
export function unmapAddress(a: string): string {
  return a.startsWith('::ffff:') && a.indexOf('.') > 0 ? a.slice(7) : a;
}

type Phase = 'inspect' | 'connect' | 'splice' | 'closed';

export class Connection implements MatchContext {
  readonly id = ID_PREFIX + (++sequence).toString(36);
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly facts: Facts;
  final = false;
  elapsedMs = 0;

  private phase: Phase = 'inspect';
  private readonly peek = new PeekBuffer();
  private readonly started = performance.now();
  private eof = false;
  private deadlinePassed = false;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;
  private abortDial: (() => void) | undefined;
  private decideMs: number | undefined;
  private connectMs: number | undefined;
  private routeName: string | undefined;
  private backendName: string | undefined;
  private serverAddress: string | undefined;
  private backend: Socket | undefined;
  private failures: readonly string[] | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly listener: ListenerConfig,
    private readonly rt: Runtime,
  ) {
    this.srcAddress = unmapAddress(socket.remoteAddress ?? '');
    this.srcPort = socket.remotePort ?? 0;
    this.localAddress = unmapAddress(socket.localAddress ?? '');
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
    if (this.srcAddress === '') {
      // The peer was gone before we could even read its address.
      s.destroy();
      return;
    }
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    this.deadlineTimer = setTimeout(this.onDeadline, this.rt.inspect.timeoutMs);
    this.armSilenceTimer();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.peek.append(chunk);
    this.facts.update(this.peek.bytes);
    if (this.silenceTimer !== undefined) {
      clearTimeout(this.silenceTimer);
      this.silenceTimer = undefined;
    }
    this.evaluate();
  };

  private readonly onEnd = (): void => {
    this.eof = true;
    this.evaluate();
  };

  private readonly onDeadline = (): void => {
    this.deadlineTimer = undefined;
    this.deadlinePassed = true;
    this.evaluate();
  };

  /** Wakes the router at the next `silent:` duration, as long as the client has said nothing. */
  private armSilenceTimer(): void {
    if (this.peek.length > 0) return;
    // Compare with the elapsed time the router last saw, not a fresh clock reading: a timer may
    // fire a fraction of a millisecond early, and the duration it was armed for must be retried.
    const next = this.rt.table.silentMs.find((ms) => ms > this.elapsedMs);
    if (next === undefined || next >= this.rt.inspect.timeoutMs) return;
    const now = performance.now() - this.started;
    this.silenceTimer = setTimeout(this.onSilence, Math.max(1, Math.ceil(next - now)));
  }

  private readonly onSilence = (): void => {
    this.silenceTimer = undefined;
    this.evaluate();
    if (this.phase === 'inspect') this.armSilenceTimer();
  };

  private readonly onEarlyError = (e: NodeJS.ErrnoException): void => {
    this.finish('client-error', e.code ?? e.message);
  };

  private readonly onEarlyClose = (): void => {
    this.finish(this.phase === 'inspect' ? 'client-closed-during-inspect' : 'client-closed-during-connect');
  };

  private evaluate(): void {
    if (this.phase !== 'inspect') return;
    const n = this.peek.length;
    this.elapsedMs = performance.now() - this.started;
    this.final = this.eof || this.deadlinePassed || n >= this.rt.inspect.maxBytes || (n === 0 && this.elapsedMs >= this.rt.table.firstSilentMs);
    const d = this.rt.table.decide(this);
    if (d.kind === 'route') this.route(d);
  }

  private stopInspecting(): void {
    const s = this.socket;
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.silenceTimer);
    this.deadlineTimer = this.silenceTimer = undefined;
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.pause();
  }

  private route(d: Extract<Decision, { kind: 'route' }>): void {
    this.stopInspecting();
    this.phase = 'connect';
    this.decideMs = performance.now() - this.started;
    this.routeName = d.route?.name ?? (d.backend !== undefined ? 'default' : undefined);
    this.backendName = d.backend;
    const pool = d.backend === undefined ? undefined : this.rt.pools.get(d.backend);
    if (pool === undefined) {
      this.finish('no-route', 'PORTPLEX_ERR_NO_ROUTE');
      return;
    }
    this.abortDial = pool.connect((outcome) => {
      this.abortDial = undefined;
      this.failures = outcome.failures.length > 0 ? outcome.failures : undefined;
      if (outcome.socket === undefined) {
        this.finish('backend-unreachable', 'PORTPLEX_ERR_BACKEND_UNREACHABLE');
        return;
      }
      this.connectMs = performance.now() - this.started;
      this.serverAddress = outcome.server?.address;
      this.connected(outcome.socket, pool.config.sendProxy);
    });
  }

  private connected(backend: Socket, sendProxy: 'off' | 'v1' | 'v2'): void {
    this.backend = backend;
    if (this.phase !== 'connect' || this.socket.destroyed) {
      backend.destroy();
      return;
    }
    const hello = this.facts.clientHello();
    const endpoints = { srcAddress: this.srcAddress, srcPort: this.srcPort, dstAddress: this.localAddress, dstPort: this.localPort };
    const header = outgoingHeader(sendProxy, endpoints, hello?.sni, hello?.alpn[0]);
    if (!header.ok) {
      backend.destroy();
      this.finish('proxy-header-error', `PORTPLEX_ERR_PROXY_HEADER_TOO_LARGE: ${header.message}`);
      return;
    }
    const replay = this.peek.bytes;
    const head = header.header === undefined ? replay : replay.length === 0 ? header.header : Buffer.concat([header.header, replay]);
    const s = this.socket;
    s.removeListener('error', this.onEarlyError);
    s.removeListener('close', this.onEarlyClose);
    this.phase = 'splice';
    splice(s, backend, head, { idleMs: this.rt.idleMs }, (reason, detail) => this.finish(reason, detail));
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
    this.log(reason, detail);
  }

  private log(reason: string, detail: string | undefined): void {
    const log = this.rt.log;
    const level = reason === 'done' ? 'info' : reason === 'backend-unreachable' || reason === 'no-route' || reason === 'proxy-header-error' ? 'warn' : 'info';
    if (!log.isLevelEnabled(level)) return;
    const hello = this.facts.clientHello();
    const http = this.facts.httpHead();
    const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 100) / 100);
    log[level](
      {
        id: this.id,
        listener: this.listener.name,
        client: { address: this.srcAddress, port: this.srcPort },
        route: this.routeName,
        backend: this.backendName,
        server: this.serverAddress,
        sni: hello?.sni,
        alpn: hello && hello.alpn.length > 0 ? hello.alpn.map((a) => escapeClientText(a)) : undefined,
        tls_version: hello ? tlsVersionName(hello.version) : undefined,
        http_host: escapeClientText(http?.host),
        peeked: this.peek.length,
        bytes: { from_client: this.socket.bytesRead, to_client: this.socket.bytesWritten },
        ms: { decide: ms(this.decideMs), connect: ms(this.connectMs), total: ms(performance.now() - this.started) },
        reason,
        detail,
        failures: this.failures,
      },
      'connection closed',
    );
  }
}
