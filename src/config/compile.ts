/**
 * Turns a parsed rule-file document into an immutable RulesConfig, reporting every problem with
 * its file:line:col rather than stopping at the first.
 */
import type { Node } from 'yaml';
import { compileWhen } from './conditions.js';
import type { NodeReader } from './yaml-reader.js';
import type {
  BackendConfig,
  DemoKind,
  DemoServiceConfig,
  ListenerConfig,
  RouteConfig,
  RulesConfig,
  SendProxy,
  ServerConfig,
} from './types.js';
import { formatHostPort, parseHostPort, parseSize } from './units.js';

export const TOP_KEYS = ['listeners', 'inspect', 'timeouts', 'backends', 'routes', 'default', 'demo', 'log'] as const;
export const DEFAULTS = {
  inspectTimeoutMs: 3000,
  inspectMaxBytes: 16384,
  connectTimeoutMs: 5000,
  idleTimeoutMs: 600_000,
  logLevel: 'info',
} as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

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
    }
  }
  if (!top.has('listeners')) r.error(root, 'the rule file needs `listeners:` (where portplex accepts connections)');
  if (routes.length === 0 && defaultBackend === undefined) {
    r.error(root, 'the rule file needs at least one route or a `default:` backend');
  }

  const demo = compileDemo(r, top.get('demo')?.value ?? null);
  let level: string = DEFAULTS.logLevel;
  const log = top.get('log');
  if (log) {
    const m = r.map(log.value, 'log', ['level']);
    const lv = m?.get('level');
    if (lv) level = r.oneOf(lv.value, 'log.level', LOG_LEVELS) ?? level;
  }
  if (r.issues.length > 0) return undefined;
  return { files: [r.file], listeners, inspect, timeouts, backends, routes, defaultBackend, demo, log: { level } };
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
    if (r.isMap(item)) {
      const m = r.map(item, what, ['name', 'bind']);
      const b = m?.get('bind');
      if (!b) r.error(item, `${what} needs bind: "host:port"`);
      else binds = r.list(b.value);
      const n = m?.get('name');
      if (n) name = checkName(r, n.value, `${what}.name`);
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
      const fullName = name === undefined ? formatHostPort(hp) : binds.length > 1 ? `${name}#${j}` : name;
      if (names.has(fullName)) r.error(b, `${what}: duplicate listener "${fullName}"`);
      names.add(fullName);
      out.push({ name: fullName, ...hp });
    });
  });
  if (out.length === 0 && r.issues.length === 0) r.error(node, 'listeners needs at least one bind address');
  return out;
}

function compileInspect(r: NodeReader, node: Node | null): RulesConfig['inspect'] {
  let timeoutMs: number = DEFAULTS.inspectTimeoutMs;
  let maxBytes: number = DEFAULTS.inspectMaxBytes;
  if (node === null) return { timeoutMs, maxBytes };
  const m = r.map(node, 'inspect', ['timeout', 'max_bytes']);
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
  const m = r.map(node, 'timeouts', ['idle']);
  const idle = m?.get('idle');
  if (idle) idleMs = r.duration(idle.value, 'timeouts.idle', 1, 86_400_000) ?? idleMs;
  return { idleMs };
}

function checkName(r: NodeReader, node: Node | null, what: string): string | undefined {
  const s = r.string(node, what);
  if (s !== undefined && !NAME.test(s)) return r.error(node, `${what}: "${s}" must be letters, digits, "_", "." or "-" (at most 64)`);
  return s;
}

function compileBackends(r: NodeReader, node: Node | null): Map<string, BackendConfig> {
  const out = new Map<string, BackendConfig>();
  if (node === null) return out;
  const m = r.map(node, 'backends', null);
  if (!m) return out;
  for (const [name, { key, value }] of m) {
    const what = `backends.${name}`;
    if (checkName(r, key, what) === undefined) continue;
    const b = r.map(value, what, ['servers', 'send_proxy', 'connect_timeout']);
    if (!b) continue;
    const sendProxyE = b.get('send_proxy');
    const sendProxy: SendProxy = sendProxyE ? (r.oneOf<SendProxy>(sendProxyE.value, `${what}.send_proxy`, ['off', 'v1', 'v2']) ?? 'off') : 'off';
    const ct = b.get('connect_timeout');
    const connectTimeoutMs = ct ? (r.duration(ct.value, `${what}.connect_timeout`, 1, 600_000) ?? 0) : DEFAULTS.connectTimeoutMs;
    const servers: ServerConfig[] = [];
    const sv = b.get('servers');
    if (!sv) r.error(value, `${what} needs servers: ["host:port", ...]`);
    for (const [i, s] of r.list(sv?.value ?? null).entries()) {
      const sw = `${what}.servers[${i}]`;
      let addrNode: Node | null = s;
      let backup = false;
      if (r.isMap(s)) {
        const sm = r.map(s, sw, ['address', 'backup']);
        addrNode = sm?.get('address')?.value ?? null;
        if (!sm?.has('address')) r.error(s, `${sw} needs address: "host:port"`);
        const bk = sm?.get('backup');
        if (bk) backup = r.boolean(bk.value, `${sw}.backup`) ?? false;
        if (!sm?.has('address')) continue;
      }
      const text = r.string(addrNode, `${sw}.address`);
      if (text === undefined) continue;
      const hp = parseHostPort(text, { allowEmptyHost: false });
      if (typeof hp === 'string') r.error(addrNode, `${sw}: ${hp}`);
      else servers.push({ ...hp, address: formatHostPort(hp), backup });
    }
    if (sv && servers.length > 0 && servers.every((s) => s.backup)) r.error(sv.value, `${what}: every server is a backup; mark at least one as primary`);
    if (sv && r.list(sv.value).length === 0) r.error(sv.value, `${what}.servers needs at least one server`);
    out.set(name, { name, sendProxy, connectTimeoutMs, servers });
  }
  return out;
}

function compileRoutes(r: NodeReader, node: Node | null, backends: ReadonlyMap<string, BackendConfig>): RouteConfig[] {
  const out: RouteConfig[] = [];
  if (node === null) return out;
  if (!r.isSeq(node)) {
    r.error(node, 'routes must be a list of { name, when, to }');
    return out;
  }
  const names = new Set<string>();
  r.list(node).forEach((item, i) => {
    const what = `routes[${i}]`;
    const m = r.map(item, what, ['name', 'when', 'to']);
    if (!m) return;
    const nameE = m.get('name');
    const name = nameE ? checkName(r, nameE.value, `${what}.name`) : `route-${i + 1}`;
    if (name !== undefined && names.has(name)) r.error(nameE?.value ?? item, `${what}: duplicate route name "${name}"`);
    if (name !== undefined) names.add(name);
    const when = compileWhen(r, m.get('when')?.value ?? null, `routes.${name ?? i}.when`);
    const toE = m.get('to');
    if (!toE) {
      r.error(item, `${what} needs to: <backend name>`);
      return;
    }
    const to = r.string(toE.value, `${what}.to`);
    if (to !== undefined && !backends.has(to)) {
      r.error(toE.value, `${what}.to: unknown backend "${to}" (defined: ${[...backends.keys()].join(', ') || 'none'})`);
    }
    if (name !== undefined && to !== undefined) out.push({ name, when, to, pos: r.pos(item) });
  });
  return out;
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
    const m = r.map(item, what, ['name', 'kind', 'listen']);
    if (!m) return;
    const name = m.has('name') ? checkName(r, m.get('name')!.value, `${what}.name`) : undefined;
    const kind = m.has('kind') ? r.oneOf<DemoKind>(m.get('kind')!.value, `${what}.kind`, ['https', 'http', 'banner']) : r.error(item, `${what} needs kind`);
    const listenText = m.has('listen') ? r.string(m.get('listen')!.value, `${what}.listen`) : r.error(item, `${what} needs listen: "127.0.0.1:port"`);
    if (listenText === undefined || kind === undefined) return;
    const hp = parseHostPort(listenText, { allowEmptyHost: false, allowPortZero: true });
    if (typeof hp === 'string') r.error(m.get('listen')!.value, `${what}.listen: ${hp}`);
    else out.push({ name: name ?? kind, kind, listen: hp });
  });
  return out;
}
