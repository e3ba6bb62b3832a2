/**
 * Turns a parsed rule-file document into an immutable RulesConfig, reporting every problem with
 * its file:line:col rather than stopping at the first.
 */
import type { Node } from 'yaml';
import { compileBackends } from './backends.js';
import { compileRoutes } from './routes.js';
import { adminWarnings, compileAdmin } from './admin.js';
import { checkBindConflicts, type BindSite } from './binds.js';
import { shadowedRouteWarnings } from './shadowed-routes.js';
import { unusedBackendWarnings } from './unused-backends.js';
import { checkRouteTransports, compileUdp, routeTransport } from './udp.js';
import { DEFAULTS } from './defaults.js';
import type { Entry, NodeReader } from './yaml-reader.js';
import type {
  BackendConfig,
  Cidr,
  InboundProxyConfig,
  LimitsConfig,
  ProxyAccept,
  ProxyV2Options,
  DemoKind,
  AdminConfig,
  DemoServiceConfig,
  ListenerConfig,
  RouteConfig,
  RulesConfig,
  SendProxy,
  ServerConfig,
  Transport,
} from './types.js';
import { DATAPLANE_ASKS, TRANSPORTS, type DataplaneAsk } from './types.js';
import { formatHostPort, parseCidr, parseHostPort, parseSize } from './units.js';

export const TOP_KEYS = ['listeners', 'inspect', 'timeouts', 'backends', 'routes', 'default', 'demo', 'log', 'limits', 'user', 'group', 'admin', 'udp', 'dataplane'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_KEYS = ['level'] as const;
export const LISTENER_KEYS = ['name', 'bind', 'transport', 'proxy_protocol', 'max_connections'] as const;
export const PROXY_PROTOCOL_KEYS = ['accept', 'trusted', 'timeout', 'max_bytes'] as const;
export const PROXY_ACCEPTS: readonly ProxyAccept[] = ['off', 'optional', 'required'];
export const LIMITS_KEYS = ['max_connections', 'per_ip', 'tracked_addresses', 'inspect_buffer_total'] as const;
export const PER_IP_KEYS = ['connections', 'inspecting', 'rate', 'burst'] as const;
export const INSPECT_KEYS = ['timeout', 'max_bytes'] as const;
export const TIMEOUTS_KEYS = ['idle'] as const;
export const DEMO_KEYS = ['name', 'kind', 'listen'] as const;
export const DEMO_KINDS: readonly DemoKind[] = ['https', 'http', 'banner'];

export function compileRules(r: NodeReader, root: Node | null): RulesConfig | undefined {
  const top = r.map(root, 'the rule file', TOP_KEYS);
  if (!top) return undefined;
  // `routes:` written with nothing after it means "no routes", as if the key were absent.
  for (const [k, e] of top) if (r.scalar(e.value) === null && r.isNull(e.value)) top.delete(k);

  const listeners = compileListeners(r, top.get('listeners')?.value ?? null, top.has('listeners'));
  const inspect = compileInspect(r, top.get('inspect')?.value ?? null);
  const timeouts = compileTimeouts(r, top.get('timeouts')?.value ?? null);
  const backends = compileBackends(r, top.get('backends')?.value ?? null);
  const routes = compileRoutes(r, top.get('routes')?.value ?? null, backends);

  let defaultBackend: string | undefined;
  const def = top.get('default');
  if (def) {
    defaultBackend = r.string(def.value, 'default');
    if (defaultBackend !== undefined && !backends.has(defaultBackend)) {
      r.error(def.value, `default: unknown backend "${defaultBackend}" (defined: ${[...backends.keys()].join(', ') || 'none'})`);
    } else if (defaultBackend !== undefined && backends.get(defaultBackend)!.transport === 'udp') {
      r.error(def.value, `default: backend "${defaultBackend}" is a UDP backend; the default for UDP flows is udp.default`);
    }
  }
  const udp = compileUdp(r, top.get('udp')?.value ?? null, backends);
  checkRouteTransports(r, routes, backends);
  if (!top.has('listeners')) r.error(root, 'the rule file needs `listeners:` (where portplex accepts connections)');
  const served = (t: Transport): boolean => routes.some((route) => routeTransport(route, backends) === t);
  if (listeners.some((l) => l.transport === 'tcp') && !served('tcp') && defaultBackend === undefined) {
    r.error(root, 'the rule file needs at least one route or a `default:` backend');
  }
  const udpListener = listeners.find((l) => l.transport === 'udp');
  if (udpListener !== undefined && !served('udp') && udp.defaultBackend === undefined) {
    r.issues.push({ ...udpListener.pos, message: `listener "${udpListener.name}" takes UDP, but no route sends to a backend with transport: udp and there is no udp.default: every datagram would be dropped` });
  }

  const demo = compileDemo(r, top.get('demo')?.value ?? null);
  const admin = compileAdmin(r, top.get('admin')?.value ?? null);
  checkBindConflicts(r, bindSites(listeners, demo, admin));
  let level: string = DEFAULTS.logLevel;
  const log = top.get('log');
  if (log) {
    const m = r.map(log.value, 'log', LOG_KEYS);
    const lv = m?.get('level');
    if (lv) level = r.oneOf(lv.value, 'log.level', LOG_LEVELS) ?? level;
  }
  if (r.issues.length > 0) return undefined;
  const limits = compileLimits(r, top.get('limits')?.value ?? null);
  const userE = top.get('user');
  const user = userE ? r.name(userE.value, 'user') : undefined;
  const groupE = top.get('group');
  const group = groupE ? r.name(groupE.value, 'group') : undefined;
  const dataplaneE = top.get('dataplane');
  const dataplane = dataplaneE ? r.oneOf<DataplaneAsk>(dataplaneE.value, 'dataplane', DATAPLANE_ASKS) : undefined;
  if (r.issues.length > 0) return undefined;
  const warnings = [
    ...mixedInboundWarnings(listeners),
    ...adminWarnings(admin),
    ...unusedBackendWarnings(backends, routes, [defaultBackend, udp.defaultBackend]),
    ...shadowedRouteWarnings(routes, backends),
  ];
  const userPos = userE ? r.pos(userE.value) : undefined;
  const groupPos = groupE ? r.pos(groupE.value) : undefined;
  return { files: [r.file], warnings, limits, udp, user, group, userPos, groupPos, admin, ...(dataplane !== undefined ? { dataplane } : {}), listeners, inspect, timeouts, backends, routes, defaultBackend, demo, log: { level } };
}

function compileListeners(r: NodeReader, node: Node | null, present: boolean): ListenerConfig[] {
  const out: ListenerConfig[] = [];
  if (!present) return out;
  if (!r.isSeq(node)) {
    r.error(node, 'listeners must be a list, e.g. [{ bind: "127.0.0.1:8443" }]');
    return out;
  }
  const names = new Set<string>();
  r.list(node).forEach((item, i) => {
    const what = `listeners[${i}]`;
    let binds: Node[] = [];
    let name: string | undefined;
    let proxy: InboundProxyConfig = NO_INBOUND_PROXY;
    let maxConnections = 0;
    let transport: Transport = 'tcp';
    if (r.isMap(item)) {
      const m = r.map(item, what, LISTENER_KEYS);
      const t = m?.get('transport');
      if (t) transport = r.oneOf<Transport>(t.value, `${what}.transport`, TRANSPORTS) ?? 'tcp';
      for (const k of ['proxy_protocol', 'max_connections'] as const) {
        const e = m?.get(k);
        if (e && transport === 'udp') r.error(e.key, `${what}.${k} applies to TCP listeners only (UDP flows are bounded by the udp: section)`);
      }
      const mc = m?.get('max_connections');
      if (mc) maxConnections = r.int(mc.value, `${what}.max_connections`, 0, 10_000_000) ?? 0;
      const pp = m?.get('proxy_protocol');
      if (pp) proxy = compileInboundProxy(r, pp.value, `${what}.proxy_protocol`);
      const b = m?.get('bind');
      if (!b) r.error(item, `${what} needs bind: "host:port"`);
      else binds = r.list(b.value);
      const n = m?.get('name');
      if (n) name = r.name(n.value, `${what}.name`);
    } else {
      binds = [item];
    }
    binds.forEach((b, j) => {
      const text = r.string(b, `${what}.bind`);
      if (text === undefined) return;
      const hp = parseHostPort(text, { allowEmptyHost: true, allowPortZero: true });
      if (typeof hp === 'string') {
        r.error(b, `${what}.bind: ${hp}`);
        return;
      }
      // Unnamed: the address, and "/udp" for UDP, so TCP and UDP on one port are told apart.
      const fullName = name === undefined ? formatHostPort(hp) + (transport === 'udp' ? '/udp' : '') : binds.length > 1 ? `${name}#${j}` : name;
      if (names.has(fullName)) r.error(b, `${what}: duplicate listener "${fullName}"`);
      names.add(fullName);
      out.push({ name: fullName, transport, ...hp, proxy, maxConnections, pos: r.pos(b) });
    });
  });
  if (out.length === 0 && r.issues.length === 0) r.error(node, 'listeners needs at least one bind address');
  return out;
}

const NO_INBOUND_PROXY: InboundProxyConfig = Object.freeze({
  accept: 'off',
  trusted: [],
  timeoutMs: DEFAULTS.proxyHeaderTimeoutMs,
  maxBytes: DEFAULTS.proxyHeaderMaxBytes,
});

function compileInboundProxy(r: NodeReader, node: Node | null, what: string): InboundProxyConfig {
  const m = r.map(node, what, PROXY_PROTOCOL_KEYS);
  if (!m) return NO_INBOUND_PROXY;
  const acceptE = m.get('accept');
  const accept = acceptE ? (r.oneOf<ProxyAccept>(acceptE.value, `${what}.accept`, PROXY_ACCEPTS) ?? 'off') : 'off';
  const trusted: Cidr[] = [];
  const trustedE = m.get('trusted');
  for (const n of r.list(trustedE?.value ?? null)) {
    const text = r.string(n, `${what}.trusted`);
    if (text === undefined) continue;
    const c = parseCidr(text);
    if (typeof c === 'string') r.error(n, `${what}.trusted: ${c}`);
    else trusted.push(c);
  }
  if (accept !== 'off' && (!trustedE || r.list(trustedE.value).length === 0)) {
    r.error(acceptE?.value ?? node, `${what}: accept: ${accept} needs trusted: [CIDRs of your load balancers] (a header is honoured only from them; "0.0.0.0/0" and "::/0" trust everyone)`);
  }
  if (accept === 'off' && trustedE) r.error(trustedE.key, `${what}.trusted has no effect while accept is off: set accept to optional or required`);
  const t = m.get('timeout');
  const timeoutMs = t ? (r.duration(t.value, `${what}.timeout`, 1, 600_000) ?? DEFAULTS.proxyHeaderTimeoutMs) : DEFAULTS.proxyHeaderTimeoutMs;
  let maxBytes: number = DEFAULTS.proxyHeaderMaxBytes;
  const mb = m.get('max_bytes');
  if (mb) {
    const v = r.scalar(mb.value);
    const size = typeof v === 'string' || typeof v === 'number' ? parseSize(v) : undefined;
    if (size === undefined || size < 232 || size > 65551) r.error(mb.value, `${what}.max_bytes must be a size from 232 (the largest v1 line and v2 addresses) to 65551 bytes`);
    else maxBytes = size;
  }
  return { accept, trusted, timeoutMs, maxBytes };
}

/** The seed case: one listener takes PROXY headers, another does not; one load balancer in front of both breaks the second. */
function mixedInboundWarnings(listeners: readonly ListenerConfig[]): RulesConfig['warnings'] {
  const tcp = listeners.filter((l) => l.transport === 'tcp');
  const accepting = tcp.filter((l) => l.proxy.accept !== 'off');
  if (accepting.length === 0) return [];
  const names = accepting.map((l) => `"${l.name}"`).join(', ');
  const ranges = [...new Set(accepting.flatMap((l) => l.proxy.trusted.map((c) => `${c.address}/${c.prefix}`)))].join(', ');
  return tcp
    .filter((l) => l.proxy.accept === 'off')
    .map((l) => ({
      ...l.pos,
      message: `listener "${l.name}" does not accept PROXY headers, but ${names} accept(s) them from ${ranges}: if the same load balancer sends to both, "${l.name}" refuses its connections (TLS then fails with "wrong version number", HTTP with 400). Set proxy_protocol on "${l.name}" too, or ignore this if no load balancer reaches it.`,
    }));
}

function compileLimits(r: NodeReader, node: Node | null): LimitsConfig {
  const d: LimitsConfig = {
    maxConnections: DEFAULTS.maxConnections,
    perIpConnections: DEFAULTS.perIpConnections,
    perIpInspecting: DEFAULTS.perIpInspecting,
    perIpRate: DEFAULTS.perIpRate,
    perIpBurst: DEFAULTS.perIpBurst,
    trackedAddresses: DEFAULTS.trackedAddresses,
    inspectBufferTotal: DEFAULTS.inspectBufferTotal,
  };
  if (node === null) return d;
  const m = r.map(node, 'limits', LIMITS_KEYS);
  if (!m) return d;
  const int = (e: Entry | undefined, what: string, min: number, max: number, def: number): number => (e ? (r.int(e.value, what, min, max) ?? def) : def);
  const pi = m.get('per_ip');
  const p = pi ? r.map(pi.value, 'limits.per_ip', PER_IP_KEYS) : undefined;
  const rate = int(p?.get('rate'), 'limits.per_ip.rate', 0, 1_000_000, d.perIpRate);
  let total = d.inspectBufferTotal;
  const ib = m.get('inspect_buffer_total');
  if (ib) {
    const v = r.scalar(ib.value);
    const size = typeof v === 'string' || typeof v === 'number' ? parseSize(v) : undefined;
    if (size === undefined || size < 65536) r.error(ib.value, 'limits.inspect_buffer_total must be a size of at least 64k (e.g. 64m)');
    else total = size;
  }
  return {
    maxConnections: int(m.get('max_connections'), 'limits.max_connections', 1, 10_000_000, d.maxConnections),
    perIpConnections: int(p?.get('connections'), 'limits.per_ip.connections', 0, 10_000_000, d.perIpConnections),
    perIpInspecting: int(p?.get('inspecting'), 'limits.per_ip.inspecting', 0, 10_000_000, d.perIpInspecting),
    perIpRate: rate,
    perIpBurst: int(p?.get('burst'), 'limits.per_ip.burst', 1, 10_000_000, Math.max(rate * 2, 1)),
    trackedAddresses: int(m.get('tracked_addresses'), 'limits.tracked_addresses', 100, 10_000_000, d.trackedAddresses),
    inspectBufferTotal: total,
  };
}

function compileInspect(r: NodeReader, node: Node | null): RulesConfig['inspect'] {
  let timeoutMs: number = DEFAULTS.inspectTimeoutMs;
  let maxBytes: number = DEFAULTS.inspectMaxBytes;
  if (node === null) return { timeoutMs, maxBytes };
  const m = r.map(node, 'inspect', INSPECT_KEYS);
  const t = m?.get('timeout');
  if (t) timeoutMs = r.duration(t.value, 'inspect.timeout', 1, 600_000) ?? timeoutMs;
  const b = m?.get('max_bytes');
  if (b) {
    const v = r.scalar(b.value);
    const size = typeof v === 'string' || typeof v === 'number' ? parseSize(v) : undefined;
    if (size === undefined || size < 64 || size > 1048576) r.error(b.value, 'inspect.max_bytes must be a size from 64 to 1048576 bytes (e.g. 16384 or 16k)');
    else maxBytes = size;
  }
  return { timeoutMs, maxBytes };
}

function compileTimeouts(r: NodeReader, node: Node | null): RulesConfig['timeouts'] {
  let idleMs: number = DEFAULTS.idleTimeoutMs;
  if (node === null) return { idleMs };
  const m = r.map(node, 'timeouts', TIMEOUTS_KEYS);
  const idle = m?.get('idle');
  if (idle) idleMs = r.duration(idle.value, 'timeouts.idle', 1, 86_400_000) ?? idleMs;
  return { idleMs };
}




/** Everything the file binds, in the order `run` binds it (demo services bind before the listeners, but a clash is named at whichever comes later in the file's sections). */
function bindSites(listeners: readonly ListenerConfig[], demo: readonly DemoServiceConfig[], admin: AdminConfig | undefined): BindSite[] {
  return [
    ...listeners.map((l) => ({ host: l.host, port: l.port, transport: l.transport, what: `listener "${l.name}"`, at: `listener "${l.name}"`, pos: l.pos })),
    ...demo.map((d) => ({ ...d.listen, transport: 'tcp' as const, what: `demo service "${d.name}"`, at: `demo service "${d.name}"`, pos: d.pos })),
    ...(admin === undefined ? [] : [{ ...admin.listen, transport: 'tcp' as const, what: 'the admin endpoint', at: 'admin.listen', pos: admin.pos }]),
  ];
}

function compileDemo(r: NodeReader, node: Node | null): DemoServiceConfig[] {
  const out: DemoServiceConfig[] = [];
  if (node === null) return out;
  if (!r.isSeq(node)) {
    r.error(node, 'demo must be a list of { name, kind, listen }');
    return out;
  }
  r.list(node).forEach((item, i) => {
    const what = `demo[${i}]`;
    const m = r.map(item, what, DEMO_KEYS);
    if (!m) return;
    const name = m.has('name') ? r.name(m.get('name')!.value, `${what}.name`) : undefined;
    const kind = m.has('kind') ? r.oneOf<DemoKind>(m.get('kind')!.value, `${what}.kind`, DEMO_KINDS) : r.error(item, `${what} needs kind`);
    const listenText = m.has('listen') ? r.string(m.get('listen')!.value, `${what}.listen`) : r.error(item, `${what} needs listen: "127.0.0.1:port"`);
    if (listenText === undefined || kind === undefined) return;
    const hp = parseHostPort(listenText, { allowEmptyHost: false, allowPortZero: true });
    if (typeof hp === 'string') r.error(m.get('listen')!.value, `${what}.listen: ${hp}`);
    else out.push({ name: name ?? kind, kind, listen: hp, pos: r.pos(m.get('listen')!.value) });
  });
  return out;
}
