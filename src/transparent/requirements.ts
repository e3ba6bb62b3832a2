/**
 * What transparent mode needs from the process that runs it: the native data plane (node:net
 * cannot set IP_TRANSPARENT) and CAP_NET_ADMIN in the effective set (started as root with `user:`,
 * the native plane keeps it across the switch: supervisor/keep-capabilities.ts). A pure decision
 * over facts the caller reads.
 */
import { CAP_NET_ADMIN, hasEffectiveCapability } from '../net/capabilities.js';
import type { RulesConfig, ServerConfig } from '../config/types.js';
import type { Dataplane } from '../native/choose.js';


export interface TransparentServer {
  readonly backend: string;
  readonly server: ServerConfig;
}

export function transparentServers(rules: RulesConfig): TransparentServer[] {
  const out: TransparentServer[] = [];
  for (const b of rules.backends.values()) for (const s of b.servers) if (s.transparent) out.push({ backend: b.name, server: s });
  return out;
}

/** 'backend "ssh" server 127.0.0.1:22 (and 2 more) is transparent': how every message names them. */
export function transparentWhich(servers: readonly TransparentServer[]): string {
  const first = servers[0]!;
  return `backend "${first.backend}" server ${first.server.address}${servers.length > 1 ? ` (and ${servers.length - 1} more)` : ''} is transparent`;
}

export interface TransparentFacts {
  readonly dataplane: Dataplane;
  /** CAP_NET_ADMIN in this process's effective set now; undefined: cannot tell (not Linux). */
  readonly netAdmin: boolean | undefined;
}

/** Why these rules' transparent servers cannot run in this process, or undefined when they can (or there are none). */
export function transparentRefusal(rules: RulesConfig, facts: TransparentFacts): string | undefined {
  const servers = transparentServers(rules);
  if (servers.length === 0) return undefined;
  const which = transparentWhich(servers);
  if (facts.dataplane !== 'native') return `${which}, and transparent mode needs the native data plane (this process runs js: node:net cannot set IP_TRANSPARENT); build the addon (npm run build:native) and run with --dataplane native or auto`;
  if (facts.netAdmin === false) return `${which}, and IP_TRANSPARENT needs CAP_NET_ADMIN, which this process does not have: run as root, or grant it (systemd AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_ADMIN, see deploy/; a container needs --cap-add NET_ADMIN)`;
  return undefined;
}

/** Whether this process (or the given /proc/self/status text) has CAP_NET_ADMIN in its effective set. */
export function hasNetAdmin(status?: string): boolean | undefined {
  return hasEffectiveCapability(CAP_NET_ADMIN, status);
}
