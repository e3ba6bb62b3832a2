/**
 * The `admin:` section: where the admin endpoint (/metrics, /healthz, /readyz, the status page)
 * listens, which Host names it answers besides its own address, the file holding its bearer
 * token, and how often the status page reloads itself. Off unless the section is present.
 */
import { BlockList, isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { Node } from 'yaml';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../protocols/ip/address.js';
import { DEFAULTS } from './defaults.js';
import type { NodeReader } from './yaml-reader.js';
import type { AdminConfig, RulesConfig } from './types.js';
import { formatHostPort, isHostName, parseHostPort } from './units.js';

export const ADMIN_KEYS = ['listen', 'status_refresh', 'allowed_hosts', 'token_file'] as const;

export function compileAdmin(r: NodeReader, node: Node | null): AdminConfig | undefined {
  if (node === null) return undefined;
  const m = r.map(node, 'admin', ADMIN_KEYS);
  if (!m) return undefined;
  const refreshE = m.get('status_refresh');
  const statusRefreshMs = refreshE ? r.duration(refreshE.value, 'admin.status_refresh', 1000, 3_600_000) : DEFAULTS.adminStatusRefreshMs;
  const listenE = m.get('listen');
  if (!listenE) return r.error(node, 'admin needs listen: "127.0.0.1:9900" (where /metrics, /healthz, /readyz and the status page answer)');
  const text = r.string(listenE.value, 'admin.listen');
  if (text === undefined) return undefined;
  const hp = parseHostPort(text, { allowEmptyHost: true, allowPortZero: true });
  if (typeof hp === 'string') return r.error(listenE.value, `admin.listen: ${hp}`);
  const hostsE = m.get('allowed_hosts');
  const allowedHosts = hostsE ? compileAllowedHosts(r, hostsE.value) : [];
  const fileE = m.get('token_file');
  const fileText = fileE ? r.string(fileE.value, 'admin.token_file') : undefined;
  if (statusRefreshMs === undefined || allowedHosts === undefined || (fileE && fileText === undefined)) return undefined;
  // A relative path is read from the directory of the rule file that names it, wherever portplex was started.
  const tokenFile = fileE && fileText !== undefined ? { path: resolve(dirname(r.pos(fileE.value).file), fileText), pos: r.pos(fileE.value) } : undefined;
  return { listen: hp, statusRefreshMs, allowedHosts, tokenFile, tokenDigest: undefined, pos: r.pos(listenE.value) };
}

/** Host names (lowercase) and IP addresses (canonical text, IPv6 with or without brackets) for the Host check. */
function compileAllowedHosts(r: NodeReader, node: Node | null): string[] | undefined {
  if (!r.isSeq(node)) return r.error(node, 'admin.allowed_hosts must be a list of host names or addresses, e.g. ["portplex-admin.monitoring.svc"]');
  const out: string[] = [];
  let ok = true;
  for (const item of r.list(node)) {
    const text = r.string(item, 'admin.allowed_hosts[]');
    if (text === undefined) {
      ok = false;
      continue;
    }
    const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
    const v4 = parseIPv4(bare);
    const v6 = v4 === undefined ? parseIPv6(bare) : undefined;
    if (v4 !== undefined) out.push(formatIPv4(v4));
    else if (v6 !== undefined) out.push(formatIPv6(v6));
    else if (isHostName(text)) out.push(text.toLowerCase());
    else {
      r.error(item, `admin.allowed_hosts: "${text}" is neither a host name nor an IP address (no port, no wildcard: list each name)`);
      ok = false;
    }
  }
  return ok ? out : undefined;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (BlockList also sees IPv4-mapped forms such as ::ffff:127.0.0.1) and "localhost". */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Binding the admin endpoint beyond loopback is legitimate (Kubernetes probes and Prometheus
 * scrape over the pod network), but it publishes backend addresses and traffic counts there.
 */
export function adminWarnings(admin: AdminConfig | undefined): RulesConfig['warnings'] {
  if (admin === undefined || isLoopbackHost(admin.listen.host)) return [];
  return [
    {
      ...admin.pos,
      message: `admin.listen ${formatHostPort(admin.listen)} is not a loopback address: /metrics, /status.json and the status page (routes, backend and server addresses, connection counts) are then reachable from that network. Restrict it with a firewall or a NetworkPolicy, or bind 127.0.0.1 if only local probes and scrapes need it.`,
    },
  ];
}
