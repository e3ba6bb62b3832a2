/**
 * What transparent mode needs from the process that runs it: the native data plane (node:net
 * cannot set IP_TRANSPARENT) and CAP_NET_ADMIN in the effective set (started as root with `user:`,
 * the native plane keeps it across the switch: supervisor/keep-capabilities.ts). A pure decision
 * over facts the caller reads.
 */
import { readFileSync } from 'node:fs';
import type { RulesConfig, ServerConfig } from '../config/types.js';
import type { Dataplane } from '../native/choose.js';

/** CAP_NET_ADMIN is capability 12 (linux/capability.h). */
const CAP_NET_ADMIN = 12n;

export interface TransparentServer {
  readonly backend: string;
  readonly server: ServerConfig;
}

export function transparentServers(rules: RulesConfig): TransparentServer[] {
  const out: TransparentServer[] = [];
  for (const b of rules.backends.values()) for (const s of b.servers) if (s.transparent) out.push({ backend: b.name, server: s });
  return out;
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
  const first = servers[0]!;
  const which = `backend "${first.backend}" server ${first.server.address}${servers.length > 1 ? ` (and ${servers.length - 1} more)` : ''} is transparent`;
  if (facts.dataplane !== 'native') return `${which}, and transparent mode needs the native data plane (this process runs js: node:net cannot set IP_TRANSPARENT); build the addon (npm run build:native) and run with --dataplane native or auto`;
  if (facts.netAdmin === false) return `${which}, and IP_TRANSPARENT needs CAP_NET_ADMIN, which this process does not have: run as root, or grant it (systemd AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_ADMIN, see deploy/; a container needs --cap-add NET_ADMIN)`;
  return undefined;
}

/** Whether the effective capability set of `/proc/self/status` has CAP_NET_ADMIN. */
export function hasNetAdmin(status: string | undefined = readStatus()): boolean | undefined {
  const m = status === undefined ? null : /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? (BigInt(`0x${m[1]!}`) & (1n << CAP_NET_ADMIN)) !== 0n : undefined;
}

function readStatus(): string | undefined {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
}
