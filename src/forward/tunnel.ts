/**
 * Forward-proxy connections: HTTP CONNECT tunnels and SNI forwarding. Decides whether a target
 * may be reached (ports, allowlist, SSRF guard on every resolved address), resolves it once and
 * connects to the address it checked (no second lookup an attacker could rebind).
 */
import type { ConnectActionConfig, SniForwardConfig } from '../config/types.js';
import type { Dialer } from '../backends/dial.js';
import { basicAuthOk, headerValue } from './auth.js';
import { forwardPolicy, type Policy } from './address-policy.js';
import type { TargetResolver } from './resolver.js';
import type { HostField } from '../protocols/http/request.js';
import { hostHeaderDisagrees, parseConnectTarget } from './target.js';

export type Denial = 'bad-request' | 'auth-required' | 'port-not-allowed' | 'host-not-allowed' | 'address-not-allowed' | 'dns-failed' | 'unreachable' | 'timeout';

/** `link` is the dialer's connection to the target (a node:net socket, or the native data plane's). */
export type TunnelOutcome<L> =
  | { readonly ok: true; readonly link: L; readonly target: string; readonly address: string }
  | { readonly ok: false; readonly status: number; readonly denial: Denial; readonly message: string; readonly target: string | undefined; readonly headers?: readonly string[] };

const policies = new WeakMap<object, Policy>();
function policyFor(cfg: ConnectActionConfig | SniForwardConfig): Policy {
  let p = policies.get(cfg);
  if (p === undefined) policies.set(cfg, (p = forwardPolicy(cfg.hosts)));
  return p;
}

export type TunnelDenied = Extract<TunnelOutcome<unknown>, { ok: false }>;

function fail(status: number, denial: Denial, message: string, target: string | undefined, headers?: readonly string[]): TunnelDenied {
  return headers === undefined ? { ok: false, status, denial, message, target } : { ok: false, status, denial, message, target, headers };
}

const hostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/**
 * CONNECT: `method`/`target` from the parsed request line, `hostHeader` the parsed Host header,
 * `head` the whole request head as latin1.
 */
export function openConnectTunnel<L>(
  req: { readonly method: string; readonly target: string; readonly hostHeader: HostField | undefined; readonly head: string },
  cfg: ConnectActionConfig,
  route: string,
  resolver: TargetResolver,
  dialer: Dialer<L>,
  done: (o: TunnelOutcome<L>) => void,
): () => void {
  if (req.method !== 'CONNECT') {
    done(fail(405, 'bad-request', `route "${route}" serves only CONNECT, not ${req.method}`, undefined, ['Allow: CONNECT']));
    return () => undefined;
  }
  const t = parseConnectTarget(req.target);
  if (!t.ok) {
    // The raw target is logged (escaped by the logger) so a 400 names what the client asked for.
    done(fail(400, 'bad-request', `bad CONNECT target: ${t.reason}`, req.target));
    return () => undefined;
  }
  const target = hostPort(t.host, t.port);
  const disagreement = hostHeaderDisagrees(req.hostHeader, t);
  if (disagreement !== undefined) {
    done(fail(400, 'bad-request', `the Host header disagrees with the CONNECT target: ${disagreement} (send Host: ${target}, or none)`, target));
    return () => undefined;
  }
  if (cfg.auth !== undefined && !basicAuthOk(headerValue(req.head, 'proxy-authorization'), cfg.auth)) {
    done(fail(407, 'auth-required', 'proxy authentication required', target, ['Proxy-Authenticate: Basic realm="portplex", charset="UTF-8"']));
    return () => undefined;
  }
  if (!cfg.ports.some(([lo, hi]) => t.port >= lo && t.port <= hi)) {
    done(fail(403, 'port-not-allowed', `Tunnel Forbidden: port ${t.port} is not allowed by route "${route}"`, target));
    return () => undefined;
  }
  return reach(t.host, t.port, cfg, route, resolver, dialer, done);
}

/** SNI forwarding: the ClientHello's server name on the configured port. */
export function openSniForward<L>(sni: string, cfg: SniForwardConfig, route: string, resolver: TargetResolver, dialer: Dialer<L>, done: (o: TunnelOutcome<L>) => void): () => void {
  return reach(sni, cfg.port, cfg, route, resolver, dialer, done);
}

function reach<L>(
  host: string,
  port: number,
  cfg: ConnectActionConfig | SniForwardConfig,
  route: string,
  resolver: TargetResolver,
  dialer: Dialer<L>,
  done: (o: TunnelOutcome<L>) => void,
): () => void {
  const target = hostPort(host, port);
  const policy = policyFor(cfg);
  if (!policy.hostAllowed(host)) {
    done(fail(403, 'host-not-allowed', `Tunnel Forbidden: ${host} is not allowed by route "${route}"`, target));
    return () => undefined;
  }
  let aborted = false;
  let abortDial: (() => void) | undefined;
  void resolver.resolve(host).then((r) => {
    if (aborted) return;
    if (!r.ok) {
      done(fail(502, 'dns-failed', `cannot resolve ${host}: ${r.error}`, target));
      return;
    }
    const allowed = r.addresses.filter((a) => policy.addressAllowed(host, a));
    if (allowed.length === 0) {
      done(fail(403, 'address-not-allowed', `Tunnel Forbidden: ${host} resolves to ${r.addresses.join(', ')}, a private or special address not named by route "${route}"`, target));
      return;
    }
    const errors: string[] = [];
    const attempt = (i: number): void => {
      const address = allowed[i];
      if (address === undefined) {
        const timedOut = errors.every((e) => e.includes('timeout'));
        done(fail(timedOut ? 504 : 502, timedOut ? 'timeout' : 'unreachable', `cannot connect to ${target}: ${errors.join('; ')}`, target));
        return;
      }
      abortDial = dialer({ host: address, port }, { timeoutMs: cfg.connectTimeoutMs, noDelay: true, keepAliveMs: undefined }, (d) => {
        // After an abort the dialer has already closed what it was connecting.
        if (aborted) return;
        if (d.ok) done({ ok: true, link: d.link, target, address });
        else {
          errors.push(`${address}: ${d.error}`);
          attempt(i + 1);
        }
      });
    };
    attempt(0);
  });
  return () => {
    aborted = true;
    abortDial?.();
  };
}
