/**
 * The `admin:` section: where the admin endpoint (/metrics, /healthz, /readyz, the status page)
 * listens, and how often the status page reloads itself. Off unless the section is present.
 */
import { BlockList, isIP } from 'node:net';
import type { Node } from 'yaml';
import { DEFAULTS } from './defaults.js';
import type { NodeReader } from './yaml-reader.js';
import type { AdminConfig, RulesConfig } from './types.js';
import { formatHostPort, parseHostPort } from './units.js';

export const ADMIN_KEYS = ['listen', 'status_refresh'] as const;

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
  if (statusRefreshMs === undefined) return undefined;
  return { listen: hp, statusRefreshMs, pos: r.pos(listenE.value) };
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
