/**
 * The compiled, immutable form of a rule file. Everything here has been validated: the rest of
 * portplex never re-checks a value it reads from these types.
 */
import type { Protocol, ProtocolCondition } from '../protocols/index.js';
import type { NamePattern } from '../protocols/patterns.js';
import type { RulePattern } from './rule-pattern.js';

// The protocols and their conditions are stated once, in src/protocols/index.ts.
export { PROTOCOLS } from '../protocols/registry.js';
export type { Protocol, ProtocolCondition };
export type { NamePattern, TextPattern } from '../protocols/patterns.js';

/** Stream (TCP) or datagram (UDP) listeners and backends; a route serves the transport of its backend. */
export type Transport = 'tcp' | 'udp';
export const TRANSPORTS: readonly Transport[] = ['tcp', 'udp'];
/** `dataplane:` — who owns the TCP sockets: the native addon where it runs (auto), it or fail (native), node:net (js). */
export const DATAPLANE_ASKS = ['auto', 'native', 'js'] as const;
export type DataplaneAsk = (typeof DATAPLANE_ASKS)[number];

/** Protocols recognised in a UDP flow's first datagram(s); `tls` there means the ClientHello inside a QUIC Initial. */
export const UDP_PROTOCOLS: readonly Protocol[] = ['quic', 'tls', 'dns', 'wireguard', 'openvpn'];

export type SendProxy = 'off' | 'v1' | 'v2';

/** Where a value came from in a rule file, for messages that point an admin at the line. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export interface HostPort {
  /** Host or address without brackets: "127.0.0.1", "::1", "localhost". */
  readonly host: string;
  readonly port: number;
}

export type ProxyAccept = 'off' | 'optional' | 'required';

/** Inbound PROXY protocol on a listener (from an L4 load balancer in front). */
export interface InboundProxyConfig {
  readonly accept: ProxyAccept;
  /** Only these peers may send a header; anyone else who sends one is refused. */
  readonly trusted: readonly Cidr[];
  /** The header must be complete within this time of the accept. */
  readonly timeoutMs: number;
  /** Largest header accepted (v2: 16 + len). */
  readonly maxBytes: number;
}

export interface ListenerConfig extends HostPort {
  readonly name: string;
  readonly transport: Transport;
  readonly proxy: InboundProxyConfig;
  /** Open connections on this listener at most (0: only the global limit). */
  readonly maxConnections: number;
  readonly pos: SourcePos;
}

export interface ServerConfig extends HostPort {
  /** "host:port" as the admin wrote it (IPv6 in brackets), used in logs. */
  readonly address: string;
  readonly backup: boolean;
  /** Relative share for roundrobin, leastconn and source (1-256, default 1). */
  readonly weight: number;
  /** Connections at once; a full server is skipped (0: unlimited). */
  readonly maxConnections: number;
  /** This server's PROXY header: its own `send_proxy`, else the backend's. */
  readonly sendProxy: SendProxy;
  /**
   * Transparent mode: connections to this server take the client's address (after any trusted
   * inbound PROXY header) as their source, so a server that cannot read a PROXY header sees it.
   * Its own `transparent`, else the backend's; native data plane and CAP_NET_ADMIN only.
   */
  readonly transparent: boolean;
}

export type Balance = 'roundrobin' | 'leastconn' | 'source' | 'first';

export type HealthCheckType = 'tcp' | 'tls';

/** Active health checks (HAProxy's `check`, `inter`, `rise`, `fall`, `check-send-proxy`, `tcp-check`). */
export interface HealthConfig {
  readonly type: HealthCheckType;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
  /** Send the server's PROXY header first (v2 as LOCAL), like HAProxy's check-send-proxy. */
  readonly sendProxy: boolean;
  /** tls: the SNI and ALPN offered in the check's handshake. */
  readonly sni: string | undefined;
  readonly alpn: readonly string[];
  /** Bytes written after the connect (or handshake), and what the answer must contain. */
  readonly send: Uint8Array | undefined;
  readonly expect: { readonly kind: 'bytes'; readonly bytes: Uint8Array } | { readonly kind: 'regex'; readonly regex: RulePattern } | undefined;
}

/** Passive checks: consecutive connect failures take a server out. */
export interface PassiveConfig {
  /** Consecutive failed connects that mark a server down (0: off). */
  readonly failures: number;
  /** Without active checks, a passively downed server is tried again after this. */
  readonly cooldownMs: number;
}

/** What goes into the PROXY v2 header sent to a backend, besides the addresses. */
export interface ProxyV2Options {
  /** PP2_TYPE_AUTHORITY with the SNI, when the client sent one. */
  readonly authority: boolean;
  /** PP2_TYPE_ALPN with the first protocol the client offered. */
  readonly alpn: boolean;
  /** PP2_TYPE_UNIQUE_ID: a random 128-bit id per connection, also logged as `unique_id`. */
  readonly uniqueId: boolean;
  /** PP2_TYPE_CRC32C over the whole header. */
  readonly crc32c: boolean;
  /** TLV types copied from the inbound header (e.g. 0xEA, AWS VPC endpoint id). */
  readonly passTlvs: readonly number[];
  /** UDP backends: the header goes in front of the first datagram of a flow, or of every datagram. */
  readonly datagrams: 'first' | 'every';
}

export interface BackendConfig {
  readonly name: string;
  /** udp: servers are reached by datagrams, one socket per client flow (no health checks, no v1 header). */
  readonly transport: Transport;
  readonly sendProxy: SendProxy;
  readonly proxyV2: ProxyV2Options;
  readonly connectTimeoutMs: number;
  readonly balance: Balance;
  /** Further servers tried after a failed connect (default 1). */
  readonly retries: number;
  readonly health: HealthConfig | undefined;
  readonly passive: PassiveConfig;
  /** TCP keep-alive on server connections (initial delay), undefined: off. */
  readonly keepAliveMs: number | undefined;
  readonly noDelay: boolean;
  readonly servers: readonly ServerConfig[];
  /** Where the backend's name stands in the rule file. */
  readonly pos: SourcePos;
}

export interface Cidr {
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
  readonly prefix: number;
}

/** The generic conditions (src/matchers) and the ones each protocol adds (src/protocols/<name>/). */
export type Condition =
  | ProtocolCondition
  | { readonly kind: 'always' }
  | { readonly kind: 'protocol'; readonly protocols: readonly Protocol[] }
  | { readonly kind: 'bytes.length'; readonly min: number; readonly max: number }
  | { readonly kind: 'bytes.prefix'; readonly prefixes: readonly Uint8Array[] }
  | { readonly kind: 'bytes.regex'; readonly regex: RulePattern }
  | { readonly kind: 'src'; readonly cidrs: readonly Cidr[] }
  | { readonly kind: 'local_port'; readonly ranges: readonly (readonly [number, number])[] }
  | { readonly kind: 'silent'; readonly ms: number }
  | { readonly kind: 'not'; readonly inner: Condition }
  | { readonly kind: 'all'; readonly inner: readonly Condition[] }
  | { readonly kind: 'any'; readonly inner: readonly Condition[] };

/** Hosts a forward-proxy route may reach: names (exact, *.suffix) and address ranges. */
export interface ForwardAllowlist {
  readonly names: readonly NamePattern[];
  readonly cidrs: readonly Cidr[];
}

export interface ProxyCredential {
  readonly user: string;
  /** Resolved at load time (from the file or the named environment variable); never logged. */
  readonly password: string;
}

/** `connect:` — answer HTTP CONNECT and tunnel to host:port, safe by default. */
export interface ConnectActionConfig {
  readonly ports: readonly (readonly [number, number])[];
  readonly hosts: ForwardAllowlist | undefined;
  readonly auth: readonly ProxyCredential[] | undefined;
  readonly connectTimeoutMs: number;
}

/** `sni_forward:` — connect to the ClientHello's server name, `ssl_preread` style. */
export interface SniForwardConfig {
  readonly port: number;
  readonly hosts: ForwardAllowlist | undefined;
  /** Backend for a hello without (valid) SNI; without it such connections are closed. A denied SNI is always closed. */
  readonly fallback: string | undefined;
  readonly connectTimeoutMs: number;
}

export type RouteAction =
  | { readonly kind: 'backend'; readonly backend: string }
  | { readonly kind: 'connect'; readonly connect: ConnectActionConfig }
  | { readonly kind: 'sni-forward'; readonly forward: SniForwardConfig };

export interface RouteConfig {
  readonly name: string;
  readonly when: Condition;
  readonly action: RouteAction;
  readonly pos: SourcePos;
}

export type DemoKind = 'https' | 'http' | 'banner';

export interface DemoServiceConfig {
  readonly name: string;
  readonly kind: DemoKind;
  readonly listen: HostPort;
  readonly pos: SourcePos;
}

/** Limits against floods and slow clients; every refusal is counted and logged once per kind. */
export interface LimitsConfig {
  /** Open client connections in this process. */
  readonly maxConnections: number;
  /** Per client address (after any trusted PROXY header). */
  readonly perIpConnections: number;
  /** Connections of one address still in inspection (slowloris on the peek stage). */
  readonly perIpInspecting: number;
  /** New connections per second per address (token bucket), and the bucket size. */
  readonly perIpRate: number;
  readonly perIpBurst: number;
  /** Addresses whose rate is tracked at once (an LRU: memory stays bounded whatever arrives). */
  readonly trackedAddresses: number;
  /** Bytes held in all inspection buffers together. */
  readonly inspectBufferTotal: number;
}

/** The `udp:` section: the flow table and the limits of UDP listeners (per process). */
export interface UdpConfig {
  /** UDP backend for flows no route took; undefined: such flows are dropped. */
  readonly defaultBackend: string | undefined;
  /** Flows tracked at once; past it the least recently used flow is evicted. */
  readonly maxFlows: number;
  /** A flow nobody sent on for this long is forgotten (its backend socket closed). */
  readonly idleMs: number;
  /** Flows one client address may have at once. */
  readonly perIpFlows: number;
  /** Datagrams per second one client address may send (token bucket), and the bucket size. */
  readonly perIpRate: number;
  readonly perIpBurst: number;
  /** Larger datagrams from clients are dropped. */
  readonly maxDatagram: number;
  /** Datagrams a flow may buffer while its route is undecided (a ClientHello over several Initials). */
  readonly inspectDatagrams: number;
}

/** The admin endpoint: /metrics, /healthz, /readyz, the status page and /status.json. */
export interface AdminConfig {
  readonly listen: HostPort;
  /** How often the status page reloads itself. */
  readonly statusRefreshMs: number;
  /** Host names and addresses a request may name besides the admin's own address (lowercase; IPs canonical). */
  readonly allowedHosts: readonly string[];
  /** `token_file` (absolute), where the key stands; undefined: no token needed. */
  readonly tokenFile: { readonly path: string; readonly pos: SourcePos } | undefined;
  /**
   * SHA-256 of the token in tokenFile, read when the rules are loaded (config/admin-token.ts). Undefined
   * when no file is set, or when the rules were compiled without reading it (a worker process,
   * which serves no admin endpoint): the endpoint then refuses every guarded path.
   */
  readonly tokenDigest: Uint8Array | undefined;
  /** Where `listen` stands in the rule file (for the non-loopback warning). */
  readonly pos: SourcePos;
}

export interface RulesConfig {
  readonly files: readonly string[];
  /** Not errors, but likely mistakes (`check` prints them, `run` logs them). */
  readonly warnings: readonly (SourcePos & { readonly message: string })[];
  readonly listeners: readonly ListenerConfig[];
  readonly inspect: { readonly timeoutMs: number; readonly maxBytes: number };
  readonly timeouts: { readonly idleMs: number };
  readonly backends: ReadonlyMap<string, BackendConfig>;
  readonly routes: readonly RouteConfig[];
  /** Backend for connections no route took, including clients that stayed silent until the deadline. */
  readonly defaultBackend: string | undefined;
  readonly demo: readonly DemoServiceConfig[];
  readonly log: { readonly level: string };
  readonly limits: LimitsConfig;
  readonly udp: UdpConfig;
  /** Drop privileges to this user/group once the listeners are bound (when started as root). */
  readonly user: string | undefined;
  readonly group: string | undefined;
  /** Where `user:` and `group:` stand, for `check`'s messages about them. */
  readonly userPos?: SourcePos;
  readonly groupPos?: SourcePos;
  /** The admin endpoint; undefined (off) unless the file has an `admin:` section. */
  readonly admin: AdminConfig | undefined;
  /** `dataplane:` as written; undefined when absent (the command line and environment may still say). */
  readonly dataplane?: DataplaneAsk;
}
