/**
 * The forward actions of a routed TCP connection: `connect:` (answer an HTTP CONNECT ourselves,
 * then tunnel) and `sni_forward:` (connect to the ClientHello's server name and replay the
 * hello). Where a target may be reached and how: tunnel.ts. Denials are counted per
 * "route/denial" for the admin page.
 */
import type { Socket } from 'node:net';
import type { ConnectActionConfig, SniForwardConfig } from '../config/types.js';
import type { Facts } from '../inspect/facts.js';
import type { TcpCloseReason } from '../observe/close-line.js';
import { CONNECTION_ESTABLISHED, errorResponse } from './responses.js';
import type { TargetResolver } from './resolver.js';
import { openConnectTunnel, openSniForward, type TunnelOutcome } from './tunnel.js';

/** What a forward action needs of the connection it serves. */
export interface ForwardClient {
  readonly socket: Socket;
  readonly facts: Facts;
  /** The peeked client bytes. */
  readonly bytes: Buffer;
  readonly resolver: TargetResolver;
  readonly denials: Map<string, number>;
  /** The client still waits for the target (not closed meanwhile). */
  waiting(): boolean;
  /** The target the client asked for (logged whether or not it was reached). */
  target(target: string | undefined): void;
  /** The target answered: splice to it, `head` first. */
  reached(socket: Socket, address: string, head: Buffer): void;
  /** Stops the connection's own close and error handling: a final answer takes over. */
  detach(): void;
  finish(reason: TcpCloseReason, detail: string): void;
  /** `sni_forward:` without an SNI, to its fallback backend. */
  toBackend(name: string): void;
}

/** `connect:` routes. Returns the abort of the dial under way. */
export function connectTunnel(c: ForwardClient, cfg: ConnectActionConfig, route: string): () => void {
  const parsed = c.facts.http();
  if (parsed.kind !== 'ok') {
    const why = parsed.kind === 'invalid' ? parsed.reason : 'incomplete request head';
    deny(c, route, 'bad-request');
    respondAndClose(c, errorResponse(400, `route "${route}" expects an HTTP CONNECT request: ${why}`), 'tunnel-denied', `400 bad-request: ${why}`);
    return NOTHING;
  }
  const head = parsed.value;
  const bytes = c.bytes;
  const headText = Buffer.from(bytes.buffer, bytes.byteOffset, head.headerBytes).toString('latin1');
  return openConnectTunnel(
    { method: head.method, target: head.target, hostHeader: head.hostHeader, head: headText },
    cfg,
    route,
    c.resolver,
    onTunnel(c, route, (o) => respondAndClose(c, errorResponse(o.status, o.message, o.headers), tunnelReason(o.status), `${o.status} ${o.denial}`), (socket, address) => {
      // The 200 goes out before any client byte reaches the target; bytes the client pipelined
      // after its request head follow it, exactly once.
      c.socket.write(CONNECTION_ESTABLISHED);
      c.reached(socket, address, c.bytes.subarray(head.headerBytes));
    }),
  );
}

/**
 * `sni_forward:` routes. Returns the abort of the dial under way; none when the hello had no SNI and
 * it went to the fallback backend, whose dial (c.toBackend) keeps the driver's abort of its own.
 */
export function sniForward(c: ForwardClient, cfg: SniForwardConfig, route: string): (() => void) | undefined {
  const hello = c.facts.tls();
  const sni = hello.kind === 'ok' ? hello.value.sni : undefined;
  if (sni === undefined) {
    if (cfg.fallback !== undefined) c.toBackend(cfg.fallback);
    else c.finish('no-sni', 'the ClientHello has no (valid) SNI to forward to, and the route has no fallback');
    return undefined;
  }
  return openSniForward(
    sni,
    cfg,
    route,
    c.resolver,
    onTunnel(c, route, (o) => c.finish(tunnelReason(o.status), `${o.status} ${o.denial}: ${o.message}`), (socket, address) => c.reached(socket, address, c.bytes)),
  );
}

/** The common end of both actions: count and report a denial, or take the connected target. */
function onTunnel(c: ForwardClient, route: string, denied: (o: Extract<TunnelOutcome, { ok: false }>) => void, connected: (socket: Socket, address: string) => void): (o: TunnelOutcome) => void {
  return (o) => {
    c.target(o.target);
    if (!o.ok) {
      deny(c, route, o.denial);
      denied(o);
      return;
    }
    if (!c.waiting()) {
      o.socket.destroy();
      return;
    }
    connected(o.socket, o.address);
  };
}

function deny(c: ForwardClient, route: string, denial: string): void {
  const key = `${route}/${denial}`;
  c.denials.set(key, (c.denials.get(key) ?? 0) + 1);
}

/** Sends a final answer, lets it drain, and reports once the client is gone (at most 2 s later). */
function respondAndClose(c: ForwardClient, response: Buffer, reason: TcpCloseReason, detail: string): void {
  const s = c.socket;
  // A client that resets after reading the answer (curl does after a 403) keeps this reason.
  c.detach();
  s.on('error', () => undefined);
  s.once('close', () => c.finish(reason, detail));
  s.end(response);
  setTimeout(() => s.destroy(), 2000).unref();
}

const NOTHING = (): void => undefined;
const tunnelReason = (status: number): TcpCloseReason => (status >= 500 ? 'tunnel-failed' : 'tunnel-denied');
