/**
 * What `run` would refuse at start that depends on the machine rather than on the rule file:
 * the privilege plan (root without `user:`, a user or group that does not exist), ports below
 * the unprivileged range without CAP_NET_BIND_SERVICE, addresses that are not this machine's, names
 * that do not resolve.
 * `check` runs it with the facts of its own process and machine, so a refusal that is certain
 * here (started as root, a user missing from the passwd file) is an error, and one that depends
 * on how `run` will be started (another user, another machine, --allow-root) is a warning.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ConfigIssue } from '../config/yaml-reader.js';
import type { HostPort, RulesConfig, SourcePos } from '../config/types.js';
import { formatHostPort } from '../config/units.js';
import type { ErrorCode } from '../errors.js';
import { planPrivileges, primaryGroupOf } from './privileges.js';
import { hasNetAdmin, transparentServers, transparentWhich } from '../transparent/requirements.js';
import { CAP_NET_BIND_SERVICE, hasEffectiveCapability } from '../net/capabilities.js';
import { loadAddon } from '../native/addon.js';

/** The machine as `run` would meet it; each answer undefined when it cannot be told without trying. */
export interface HostFacts {
  readonly uid: number | undefined;
  /** The passwd-file lookup `run` uses for a user without `group:`. */
  primaryGroupOf(user: string): number | undefined;
  /** getpwnam / getgrnam as setuid and setgid see them (NSS included). */
  userExists(name: string): boolean | undefined;
  groupExists(name: string): boolean | undefined;
  /** Whether this process may bind the port: CAP_NET_BIND_SERVICE, or at or above net.ipv4.ip_unprivileged_port_start. */
  mayBindPort(port: number): boolean | undefined;
  /** Whether an IP address is one of this machine's (or net.ipv4/ipv6.ip_nonlocal_bind allows any). */
  isLocalAddress(address: string): boolean | undefined;
  /** Whether a host name resolves (getaddrinfo, as listen does). */
  hostResolves(name: string): boolean | undefined;
  /** CAP_NET_ADMIN in this process's effective set (transparent mode). */
  readonly netAdmin?: boolean | undefined;
  /** Why the native data plane cannot run here, or undefined when it can (transparent mode needs it). */
  readonly nativeUnavailable?: string | undefined;
}

export interface CodedIssue extends ConfigIssue {
  readonly code: ErrorCode;
}

export interface Preflight {
  readonly errors: readonly CodedIssue[];
  readonly warnings: readonly ConfigIssue[];
}

interface Site extends HostPort {
  readonly what: string;
  readonly pos: SourcePos;
}

export function preflight(rules: RulesConfig, facts: HostFacts): Preflight {
  const errors: CodedIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const top: SourcePos = { file: rules.files[0] ?? '', line: 1, col: 1 };
  const asRoot = facts.uid === 0;
  // The plan `run` makes when started as root, whoever runs this check.
  const plan = planPrivileges(rules.user, rules.group, { allowRoot: false, uid: 0 }, (u) => facts.primaryGroupOf(u));
  if (plan.kind === 'refuse' && rules.user === undefined) {
    if (asRoot) warnings.push({ ...top, message: `started as root, as this check is, \`run\` refuses to start: ${plan.message}` });
  } else {
    const missing: ConfigIssue[] = [];
    if (plan.kind === 'refuse') missing.push({ ...(rules.userPos ?? top), message: `user: ${plan.message}` });
    if (plan.kind === 'drop' && rules.group !== undefined && facts.groupExists(rules.group) === false) {
      missing.push({ ...(rules.groupPos ?? top), message: `group: "${rules.group}" does not exist on this machine (getgrnam): set an existing group` });
    }
    if (plan.kind === 'drop' && rules.group !== undefined && facts.userExists(plan.user) === false) {
      missing.push({ ...(rules.userPos ?? top), message: `user: "${plan.user}" does not exist on this machine (getpwnam): set an existing user` });
    }
    for (const m of missing) {
      if (asRoot) errors.push({ ...m, code: 'PORTPLEX_ERR_ROOT' });
      else warnings.push({ ...m, message: `${m.message} (this check is not root, so it is only a warning: \`run\` started as root refuses to start)` });
    }
  }
  for (const s of sites(rules)) {
    const where = formatHostPort(s);
    if (s.port !== 0 && facts.mayBindPort(s.port) === false) {
      warnings.push({
        ...s.pos,
        message: `${s.what} binds ${where}: port ${s.port} is privileged and this process (uid ${facts.uid ?? '?'}) has no CAP_NET_BIND_SERVICE, so \`run\` started the same way is refused (EACCES). Start it as root with \`user:\` to drop privileges after binding, grant the capability (systemd AmbientCapabilities=CAP_NET_BIND_SERVICE, setcap), or use a port above 1023`,
      });
    }
    if (isIP(s.host) === 0 && facts.hostResolves(s.host) === false) {
      warnings.push({ ...s.pos, message: `${s.what} binds ${where}, but the name ${s.host} does not resolve here, so \`run\` here is refused (ENOTFOUND). Bind an IP address, or fix the name` });
    }
    if (isIP(s.host) !== 0 && facts.isLocalAddress(s.host) === false) {
      warnings.push({
        ...s.pos,
        message: `${s.what} binds ${where}, but ${s.host} is not an address of this machine, so \`run\` here is refused (EADDRNOTAVAIL). Bind an address the machine has, 0.0.0.0 or [::], or set net.ipv4.ip_nonlocal_bind=1 for an address that arrives later (a failover VIP)`,
      });
    }
  }
  warnings.push(...transparentWarnings(rules, facts));
  return { errors, warnings };
}

/** Transparent servers `run` started the same way would refuse (PORTPLEX_ERR_TRANSPARENT). */
function transparentWarnings(rules: RulesConfig, facts: HostFacts): ConfigIssue[] {
  const servers = transparentServers(rules);
  if (servers.length === 0) return [];
  const pos = rules.backends.get(servers[0]!.backend)?.pos ?? { file: rules.files[0] ?? '', line: 1, col: 1 };
  const which = transparentWhich(servers);
  const out: ConfigIssue[] = [];
  if (facts.nativeUnavailable !== undefined) out.push({ ...pos, message: `${which}: transparent mode needs the native data plane, which cannot run here (${facts.nativeUnavailable}), so \`run\` here refuses to start (PORTPLEX_ERR_TRANSPARENT)` });
  if (rules.dataplane === 'js') out.push({ ...pos, message: `${which}, but \`dataplane: js\` asks for node:net, which cannot set IP_TRANSPARENT: \`run\` refuses to start unless --dataplane native overrides it` });
  if (facts.netAdmin === false && facts.uid !== 0) out.push({ ...pos, message: `${which}: IP_TRANSPARENT needs CAP_NET_ADMIN, which this process (uid ${facts.uid ?? '?'}) does not have, so \`run\` started the same way is refused. Run as root, or grant it (systemd AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_ADMIN)` });
  return out;
}

function sites(rules: RulesConfig): Site[] {
  return [
    ...rules.listeners.map((l) => ({ host: l.host, port: l.port, what: `listener "${l.name}"`, pos: l.pos })),
    ...rules.demo.map((d) => ({ ...d.listen, what: `demo service "${d.name}"`, pos: d.pos })),
    ...(rules.admin === undefined ? [] : [{ ...rules.admin.listen, what: 'admin.listen', pos: rules.admin.pos }]),
  ];
}

const readOr = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** `getent passwd|group|ahosts NAME`: exit 0 found, 2 not found (getent(1)); anything else (no getent) cannot tell. */
function getent(db: 'passwd' | 'group' | 'ahosts', name: string): boolean | undefined {
  try {
    execFileSync('getent', [db, name], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch (e) {
    return (e as { status?: number | null }).status === 2 ? false : undefined;
  }
}

const WILDCARDS = new BlockList();
WILDCARDS.addAddress('0.0.0.0', 'ipv4');
WILDCARDS.addAddress('::', 'ipv6');

export function systemHostFacts(): HostFacts {
  const capable = hasEffectiveCapability(CAP_NET_BIND_SERVICE);
  const start = Number(readOr('/proc/sys/net/ipv4/ip_unprivileged_port_start') ?? 'NaN');
  const nonlocal4 = readOr('/proc/sys/net/ipv4/ip_nonlocal_bind')?.trim() === '1';
  const nonlocal6 = readOr('/proc/sys/net/ipv6/ip_nonlocal_bind')?.trim() === '1';
  const local = new BlockList();
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      const family = a.family === 'IPv4' ? 'ipv4' : 'ipv6';
      // Linux treats the whole loopback subnet as local (127.0.0.2 binds); other subnets are not.
      if (a.internal && a.cidr !== null) local.addSubnet(a.address.split('%')[0]!, Number(a.cidr.split('/')[1]), family);
      else local.addAddress(a.address.split('%')[0]!, family);
    }
  }
  const addon = loadAddon();
  return {
    netAdmin: hasNetAdmin(),
    nativeUnavailable: addon.ok ? undefined : addon.reason,
    uid: process.getuid?.(),
    primaryGroupOf: (user) => primaryGroupOf(user),
    userExists: (name) => (primaryGroupOf(name) !== undefined ? true : getent('passwd', name)),
    groupExists: (name) => getent('group', name),
    mayBindPort: (port) => {
      if (capable === true || (Number.isInteger(start) && port >= start)) return true;
      return capable === false && Number.isInteger(start) ? false : undefined;
    },
    hostResolves: (name) => getent('ahosts', name),
    isLocalAddress: (address) => {
      const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
      if (WILDCARDS.check(address, family) || (family === 'ipv4' ? nonlocal4 : nonlocal6)) return true;
      return local.check(address, family);
    },
  };
}
