/**
 * The one log line a TCP connection (`connection closed`) or a UDP flow (`flow closed`) writes
 * when it ends, and the close reasons it can give. The reasons are the single source of the log's
 * `reason`, the metrics' `outcome` label and the README's table of close reasons (a test keeps the
 * three equal); the transports only fill a CloseRecord.
 *
 * The same thing has the same word on both transports: `backend-unreachable` is "no server of the
 * backend could be used" whether the connect failed (TCP) or no server was up (UDP).
 */
import { escapeClientText } from './escape.js';
import type { SummaryLevel } from './log-summary.js';

/** Why a TCP connection closed (the splice's own reasons among them: src/proxy/splice.ts). */
export const TCP_CLOSE_REASONS = [
  'done',
  'client-error',
  'backend-error',
  'idle-timeout',
  'no-route',
  'backend-unreachable',
  'client-closed-during-inspect',
  'client-closed-during-connect',
  'proxy-header-error',
  'proxy-refused',
  'limit',
  'tunnel-denied',
  'tunnel-failed',
  'no-sni',
] as const;
export type TcpCloseReason = (typeof TCP_CLOSE_REASONS)[number];

/** Why the UDP flow table ended a flow (src/udp/flow-table.ts). */
export const UDP_TABLE_CLOSE_REASONS = ['idle-timeout', 'evicted', 'drain', 'listener-closed'] as const;
/** Why a UDP flow ended itself (`answered`: a DNS flow whose every query has its answer). */
export const UDP_FLOW_CLOSE_REASONS = ['no-route', 'backend-unreachable', 'backend-error', 'proxy-header-error', 'fd-exhausted', 'answered'] as const;
export const UDP_CLOSE_REASONS = [...UDP_TABLE_CLOSE_REASONS, ...UDP_FLOW_CLOSE_REASONS] as const;
export type UdpTableCloseReason = (typeof UDP_TABLE_CLOSE_REASONS)[number];
export type UdpFlowCloseReason = (typeof UDP_FLOW_CLOSE_REASONS)[number];
export type UdpCloseReason = (typeof UDP_CLOSE_REASONS)[number];

/** Every close reason of either transport: the log's `reason` and the metrics' `outcome`. */
export type CloseReason = TcpCloseReason | UdpCloseReason;
export const CLOSE_REASONS: readonly CloseReason[] = [...new Set<CloseReason>([...TCP_CLOSE_REASONS, ...UDP_CLOSE_REASONS])];

export type Transport = 'tcp' | 'udp';
export type CloseLevel = 'warn' | 'info' | 'debug';

/** How a reason's line is written: its level, and whether a flood of them is summarised (log-summary.ts). */
export interface ReasonPolicy {
  readonly level: CloseLevel;
  readonly summarised: boolean;
}

const INFO: ReasonPolicy = { level: 'info', summarised: false };
/** Refusals and failures: what junk traffic produces, so counted into one line past a burst. */
const WARN: ReasonPolicy = { level: 'warn', summarised: true };
/** Served traffic that a flood can still produce by the thousand (a full table, no descriptors). */
const INFO_SUMMARISED: ReasonPolicy = { level: 'info', summarised: true };

const TCP_POLICY: Readonly<Record<TcpCloseReason, ReasonPolicy>> = {
  done: INFO,
  'client-error': INFO,
  // A backend that resets a spliced connection: the connection was served, not refused.
  'backend-error': INFO,
  'idle-timeout': INFO,
  'no-route': WARN,
  'backend-unreachable': WARN,
  'client-closed-during-inspect': INFO,
  'client-closed-during-connect': INFO,
  'proxy-header-error': WARN,
  'proxy-refused': WARN,
  // Limit refusals are reported by the limits (once per kind and minute), not per connection.
  limit: { level: 'debug', summarised: false },
  'tunnel-denied': WARN,
  'tunnel-failed': WARN,
  'no-sni': WARN,
};

const UDP_POLICY: Readonly<Record<UdpCloseReason, ReasonPolicy>> = {
  'idle-timeout': INFO,
  evicted: INFO_SUMMARISED,
  drain: INFO,
  'listener-closed': INFO,
  'no-route': WARN,
  'backend-unreachable': WARN,
  // The server's socket failed (ICMP port unreachable): most often no server listens there.
  'backend-error': WARN,
  'proxy-header-error': WARN,
  'fd-exhausted': INFO_SUMMARISED,
  answered: INFO,
};

export function reasonPolicy(transport: 'tcp', reason: TcpCloseReason): ReasonPolicy;
export function reasonPolicy(transport: 'udp', reason: UdpCloseReason): ReasonPolicy;
export function reasonPolicy(transport: Transport, reason: CloseReason): ReasonPolicy | undefined;
export function reasonPolicy(transport: Transport, reason: CloseReason): ReasonPolicy | undefined {
  return transport === 'tcp' ? TCP_POLICY[reason as TcpCloseReason] : UDP_POLICY[reason as UdpCloseReason];
}

export const CLOSE_LINE_MESSAGE: Readonly<Record<Transport, string>> = { tcp: 'connection closed', udp: 'flow closed' };

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** What the first bytes said about the client: sni, alpn, tls_version, http_host and the protocol captures. */
export type ClientFields = Readonly<Record<string, string | readonly string[] | undefined>>;

/** The ClientHello facts the line reports (a TLS or QUIC hello). */
export interface HelloFacts {
  readonly sni?: string | undefined;
  readonly alpn: readonly string[];
  /** The version name (tlsVersionName). */
  readonly version: string;
}

/** The client fields of a line, escaped where the client wrote them (SNI is validated by the parser). */
export function clientFields(hello: HelloFacts | undefined, httpHost: string | undefined, captures: ClientFields): ClientFields {
  return {
    sni: hello?.sni,
    alpn: hello && hello.alpn.length > 0 ? hello.alpn.map((a) => escapeClientText(a)!) : undefined,
    tls_version: hello?.version,
    http_host: escapeClientText(httpHost),
    ...captures,
  };
}

interface CommonRecord {
  readonly id: string;
  readonly listener: string;
  /** The client: the socket peer, or the address a trusted PROXY header carried. */
  readonly client: Endpoint;
  readonly route: string | undefined;
  readonly backend: string | undefined;
  readonly server: string | undefined;
  /** Computed only when the line is written (escaping is not free under a flood). */
  readonly clientFields: () => ClientFields;
  readonly uniqueId: Uint8Array | undefined;
  readonly peeked: number;
  readonly bytes: { readonly fromClient: number; readonly toClient: number };
  readonly ms: { readonly decide: number | undefined; readonly total: number };
  readonly detail: string | undefined;
}

export interface TcpCloseRecord extends CommonRecord {
  readonly transport: 'tcp';
  readonly reason: TcpCloseReason;
  /** The socket's peer (the load balancer when a PROXY header came): logged with a header or a refused one. */
  readonly peer: Endpoint;
  readonly proxyHeader: 'v1' | 'v2' | 'v2-local' | undefined;
  /** The `host:port` a forward-proxy route's client asked for (client text: escaped here). */
  readonly target: string | undefined;
  readonly connectMs: number | undefined;
  readonly failures: readonly string[] | undefined;
}

export interface UdpCloseRecord extends CommonRecord {
  readonly transport: 'udp';
  readonly reason: UdpCloseReason;
  readonly protocol: string | undefined;
  readonly datagrams: { readonly fromClient: number; readonly toClient: number; readonly dropped: number };
}

export type CloseRecord = TcpCloseRecord | UdpCloseRecord;

/** The logger as the close line uses it (pino's Logger is one). */
export interface CloseLog {
  isLevelEnabled(level: string): boolean;
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

/** The flood summary (log-summary.ts's LogSummary is one). */
export interface CloseSummary {
  admit(of: string, listener: string, kind: string, level?: SummaryLevel): boolean;
}

/** The level a record's line is written at. */
export function closeLevel(r: CloseRecord): CloseLevel {
  // A peer gone before its address could be read (reset right after the handshake) is noise.
  if (r.transport === 'tcp' && r.peer.address === '') return 'debug';
  return reasonPolicy(r.transport, r.reason)!.level;
}

/** Writes the record's close line, unless its level is off or a flood of its kind is being summarised. */
export function writeCloseLine(log: CloseLog, summary: CloseSummary, r: CloseRecord): void {
  const level = closeLevel(r);
  if (!log.isLevelEnabled(level)) return;
  const message = CLOSE_LINE_MESSAGE[r.transport];
  // Past a burst per interval, a summarised kind (per listener and reason) is counted into one
  // summary line. Every other close keeps its own line.
  if (level !== 'debug' && reasonPolicy(r.transport, r.reason)!.summarised && !summary.admit(message, r.listener, r.reason, level)) return;
  log[level](closeFields(r), message);
}

const round = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 100) / 100);

/** The line's fields, in the order the README lists them; undefined fields are left out of the JSON. */
export function closeFields(r: CloseRecord): Record<string, unknown> {
  const tcp = r.transport === 'tcp' ? r : undefined;
  const udp = r.transport === 'udp' ? r : undefined;
  return {
    id: r.id,
    listener: r.listener,
    transport: udp?.transport,
    client: { address: r.client.address, port: r.client.port },
    peer: tcp !== undefined && (tcp.proxyHeader !== undefined || tcp.reason === 'proxy-refused') ? { address: tcp.peer.address, port: tcp.peer.port } : undefined,
    proxy_header: tcp?.proxyHeader,
    route: r.route,
    backend: r.backend,
    server: r.server,
    target: escapeClientText(tcp?.target),
    protocol: udp?.protocol,
    ...r.clientFields(),
    unique_id: r.uniqueId === undefined ? undefined : Buffer.from(r.uniqueId.buffer, r.uniqueId.byteOffset, r.uniqueId.byteLength).toString('hex'),
    peeked: r.peeked,
    datagrams: udp === undefined ? undefined : { from_client: udp.datagrams.fromClient, to_client: udp.datagrams.toClient, dropped: udp.datagrams.dropped },
    bytes: { from_client: r.bytes.fromClient, to_client: r.bytes.toClient },
    ms: { decide: round(r.ms.decide), connect: round(tcp?.connectMs), total: round(r.ms.total) },
    reason: r.reason,
    detail: r.detail,
    failures: tcp?.failures,
  };
}
