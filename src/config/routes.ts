/**
 * The `routes:` list: each route has a name, conditions (`when:`) and exactly one action —
 * `to: <backend>`, `connect: {...}` (HTTP CONNECT tunnels) or `sni_forward: {...}`.
 */
import type { Node } from 'yaml';
import { compileNames, compilePortRanges, compileWhen } from './conditions.js';
import type { NodeReader } from './yaml-reader.js';
import type { BackendConfig, Cidr, ConnectActionConfig, ForwardAllowlist, NamePattern, ProxyCredential, RouteAction, RouteConfig, SniForwardConfig } from './types.js';
import { parseCidr } from './units.js';
import { parseIPv6 } from '../protocols/ip/address.js';
import { embeddingNetwork, endsInNumber } from '../protocols/ip/canonical.js';
import { DEFAULTS } from './defaults.js';

export const ROUTE_KEYS = ['name', 'when', 'to', 'connect', 'sni_forward'] as const;
export const ACTIONS = ['to', 'connect', 'sni_forward'] as const;
export const CONNECT_KEYS = ['ports', 'hosts', 'auth', 'connect_timeout'] as const;
export const SNI_FORWARD_KEYS = ['port', 'hosts', 'fallback', 'connect_timeout'] as const;
export const AUTH_KEYS = ['user', 'password', 'password_env'] as const;

export function compileRoutes(r: NodeReader, node: Node | null, backends: ReadonlyMap<string, BackendConfig>): RouteConfig[] {
  const out: RouteConfig[] = [];
  if (node === null) return out;
  if (!r.isSeq(node)) {
    r.error(node, 'routes must be a list of { name, when, to }');
    return out;
  }
  const names = new Set<string>();
  r.list(node).forEach((item, i) => {
    const what = `routes[${i}]`;
    const m = r.map(item, what, ROUTE_KEYS);
    if (!m) return;
    const nameE = m.get('name');
    const name = nameE ? r.name(nameE.value, `${what}.name`) : `route-${i + 1}`;
    if (name !== undefined && names.has(name)) r.error(nameE?.value ?? item, `${what}: duplicate route name "${name}"`);
    if (name !== undefined) names.add(name);
    const when = compileWhen(r, m.get('when')?.value ?? null, `routes.${name ?? i}.when`);
    const given = ACTIONS.filter((a) => m.has(a));
    if (given.length !== 1) {
      r.error(given.length > 1 ? m.get(given[1]!)!.key : item, `${what} needs exactly one of: to: <backend>, connect: {...}, sni_forward: {...}`);
      return;
    }
    const action = compileAction(r, given[0]!, m.get(given[0]!)!.value, `routes.${name ?? i}`, backends);
    if (name !== undefined && action !== undefined) out.push({ name, when, action, pos: r.pos(item) });
  });
  return out;
}

function compileAction(r: NodeReader, kind: (typeof ACTIONS)[number], node: Node | null, what: string, backends: ReadonlyMap<string, BackendConfig>): RouteAction | undefined {
  if (kind === 'to') {
    const to = backendName(r, node, `${what}.to`, backends);
    return to === undefined ? undefined : { kind: 'backend', backend: to };
  }
  if (kind === 'connect') {
    const c = compileConnect(r, node, `${what}.connect`);
    return c === undefined ? undefined : { kind: 'connect', connect: c };
  }
  const f = compileSniForward(r, node, `${what}.sni_forward`, backends);
  return f === undefined ? undefined : { kind: 'sni-forward', forward: f };
}

function backendName(r: NodeReader, node: Node | null, what: string, backends: ReadonlyMap<string, BackendConfig>): string | undefined {
  const to = r.string(node, what);
  if (to !== undefined && !backends.has(to)) return r.error(node, `${what}: unknown backend "${to}" (defined: ${[...backends.keys()].join(', ') || 'none'})`);
  return to;
}

/** `connect: { ports: [443], hosts: [...], auth: [...], connect_timeout: 5s }`; `connect: {}` or `connect: true` takes the defaults. */
function compileConnect(r: NodeReader, node: Node | null, what: string): ConnectActionConfig | undefined {
  const defaults: ConnectActionConfig = { ports: [[443, 443]], hosts: undefined, auth: undefined, connectTimeoutMs: DEFAULTS.connectTimeoutMs };
  if (r.isNull(node) || r.scalar(node) === true) return defaults;
  const m = r.map(node, what, CONNECT_KEYS);
  if (!m) return undefined;
  const ports = m.has('ports') ? compilePortRanges(r, m.get('ports')!.value, `${what}.ports`) : defaults.ports;
  const hosts = m.has('hosts') ? compileAllowlist(r, m.get('hosts')!.value, `${what}.hosts`) : undefined;
  const auth = m.has('auth') ? compileAuth(r, m.get('auth')!.value, `${what}.auth`) : undefined;
  const ct = m.get('connect_timeout');
  const connectTimeoutMs = ct ? (r.duration(ct.value, `${what}.connect_timeout`, 1, 600_000) ?? DEFAULTS.connectTimeoutMs) : DEFAULTS.connectTimeoutMs;
  return { ports, hosts, auth, connectTimeoutMs };
}

function compileSniForward(r: NodeReader, node: Node | null, what: string, backends: ReadonlyMap<string, BackendConfig>): SniForwardConfig | undefined {
  const m = r.map(node, what, SNI_FORWARD_KEYS);
  if (!m) return undefined;
  const p = m.get('port');
  const port = p ? (r.int(p.value, `${what}.port`, 1, 65535) ?? 443) : 443;
  if (!m.has('hosts')) r.error(node, `${what} needs hosts: [...] (an SNI forwarder without an allowlist is an open relay)`);
  const hosts = m.has('hosts') ? compileAllowlist(r, m.get('hosts')!.value, `${what}.hosts`) : undefined;
  const fb = m.get('fallback');
  const fallback = fb ? backendName(r, fb.value, `${what}.fallback`, backends) : undefined;
  const ct = m.get('connect_timeout');
  const connectTimeoutMs = ct ? (r.duration(ct.value, `${what}.connect_timeout`, 1, 600_000) ?? DEFAULTS.connectTimeoutMs) : DEFAULTS.connectTimeoutMs;
  return { port, hosts, fallback, connectTimeoutMs };
}


/** Names ("example.com", "*.example.com") and addresses ("10.0.0.0/8", "192.0.2.7"). */
function compileAllowlist(r: NodeReader, node: Node | null, what: string): ForwardAllowlist {
  const names: NamePattern[] = [];
  const cidrs: Cidr[] = [];
  const nameNodes: Node[] = [];
  for (const n of r.list(node)) {
    const s = r.string(n, what);
    if (s === undefined) continue;
    if (/^[0-9.]+(\/\d+)?$/.test(s) || s.includes(':')) {
      const c = parseCidr(s);
      const inside = typeof c === 'string' || c.family === 'ipv4' ? undefined : embeddingNetwork(parseIPv6(c.address)!, c.prefix);
      if (typeof c === 'string') r.error(n, `${what}: ${c}`);
      // The SSRF guard judges these addresses by the IPv4 address they carry, never as IPv6.
      else if (inside !== undefined) r.error(n, `${what}: "${s}" lies inside ${inside.name}, whose addresses are judged by the IPv4 address they carry: list ${inside.ipv4 ?? 'the IPv4 addresses'} instead`);
      else cidrs.push(c);
    } else if (s.startsWith('~')) {
      r.error(n, `${what}: regular expressions are not allowed in a forward allowlist; list names or *.suffix`);
    } else if (endsInNumber(s)) {
      r.error(n, `${what}: "${s}" ends in a number, so it is no DNS name (getaddrinfo would read it as an IPv4 address): write an address as four decimal octets`);
    } else nameNodes.push(n);
  }
  for (const n of nameNodes) names.push(...compileNames(r, n, what));
  if (r.list(node).length === 0) r.error(node, `${what} needs at least one host, *.suffix or CIDR`);
  return { names, cidrs };
}

/** `auth: [{ user, password }]` or `{ user, password_env: VAR }`: Basic credentials (RFC 7617). */
function compileAuth(r: NodeReader, node: Node | null, what: string): ProxyCredential[] {
  const out: ProxyCredential[] = [];
  for (const [i, n] of r.list(node).entries()) {
    const w = `${what}[${i}]`;
    const m = r.map(n, w, AUTH_KEYS);
    if (!m) continue;
    const user = m.has('user') ? r.string(m.get('user')!.value, `${w}.user`) : r.error(n, `${w} needs user`);
    if (user?.includes(':')) r.error(m.get('user')!.value, `${w}.user must not contain ":" (RFC 7617 §2)`);
    let password: string | undefined;
    if (m.has('password') === m.has('password_env')) r.error(n, `${w} needs exactly one of password, password_env`);
    else if (m.has('password')) password = r.string(m.get('password')!.value, `${w}.password`);
    else {
      const env = r.string(m.get('password_env')!.value, `${w}.password_env`);
      password = env === undefined ? undefined : process.env[env];
      if (env !== undefined && (password === undefined || password === '')) r.error(m.get('password_env')!.value, `${w}.password_env: the environment variable ${env} is not set`);
    }
    if (user !== undefined && password !== undefined) out.push({ user, password });
  }
  if (r.list(node).length === 0) r.error(node, `${what} needs at least one { user, password }`);
  return out;
}
