/**
 * The `udp:` section (flow table and limits of UDP listeners) and the checks that keep TCP and
 * UDP apart: a route serves the transport of its backend, so its conditions must be ones a
 * datagram can answer (no HTTP head in a QUIC packet), and a TCP route may not test for a
 * protocol only UDP carries.
 */
import type { Node } from 'yaml';
import { DEFAULTS } from './defaults.js';
import type { NodeReader } from './yaml-reader.js';
import { UDP_PROTOCOLS, type BackendConfig, type Condition, type Protocol, type RouteConfig, type Transport, type UdpConfig } from './types.js';
import { parseSize } from './units.js';

export const UDP_KEYS = ['default', 'flows', 'idle', 'per_ip', 'max_datagram', 'inspect_datagrams'] as const;
export const UDP_PER_IP_KEYS = ['flows', 'rate', 'burst'] as const;

/** Protocols only a datagram carries: a TCP route that asks for one can never match. */
const UDP_ONLY: readonly Protocol[] = ['quic', 'dns', 'wireguard'];

/** Condition kinds a UDP flow can answer: what its first datagrams hold, and who sent them. */
const UDP_KINDS: ReadonlySet<Condition['kind']> = new Set(['always', 'protocol', 'tls.sni', 'tls.alpn', 'tls.version', 'tls.ech', 'bytes.length', 'bytes.prefix', 'bytes.regex', 'src', 'local_port', 'not', 'all', 'any']);

/** The `udp:` section when the rule file has none. */
export const UDP_DEFAULTS: UdpConfig = Object.freeze({
  defaultBackend: undefined,
  maxFlows: DEFAULTS.udpMaxFlows,
  idleMs: DEFAULTS.udpIdleMs,
  perIpFlows: DEFAULTS.udpPerIpFlows,
  perIpRate: DEFAULTS.udpPerIpRate,
  perIpBurst: DEFAULTS.udpPerIpRate * 2,
  maxDatagram: DEFAULTS.udpMaxDatagram,
  inspectDatagrams: DEFAULTS.udpInspectDatagrams,
});

export function compileUdp(r: NodeReader, node: Node | null, backends: ReadonlyMap<string, BackendConfig>): UdpConfig {
  const d = UDP_DEFAULTS;
  if (node === null) return d;
  const m = r.map(node, 'udp', UDP_KEYS);
  if (!m) return d;
  let defaultBackend: string | undefined;
  const def = m.get('default');
  if (def) {
    defaultBackend = r.string(def.value, 'udp.default');
    const b = defaultBackend === undefined ? undefined : backends.get(defaultBackend);
    if (defaultBackend !== undefined && b === undefined) r.error(def.value, `udp.default: unknown backend "${defaultBackend}" (defined: ${[...backends.keys()].join(', ') || 'none'})`);
    else if (b !== undefined && b.transport !== 'udp') r.error(def.value, `udp.default: backend "${defaultBackend}" is a TCP backend; give it transport: udp or name a UDP backend`);
  }
  const int = (n: Node | null | undefined, what: string, min: number, max: number, fallback: number): number => (n === undefined ? fallback : (r.int(n, what, min, max) ?? fallback));
  const pi = m.get('per_ip');
  const p = pi ? r.map(pi.value, 'udp.per_ip', UDP_PER_IP_KEYS) : undefined;
  const rate = int(p?.get('rate')?.value, 'udp.per_ip.rate', 1, 10_000_000, d.perIpRate);
  let maxDatagram = d.maxDatagram;
  const md = m.get('max_datagram');
  if (md) {
    const v = r.scalar(md.value);
    const size = typeof v === 'string' || typeof v === 'number' ? parseSize(v) : undefined;
    // 1200: the smallest datagram a QUIC client may send its Initial in (RFC 9000 §14.1).
    if (size === undefined || size < 1200 || size > 65535) r.error(md.value, 'udp.max_datagram must be a size from 1200 (the QUIC minimum, RFC 9000 §14.1) to 65535 bytes');
    else maxDatagram = size;
  }
  const idle = m.get('idle');
  return {
    defaultBackend,
    maxFlows: int(m.get('flows')?.value, 'udp.flows', 1, 10_000_000, d.maxFlows),
    idleMs: idle ? (r.duration(idle.value, 'udp.idle', 100, 86_400_000) ?? d.idleMs) : d.idleMs,
    perIpFlows: int(p?.get('flows')?.value, 'udp.per_ip.flows', 1, 10_000_000, d.perIpFlows),
    perIpRate: rate,
    perIpBurst: int(p?.get('burst')?.value, 'udp.per_ip.burst', 1, 100_000_000, rate * 2),
    maxDatagram,
    inspectDatagrams: int(m.get('inspect_datagrams')?.value, 'udp.inspect_datagrams', 1, 64, d.inspectDatagrams),
  };
}

/** The transport a route serves: its backend's (forward-proxy actions are TCP). */
export function routeTransport(route: RouteConfig, backends: ReadonlyMap<string, BackendConfig>): Transport {
  return route.action.kind === 'backend' ? (backends.get(route.action.backend)?.transport ?? 'tcp') : 'tcp';
}

/** Every route whose conditions cannot be answered on its transport, with why and what to do. */
export function checkRouteTransports(r: NodeReader, routes: readonly RouteConfig[], backends: ReadonlyMap<string, BackendConfig>): void {
  for (const route of routes) {
    const transport = routeTransport(route, backends);
    const problem = transport === 'udp' ? udpProblem(route.when) : tcpProblem(route.when);
    if (problem === undefined) continue;
    const backend = route.action.kind === 'backend' ? route.action.backend : '';
    const where = transport === 'udp' ? `sends to the UDP backend "${backend}"` : 'is a TCP route (its backend has no transport: udp)';
    r.issues.push({ ...route.pos, message: `routes.${route.name} ${where}, but ${problem}` });
  }
}

function udpProblem(c: Condition): string | undefined {
  if (!UDP_KINDS.has(c.kind)) return `tests ${c.kind}, which a datagram never carries (UDP routes may test protocol, tls, bytes, src and local_port)`;
  if (c.kind === 'protocol') {
    const bad = c.protocols.filter((p) => !UDP_PROTOCOLS.includes(p));
    if (bad.length > 0) return `tests protocol ${bad.join(', ')}, which portplex recognises only on TCP (on UDP: ${UDP_PROTOCOLS.join(', ')})`;
  }
  return inner(c).map(udpProblem).find((p) => p !== undefined);
}

function tcpProblem(c: Condition): string | undefined {
  if (c.kind === 'protocol') {
    const bad = c.protocols.filter((p) => UDP_ONLY.includes(p));
    if (bad.length > 0) return `tests protocol ${bad.join(', ')}, which only arrives over UDP: send the route to a backend with transport: udp`;
  }
  return inner(c).map(tcpProblem).find((p) => p !== undefined);
}

/** Does the condition test the client's address anywhere (`src:`, also under not/any/all)? */
export function readsSource(c: Condition): boolean {
  return c.kind === 'src' || inner(c).some(readsSource);
}

function inner(c: Condition): readonly Condition[] {
  if (c.kind === 'not') return [c.inner];
  if (c.kind === 'all' || c.kind === 'any') return c.inner;
  return [];
}
