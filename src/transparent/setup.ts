/**
 * The host routing that makes transparent mode work (`portplex transparent setup`): a server's
 * answers are addressed to the client, not to portplex, so without help they leave by the
 * default route and the client drops them. The same recipe as HAProxy's and sslh's transparent
 * guides, in nftables:
 *
 * - mark the answers of every transparent server: locally generated ones in a `route` chain on
 *   the output hook (a changed mark makes the kernel route the packet again), forwarded ones from
 *   servers on other hosts in the prerouting hook;
 * - `ip rule fwmark MARK lookup TABLE` with `local 0.0.0.0/0 dev lo` in TABLE: marked packets are
 *   delivered to this host, where portplex's IP_TRANSPARENT socket takes them;
 * - a server on 127.0.0.1 receives packets from a non-loopback address, which the kernel drops as
 *   martian unless net.ipv4.conf.all.route_localnet=1; that sysctl also lets packets for 127/8
 *   in from outside, so a raw-priority rule drops those unless they come from lo.
 *
 * Pure: rules and options in, the nft script and the commands (apply and remove) out.
 */
import { isIP } from 'node:net';
import type { RulesConfig } from '../config/types.js';
import { transparentServers } from './requirements.js';

export const NFT_TABLE = 'portplex_transparent';

export interface SetupOptions {
  /** The firewall mark of the answers (default 0x1). */
  readonly mark: number;
  /** The routing table marked packets look up (default 100). */
  readonly table: number;
  /** Whether an address is this host's: its servers' answers are local output, the others' forwarded. */
  readonly isLocal: (address: string) => boolean;
}

export interface SetupStep {
  /** The program and its arguments. */
  readonly argv: readonly string[];
  /** Fed to the program's standard input (nft -f -). */
  readonly stdin?: string;
  /** One line for the printed script: what the step is for. */
  readonly why: string;
  /** A step that may fail harmlessly (removing what is not there). */
  readonly mayFail?: boolean;
}

export type SetupPlan =
  | { readonly ok: true; readonly apply: readonly SetupStep[]; readonly remove: readonly SetupStep[]; readonly routeLocalnet: boolean; readonly notes: readonly string[] }
  | { readonly ok: false; readonly error: string };

interface Answerer {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
  readonly label: string;
  readonly local: boolean;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export function setupPlan(rules: RulesConfig, o: SetupOptions): SetupPlan {
  const servers = transparentServers(rules);
  if (servers.length === 0) return { ok: false, error: 'no backend or server has `transparent: true`: there is nothing to route' };
  const answerers: Answerer[] = [];
  for (const { backend, server } of servers) {
    const family = isIP(server.host);
    if (family === 0) return { ok: false, error: `backend "${backend}" server ${server.address}: a transparent server needs an IP address (its answers are matched by address), not the name ${server.host}` };
    if (family === 6 && server.host === '::1') return { ok: false, error: `backend "${backend}" server ${server.address}: IPv6 has no route_localnet, so a transparent server cannot listen on ::1: give it another address of this host` };
    answerers.push({ family: family === 6 ? 6 : 4, address: server.host, port: server.port, label: `backend ${backend} server ${server.address}`, local: o.isLocal(server.host) });
  }
  const routeLocalnet = answerers.some((a) => a.family === 4 && a.address.startsWith('127.'));
  const families = new Set(answerers.map((a) => a.family));
  const rule = (a: Answerer): string => `    ${a.family === 4 ? 'ip' : 'ip6'} saddr ${a.address} tcp sport ${a.port} meta mark set ${hex(o.mark)} comment "${a.label}"`;
  const local = answerers.filter((a) => a.local);
  const remote = answerers.filter((a) => !a.local);
  const script = [
    // Defined afresh each time: the add/delete pair makes a missing table no error (nft's idiom for replace).
    `add table inet ${NFT_TABLE}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    ...(local.length > 0 ? ['  chain answers_local {', '    type route hook output priority mangle; policy accept;', ...local.map(rule), '  }'] : []),
    ...(remote.length > 0 ? ['  chain answers_forwarded {', '    type filter hook prerouting priority mangle; policy accept;', ...remote.map(rule), '  }'] : []),
    ...(routeLocalnet ? ['  chain guard_localnet {', '    type filter hook prerouting priority raw; policy accept;', '    iif != "lo" ip daddr 127.0.0.0/8 drop comment "route_localnet=1 must not open 127/8 to the network"', '  }'] : []),
    '}',
    '',
  ].join('\n');
  const apply: SetupStep[] = [{ argv: ['nft', '-f', '-'], stdin: script, why: `mark the transparent servers' answers with ${hex(o.mark)} (table inet ${NFT_TABLE}, replaced as a whole)` }];
  const remove: SetupStep[] = [{ argv: ['nft', 'delete', 'table', 'inet', NFT_TABLE], why: `remove table inet ${NFT_TABLE}`, mayFail: true }];
  for (const f of [...families].sort()) {
    const ip = f === 4 ? ['ip'] : ['ip', '-6'];
    const any = f === 4 ? '0.0.0.0/0' : '::/0';
    // Deleted first so that applying twice leaves one rule, not two.
    apply.push({ argv: [...ip, 'rule', 'del', 'fwmark', hex(o.mark), 'lookup', String(o.table)], why: `(IPv${f}) drop an earlier copy of the rule below, if any`, mayFail: true });
    apply.push({ argv: [...ip, 'rule', 'add', 'fwmark', hex(o.mark), 'lookup', String(o.table)], why: `(IPv${f}) marked packets look up table ${o.table}` });
    apply.push({ argv: [...ip, 'route', 'replace', 'local', any, 'dev', 'lo', 'table', String(o.table)], why: `(IPv${f}) table ${o.table} delivers every address to this host, where portplex's transparent socket takes the answer` });
    remove.push({ argv: [...ip, 'rule', 'del', 'fwmark', hex(o.mark), 'lookup', String(o.table)], why: `(IPv${f}) remove the fwmark rule`, mayFail: true });
    remove.push({ argv: [...ip, 'route', 'flush', 'table', String(o.table)], why: `(IPv${f}) empty table ${o.table}`, mayFail: true });
  }
  if (routeLocalnet) {
    apply.push({ argv: ['sysctl', '-q', '-w', 'net.ipv4.conf.all.route_localnet=1'], why: 'a server on 127.0.0.1 gets packets from the client\'s address: without this the kernel drops them as martian' });
  }
  const notes: string[] = [];
  if (remote.length > 0) {
    notes.push(`${remote.map((a) => a.address).join(', ')} ${remote.length === 1 ? 'is' : 'are'} not this host's: such a server must send its answers to the clients through this host (its default route via this host, or policy routing on it), or they bypass portplex and the clients drop them`);
  }
  return { ok: true, apply, remove, routeLocalnet, notes };
}

/** The plan as the shell script `portplex transparent setup` prints: each step with its reason. */
export function renderScript(plan: Extract<SetupPlan, { ok: true }>, what: 'apply' | 'remove'): string {
  const steps = what === 'apply' ? plan.apply : plan.remove;
  const out = [`# portplex transparent setup${what === 'remove' ? ' --remove' : ''}: run as root (or with CAP_NET_ADMIN)`];
  for (const s of steps) {
    out.push(`# ${s.why}`);
    const cmd = s.argv.map((a) => (/^[\w./:=-]+$/.test(a) ? a : `'${a}'`)).join(' ');
    if (s.stdin !== undefined) out.push(`${cmd} <<'EOF'`, s.stdin.trimEnd(), 'EOF');
    else out.push(s.mayFail ? `${cmd} 2>/dev/null || true` : cmd);
  }
  if (what === 'remove' && plan.routeLocalnet) out.push('# and net.ipv4.conf.all.route_localnet goes back to the value it had before --apply (which recorded it under /run/portplex/)');
  for (const n of plan.notes) out.push(`# note: ${n}`);
  return out.join('\n') + '\n';
}
