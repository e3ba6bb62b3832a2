/**
 * The `backends:` section: servers (weight, backup, max_connections, send_proxy), balancing,
 * retries, active and passive health checks, socket options, PROXY v2 options.
 */
import type { Node } from 'yaml';
import { DEFAULTS } from './defaults.js';
import type { NodeReader } from './yaml-reader.js';
import { TRANSPORTS, type Balance, type BackendConfig, type HealthCheckType, type HealthConfig, type PassiveConfig, type ProxyV2Options, type SendProxy, type ServerConfig, type Transport } from './types.js';
import { formatHostPort, parseHostPort } from './units.js';
import { compilePattern } from './rule-pattern.js';

export const BACKEND_KEYS = ['servers', 'transport', 'send_proxy', 'connect_timeout', 'proxy_v2', 'balance', 'retries', 'health', 'passive', 'keepalive', 'nodelay', 'transparent'] as const;
export const SERVER_KEYS = ['address', 'backup', 'weight', 'max_connections', 'send_proxy', 'transparent'] as const;
export const HEALTH_KEYS = ['type', 'interval', 'timeout', 'rise', 'fall', 'send_proxy', 'sni', 'alpn', 'send', 'send_hex', 'expect', 'expect_hex', 'expect_regex'] as const;
export const SEND_PROXY: readonly SendProxy[] = ['off', 'v1', 'v2'];
export const BALANCES: readonly Balance[] = ['roundrobin', 'leastconn', 'source', 'first'];
export const HEALTH_TYPES: readonly HealthCheckType[] = ['tcp', 'tls'];
export const PASSIVE_KEYS = ['failures', 'cooldown'] as const;
export const PROXY_V2_KEYS = ['authority', 'alpn', 'unique_id', 'crc32c', 'pass_tlvs', 'datagrams'] as const;
export const PROXY_V2_DATAGRAMS: readonly ProxyV2Options['datagrams'][] = ['first', 'every'];
/** Keys about TCP connections: a UDP backend has no connect, no keep-alive and no health check. */
const TCP_ONLY_BACKEND_KEYS = ['connect_timeout', 'retries', 'health', 'passive', 'keepalive', 'nodelay', 'transparent'] as const;

export function compileBackends(r: NodeReader, node: Node | null): Map<string, BackendConfig> {
  const out = new Map<string, BackendConfig>();
  if (node === null) return out;
  const m = r.map(node, 'backends', null);
  if (!m) return out;
  for (const [name, { key, value }] of m) {
    const what = `backends.${name}`;
    if (r.name(key, what) === undefined) continue;
    const b = r.map(value, what, BACKEND_KEYS);
    if (!b) continue;
    const get = (k: (typeof BACKEND_KEYS)[number]): Node | null | undefined => (b.has(k) ? b.get(k)!.value : undefined);
    const tr = get('transport');
    const transport: Transport = tr !== undefined ? (r.oneOf<Transport>(tr, `${what}.transport`, TRANSPORTS) ?? 'tcp') : 'tcp';
    if (transport === 'udp') {
      for (const k of TCP_ONLY_BACKEND_KEYS) if (b.has(k)) r.error(b.get(k)!.key, `${what}.${k} applies to TCP backends only (this one has transport: udp)`);
    }
    const sp = get('send_proxy');
    const sendProxy: SendProxy = sp !== undefined ? (r.oneOf(sp, `${what}.send_proxy`, SEND_PROXY) ?? 'off') : 'off';
    const ct = get('connect_timeout');
    const connectTimeoutMs = ct !== undefined ? (r.duration(ct, `${what}.connect_timeout`, 1, 600_000) ?? 0) : DEFAULTS.connectTimeoutMs;
    const tp = get('transparent');
    const transparent = tp !== undefined ? (r.boolean(tp, `${what}.transparent`) ?? false) : false;
    const servers = compileServers(r, b.has('servers') ? b.get('servers')!.value : undefined, value, what, sendProxy, transparent);
    if (transport === 'udp') for (const [i, s] of servers.entries()) if (s.transparent && !transparent) r.error(value, `${what}.servers[${i}].transparent applies to TCP backends only`);
    const v2E = b.get('proxy_v2');
    const proxyV2 = v2E ? compileProxyV2(r, v2E.value, `${what}.proxy_v2`, transport) : DEFAULT_PROXY_V2;
    if (v2E && sendProxy !== 'v2' && !servers.some((s) => s.sendProxy === 'v2')) r.error(v2E.key, `${what}.proxy_v2 applies only with send_proxy: v2`);
    if (transport === 'udp' && (sendProxy === 'v1' || servers.some((s) => s.sendProxy === 'v1'))) {
      r.error(sp ?? value, `${what}: PROXY v1 has no UDP form (haproxy proxy-protocol.txt §2.1 knows TCP4 and TCP6 only): use send_proxy: v2`);
    }
    const bal = get('balance');
    const balance: Balance = bal !== undefined ? (r.oneOf(bal, `${what}.balance`, BALANCES) ?? DEFAULTS.balance) : DEFAULTS.balance;
    const rt = get('retries');
    const retries = rt !== undefined ? (r.int(rt, `${what}.retries`, 0, 16) ?? DEFAULTS.retries) : DEFAULTS.retries;
    const h = get('health');
    const health = h !== undefined && !r.isNull(h) ? compileHealth(r, h, `${what}.health`) : undefined;
    const p = get('passive');
    const passive = p !== undefined ? compilePassive(r, p, `${what}.passive`) : DEFAULT_PASSIVE;
    const ka = get('keepalive');
    let keepAliveMs: number | undefined;
    if (ka !== undefined && r.scalar(ka) !== false) keepAliveMs = r.scalar(ka) === true ? 60_000 : r.duration(ka, `${what}.keepalive`, 1000, 86_400_000);
    const nd = get('nodelay');
    const noDelay = nd !== undefined ? (r.boolean(nd, `${what}.nodelay`) ?? true) : true;
    out.set(name, { name, transport, sendProxy, proxyV2, connectTimeoutMs, balance, retries, health, passive, keepAliveMs, noDelay, servers, pos: r.pos(key) });
  }
  return out;
}

function compileServers(r: NodeReader, node: Node | null | undefined, parent: Node | null, what: string, backendSendProxy: SendProxy, backendTransparent: boolean): ServerConfig[] {
  const servers: ServerConfig[] = [];
  if (node === undefined) {
    r.error(parent, `${what} needs servers: ["host:port", ...]`);
    return servers;
  }
  const items = r.list(node);
  if (items.length === 0) r.error(node, `${what}.servers needs at least one server`);
  for (const [i, s] of items.entries()) {
    const sw = `${what}.servers[${i}]`;
    let addrNode: Node | null = s;
    let backup = false;
    let weight = 1;
    let maxConnections = 0;
    let sendProxy = backendSendProxy;
    let transparent = backendTransparent;
    if (r.isMap(s)) {
      const sm = r.map(s, sw, SERVER_KEYS);
      if (!sm?.has('address')) {
        r.error(s, `${sw} needs address: "host:port"`);
        continue;
      }
      addrNode = sm.get('address')!.value;
      const bk = sm.get('backup');
      if (bk) backup = r.boolean(bk.value, `${sw}.backup`) ?? false;
      const w = sm.get('weight');
      if (w) weight = r.int(w.value, `${sw}.weight`, 1, 256) ?? 1;
      const mc = sm.get('max_connections');
      if (mc) maxConnections = r.int(mc.value, `${sw}.max_connections`, 0, 1_000_000) ?? 0;
      const sp = sm.get('send_proxy');
      if (sp) sendProxy = r.oneOf(sp.value, `${sw}.send_proxy`, SEND_PROXY) ?? sendProxy;
      const tp = sm.get('transparent');
      if (tp) transparent = r.boolean(tp.value, `${sw}.transparent`) ?? transparent;
    }
    const text = r.string(addrNode, `${sw}.address`);
    if (text === undefined) continue;
    const hp = parseHostPort(text, { allowEmptyHost: false });
    if (typeof hp === 'string') r.error(addrNode, `${sw}: ${hp}`);
    else servers.push({ ...hp, address: formatHostPort(hp), backup, weight, maxConnections, sendProxy, transparent });
  }
  if (servers.length > 0 && servers.every((s) => s.backup)) r.error(node, `${what}: every server is a backup; mark at least one as primary`);
  return servers;
}

function compileHealth(r: NodeReader, node: Node | null, what: string): HealthConfig | undefined {
  const m = r.map(node, what, HEALTH_KEYS);
  if (!m) return undefined;
  const v = (k: (typeof HEALTH_KEYS)[number]): Node | null | undefined => (m.has(k) ? m.get(k)!.value : undefined);
  const t = v('type');
  const type: HealthCheckType = t !== undefined ? (r.oneOf<HealthCheckType>(t, `${what}.type`, HEALTH_TYPES) ?? 'tcp') : 'tcp';
  const iv = v('interval');
  const intervalMs = iv !== undefined ? (r.duration(iv, `${what}.interval`, 100, 3_600_000) ?? DEFAULTS.healthIntervalMs) : DEFAULTS.healthIntervalMs;
  const to = v('timeout');
  const timeoutMs = to !== undefined ? (r.duration(to, `${what}.timeout`, 10, 600_000) ?? DEFAULTS.healthTimeoutMs) : Math.min(DEFAULTS.healthTimeoutMs, intervalMs);
  if (timeoutMs > intervalMs) r.error(to ?? node, `${what}.timeout must not exceed the interval (${intervalMs}ms)`);
  const rise = v('rise') !== undefined ? (r.int(v('rise')!, `${what}.rise`, 1, 100) ?? DEFAULTS.healthRise) : DEFAULTS.healthRise;
  const fall = v('fall') !== undefined ? (r.int(v('fall')!, `${what}.fall`, 1, 100) ?? DEFAULTS.healthFall) : DEFAULTS.healthFall;
  const sp = v('send_proxy');
  const sendProxy = sp !== undefined ? (r.boolean(sp, `${what}.send_proxy`) ?? true) : true;
  const sniN = v('sni');
  const sni = sniN !== undefined ? r.string(sniN, `${what}.sni`) : undefined;
  const alpn = v('alpn') !== undefined ? r.list(v('alpn')!).map((n) => r.string(n, `${what}.alpn`)).filter((x): x is string => x !== undefined) : [];
  if (type !== 'tls' && (sniN !== undefined || m.has('alpn'))) r.error(sniN ?? m.get('alpn')!.key, `${what}: sni and alpn apply only with type: tls`);
  const send = bytesOf(r, v('send'), v('send_hex'), `${what}.send`);
  let expect: HealthConfig['expect'];
  const exBytes = bytesOf(r, v('expect'), v('expect_hex'), `${what}.expect`);
  if (exBytes !== undefined) expect = { kind: 'bytes', bytes: exBytes };
  const rx = v('expect_regex');
  if (rx !== undefined) {
    if (expect !== undefined) r.error(rx, `${what}: use one of expect, expect_hex, expect_regex`);
    const src = r.string(rx, `${what}.expect_regex`);
    const regex = src === undefined ? undefined : compilePattern(r, rx, `${what}.expect_regex`, src, false);
    if (regex) expect = { kind: 'regex', regex };
  }
  return { type, intervalMs, timeoutMs, rise, fall, sendProxy, sni, alpn, send, expect };
}

/** `key: "text"` (YAML escapes such as \r\n apply; sent as UTF-8) or `key_hex: "0d0a"`. */
function bytesOf(r: NodeReader, text: Node | null | undefined, hex: Node | null | undefined, what: string): Uint8Array | undefined {
  if (text !== undefined && hex !== undefined) r.error(hex, `${what}: use either ${what.split('.').pop()} or ${what.split('.').pop()}_hex`);
  if (text !== undefined) {
    const s = r.string(text, what);
    return s === undefined ? undefined : Buffer.from(s, 'utf8');
  }
  if (hex !== undefined) {
    const s = r.string(hex, `${what}_hex`);
    const compact = s?.replace(/[\s:]/g, '') ?? '';
    if (s !== undefined && !/^([0-9a-fA-F]{2})+$/.test(compact)) return r.error(hex, `${what}_hex: "${s}" must be hex bytes`);
    return s === undefined ? undefined : Buffer.from(compact, 'hex');
  }
  return undefined;
}

const DEFAULT_PASSIVE: PassiveConfig = Object.freeze({ failures: DEFAULTS.passiveFailures, cooldownMs: DEFAULTS.passiveCooldownMs });

function compilePassive(r: NodeReader, node: Node | null, what: string): PassiveConfig {
  if (r.scalar(node) === false) return { failures: 0, cooldownMs: DEFAULTS.passiveCooldownMs };
  const m = r.map(node, what, PASSIVE_KEYS);
  if (!m) return DEFAULT_PASSIVE;
  const f = m.get('failures');
  const c = m.get('cooldown');
  return {
    failures: f ? (r.int(f.value, `${what}.failures`, 0, 1000) ?? DEFAULTS.passiveFailures) : DEFAULTS.passiveFailures,
    cooldownMs: c ? (r.duration(c.value, `${what}.cooldown`, 100, 86_400_000) ?? DEFAULTS.passiveCooldownMs) : DEFAULTS.passiveCooldownMs,
  };
}

const DEFAULT_PROXY_V2: ProxyV2Options = Object.freeze({ authority: true, alpn: true, uniqueId: false, crc32c: false, passTlvs: [], datagrams: 'first' });

function compileProxyV2(r: NodeReader, node: Node | null, what: string, transport: Transport): ProxyV2Options {
  const m = r.map(node, what, PROXY_V2_KEYS);
  if (!m) return DEFAULT_PROXY_V2;
  const flag = (key: string, def: boolean): boolean => {
    const e = m.get(key);
    return e ? (r.boolean(e.value, `${what}.${key}`) ?? def) : def;
  };
  const passTlvs: number[] = [];
  for (const n of r.list(m.get('pass_tlvs')?.value ?? null)) {
    const v = r.scalar(n);
    const num = typeof v === 'number' ? v : typeof v === 'string' && /^0x[0-9a-f]{1,2}$/i.test(v) ? parseInt(v, 16) : NaN;
    if (!Number.isInteger(num) || num < 0 || num > 255) r.error(n, `${what}.pass_tlvs: a TLV type is a number from 0 to 255 (e.g. 0xEA)`);
    else if ([0x01, 0x02, 0x03, 0x04, 0x05].includes(num)) r.error(n, `${what}.pass_tlvs: type 0x0${num.toString(16)} is written by portplex itself; use the authority/alpn/unique_id/crc32c switches`);
    else passTlvs.push(num);
  }
  const dg = m.get('datagrams');
  if (dg && transport !== 'udp') r.error(dg.key, `${what}.datagrams applies to backends with transport: udp only`);
  const datagrams = dg ? (r.oneOf(dg.value, `${what}.datagrams`, PROXY_V2_DATAGRAMS) ?? 'first') : 'first';
  return { authority: flag('authority', true), alpn: flag('alpn', true), uniqueId: flag('unique_id', false), crc32c: flag('crc32c', false), passTlvs, datagrams };
}
