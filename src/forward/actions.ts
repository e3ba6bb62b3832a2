/**
 * The forward actions of a routed TCP connection: `connect:` (answer an HTTP CONNECT ourselves,
 * then tunnel) and `sni_forward:` (connect to the ClientHello's server name and replay the
 * hello). Where a target may be reached and how: tunnel.ts. Denials are counted per
 * "route/denial" for the admin page.
 */
import type { Dialer } from '../backends/dial.js';
import type { ConnectActionConfig, SniForwardConfig } from '../config/types.js';
import type { Facts } from '../inspect/facts.js';
import type { TcpCloseReason } from '../observe/close-line.js';
import { CONNECTION_ESTABLISHED, errorResponse } from './responses.js';
import type { TargetResolver } from './resolver.js';
import { openConnectTunnel, openSniForward, type TunnelDenied, type TunnelOutcome } from './tunnel.js';

/** What a forward action needs of the connection it serves; `L` is its transport's connection to a target. */
export interface ForwardClient<L> {
  readonly facts: Facts;
  /** The peeked client bytes. */
  readonly bytes: Buffer;
  readonly resolver: TargetResolver;
  readonly denials: Map<string, number>;
  /** How the connection's transport connects to a target. */
  readonly dialer: Dialer<L>;
  /** The client still waits for the target (not closed meanwhile). */
  waiting(): boolean;
  /** Closes a target connection nobody waits for any more. */
  discard(link: L): void;
  /** The target the client asked for (logged whether or not it was reached). */
  target(target: string | undefined): void;
  /** The target answered: relay to it, `toTarget` first, and `toClient` to the client before any target byte. */
  reached(link: L, address: string, toTarget: Buffer, toClient: Buffer | undefined): void;
  /**
   * Sends a final answer and a FIN, lets it drain, and reports `reason` once the client is gone (at
   * most 2 s later). A client that resets after reading the answer (curl does after a 403) keeps it.
   */
  respond(response: Buffer, reason: TcpCloseReason, detail: string): void;
  finish(reason: TcpCloseReason, detail: string): void;
  /** `sni_forward:` without an SNI, to its fallback backend. */
  toBackend(name: string): void;
}

/** `connect:` routes. Returns the abort of the dial under way. */
export function connectTunnel<L>(c: ForwardClient<L>, cfg: ConnectActionConfig, route: string): () => void {
  const parsed = c.facts.http();
  if (parsed.kind !== 'ok') {
    const why = parsed.kind === 'invalid' ? parsed.reason : 'incomplete request head';
    deny(c, route, 'bad-request');
    c.respond(errorResponse(400, `route "${route}" expects an HTTP CONNECT request: ${why}`), 'tunnel-denied', `400 bad-request: ${why}`);
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
    c.dialer,
    onTunnel(c, route, (o) => c.respond(errorResponse(o.status, o.message, o.headers), tunnelReason(o.status), `${o.status} ${o.denial}`), (link, address) => {
      // The 200 goes out before any target byte; bytes the client pipelined after its request
      // head follow it to the target, exactly once.
      c.reached(link, address, c.bytes.subarray(head.headerBytes), CONNECTION_ESTABLISHED);
    }),
  );
}

/**
 * `sni_forward:` routes. Returns the abort of the dial under way; none when the hello had no SNI and
 * it went to the fallback backend, whose dial (c.toBackend) keeps the driver's abort of its own.
 */
export function sniForward<L>(c: ForwardClient<L>, cfg: SniForwardConfig, route: string): (() => void) | undefined {
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
    c.dialer,
    onTunnel(c, route, (o) => c.finish(tunnelReason(o.status), `${o.status} ${o.denial}: ${o.message}`), (link, address) => c.reached(link, address, c.bytes, undefined)),
  );
}

/** The common end of both actions: count and report a denial, or take the connected target. */
function onTunnel<L>(c: ForwardClient<L>, route: string, denied: (o: TunnelDenied) => void, connected: (link: L, address: string) => void): (o: TunnelOutcome<L>) => void {
  return (o) => {
    c.target(o.target);
    if (!o.ok) {
      deny(c, route, o.denial);
      denied(o);
      return;
    }
    if (!c.waiting()) return c.discard(o.link);
    connected(o.link, o.address);
  };
}

function deny<L>(c: ForwardClient<L>, route: string, denial: string): void {
  const key = `${route}/${denial}`;
  c.denials.set(key, (c.denials.get(key) ?? 0) + 1);
}

const NOTHING = (): void => undefined;
const tunnelReason = (status: number): TcpCloseReason => (status >= 500 ? 'tunnel-failed' : 'tunnel-denied');
