/**
 * The compiled, immutable form of a rule file. Everything here has been validated: the rest of
 * portplex never re-checks a value it reads from these types.
 */

export type Protocol = 'tls' | 'http' | 'ssh';
export const PROTOCOLS: readonly Protocol[] = ['tls', 'http', 'ssh'];

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

export interface ListenerConfig extends HostPort {
  readonly name: string;
}

export interface ServerConfig extends HostPort {
  /** "host:port" as the admin wrote it (IPv6 in brackets), used in logs. */
  readonly address: string;
  readonly backup: boolean;
}

export interface BackendConfig {
  readonly name: string;
  readonly sendProxy: SendProxy;
  readonly connectTimeoutMs: number;
  readonly servers: readonly ServerConfig[];
}

/** A name pattern for SNI and Host: exact, "*.suffix" (one or more labels), or "~regex". */
export type NamePattern =
  | { readonly kind: 'exact'; readonly name: string }
  | { readonly kind: 'suffix'; readonly suffix: string }
  | { readonly kind: 'regex'; readonly regex: RegExp };

export interface Cidr {
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
  readonly prefix: number;
}

export type Condition =
  | { readonly kind: 'always' }
  | { readonly kind: 'protocol'; readonly protocols: readonly Protocol[] }
  | { readonly kind: 'tls.sni'; readonly patterns: readonly NamePattern[] }
  | { readonly kind: 'tls.alpn'; readonly names: readonly string[] }
  | { readonly kind: 'tls.version'; readonly min: number; readonly max: number }
  | { readonly kind: 'tls.ech'; readonly present: boolean }
  | { readonly kind: 'http.method'; readonly methods: readonly string[] }
  | { readonly kind: 'http.host'; readonly patterns: readonly NamePattern[] }
  | { readonly kind: 'bytes.length'; readonly min: number; readonly max: number }
  | { readonly kind: 'bytes.prefix'; readonly prefixes: readonly Uint8Array[] }
  | { readonly kind: 'bytes.regex'; readonly regex: RegExp }
  | { readonly kind: 'src'; readonly cidrs: readonly Cidr[] }
  | { readonly kind: 'local_port'; readonly ranges: readonly (readonly [number, number])[] }
  | { readonly kind: 'silent'; readonly ms: number }
  | { readonly kind: 'not'; readonly inner: Condition }
  | { readonly kind: 'all'; readonly inner: readonly Condition[] }
  | { readonly kind: 'any'; readonly inner: readonly Condition[] };

export interface RouteConfig {
  readonly name: string;
  readonly when: Condition;
  readonly to: string;
  readonly pos: SourcePos;
}

export type DemoKind = 'https' | 'http' | 'banner';

export interface DemoServiceConfig {
  readonly name: string;
  readonly kind: DemoKind;
  readonly listen: HostPort;
}

export interface RulesConfig {
  readonly files: readonly string[];
  readonly listeners: readonly ListenerConfig[];
  readonly inspect: { readonly timeoutMs: number; readonly maxBytes: number };
  readonly timeouts: { readonly idleMs: number };
  readonly backends: ReadonlyMap<string, BackendConfig>;
  readonly routes: readonly RouteConfig[];
  /** Backend for connections no route took, including clients that stayed silent until the deadline. */
  readonly defaultBackend: string | undefined;
  readonly demo: readonly DemoServiceConfig[];
  readonly log: { readonly level: string };
}
