/**
 * What one protocol folder provides (src/protocols/<name>/index.ts), so every registry is built
 * from the one static list in src/protocols/index.ts: its row of the protocol table (the parser
 * key, its TCP and/or UDP parser, the `protocol:` values it decides and what each accepts), its
 * `when:` key with its sub-keys and their validation, its conditions (matcher, status-page
 * summary, `explain` reason, shadowing rule) and the fields its first message adds to the close line.
 */
import type { Node } from 'yaml';
import type { MatchContext, Matcher } from './match-context.js';
import type { NamePattern, TextPattern } from './patterns.js';
import type { ParseResult } from './result.js';

/**
 * What a TCP parser reads: every byte of the stream so far. `from` is the `resume` state of this
 * parser's last answer, when that was a Suspended one (result.ts) over a prefix of `bytes`: the
 * parser then reads only the bytes after it. Parsers whose incomplete answers carry `needed`
 * instead (the message says its length) are asked again once that many bytes are in.
 */
export type StreamParser<V = unknown> = (bytes: Uint8Array, maxBytes: number, from?: unknown) => ParseResult<V>;
/** What a UDP parser reads: the datagrams of the flow so far, in arrival order (never empty). */
export type DatagramParser<V = unknown> = (datagrams: readonly Uint8Array[], maxBytes: number) => ParseResult<V>;

/**
 * The rule-file reader a protocol's `when:` key is compiled with (src/config/conditions.ts hands
 * in src/config/yaml-reader.ts NodeReader plus the shared pattern readers). Every method reports
 * its own error at the node's file:line:col and answers undefined (or drops the item).
 */
export interface WhenReader {
  error(node: Node | null | undefined, message: string): undefined;
  map(node: Node | null, what: string, allowed: readonly string[] | null): Map<string, { readonly value: Node | null }> | undefined;
  list(node: Node | null): Node[];
  isNull(node: Node | null): boolean;
  scalar(node: Node | null): unknown;
  string(node: Node | null, what: string): string | undefined;
  boolean(node: Node | null, what: string): boolean | undefined;
  oneOf<T extends string>(node: Node | null, what: string, allowed: readonly T[]): T | undefined;
  /** "example.com", "*.example.com", "~regex" (RE2, case-insensitive). */
  names(node: Node | null, what: string): NamePattern[];
  /** Exact text (compared case-insensitively) or "~regex". */
  texts(node: Node | null, what: string): TextPattern[];
  /** "a..b", "a..", "..b", { min, max } or one value, `read` turning one bound into a number. */
  range(node: Node | null, what: string, read: (n: Node | null, v: unknown) => number | undefined, top: number): { min: number; max: number } | undefined;
}

/** Everything portplex does with one condition kind besides parsing it. */
export interface ConditionSpec<C> {
  readonly matcher: (c: C) => Matcher;
  /** The status page's short text: what the admin wrote, not how it is matched. */
  readonly summary: (c: C) => string;
  /** `portplex explain`'s reason: what the condition saw. `show` quotes and escapes client text. */
  readonly explain: (c: C, ctx: MatchContext, show: (s: string | undefined) => string) => string;
  /** Every connection that matches `a` matches `b` too, for certain (sound, not complete). */
  readonly implies: (a: C, b: C) => boolean;
}

export type ConditionSpecs<C extends { readonly kind: string }> = { readonly [K in C['kind']]: ConditionSpec<Extract<C, { readonly kind: K }>> };

/** The close line's fields from a complete first message; `escape` makes client text safe to log. */
export type Capture<V> = (value: V, escape: (s: string | undefined) => string | undefined) => Readonly<Record<string, string | readonly (string | undefined)[] | undefined>>;

export interface ProtocolModule<K extends string, V, N extends string, C extends { readonly kind: string } = never> {
  /** The parser key: the Facts slot this protocol's answer is kept under. */
  readonly key: K;
  readonly tcp?: StreamParser<V>;
  readonly udp?: DatagramParser<V>;
  /** On UDP this protocol reads another parser's answer instead of its own (quic reads tls's). */
  readonly udpReads?: string;
  /** The `protocol:` values this parser decides, each with what its answer must say (null: any complete one). */
  readonly names: { readonly [P in N]: ((value: V) => boolean) | null };
  /** A `when:` key named after the protocol: it implies `protocol: <key>` and ANDs its sub-keys. */
  readonly when?: {
    readonly keys: readonly string[];
    readonly compile: (r: WhenReader, node: Node | null, what: string) => C[];
    /** `tls:` with no value means `protocol: tls`; for the capture protocols, so does an explicit null. */
    readonly nullMeansProtocol?: boolean;
  };
  readonly conditions?: ConditionSpecs<C>;
  readonly capture?: Capture<V>;
  /**
   * Type-level only, never set: the list's types are read off these (an inference over the whole
   * module would go round through the matchers' context, which reads the list's types).
   */
  readonly valueType?: V;
  readonly conditionType?: C;
}

export type ValueOf<M extends { readonly valueType?: unknown }> = Exclude<M['valueType'], undefined>;
export type ConditionOf<M extends { readonly conditionType?: unknown }> = Exclude<M['conditionType'], undefined>;
export type NamesOf<M> = M extends { readonly names: infer X } ? keyof X & string : never;
