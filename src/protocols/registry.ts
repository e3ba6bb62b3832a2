/**
 * What the rest of portplex reads off the protocol list (index.ts): the `protocol:` values, the
 * per-protocol `when:` keys, each protocol condition's spec, and the close line's captured fields.
 */
import { PROTOCOL_MODULES, type ParsedValue, type ParserKey, type Protocol, type ProtocolCondition } from './index.js';
import type { Capture, ConditionSpec, ProtocolModule } from './module.js';

/** The common view of a list entry (each one's own types are kept by the list's tuple type). */
type AnyModule = ProtocolModule<ParserKey, unknown, Protocol, ProtocolCondition>;
const MODULES = PROTOCOL_MODULES as readonly AnyModule[];

/** Every `protocol:` value, in list order. */
export const PROTOCOLS: readonly Protocol[] = MODULES.flatMap((m) => Object.keys(m.names) as Protocol[]);

/** The protocols that add a `when:` key (named after the protocol), in list order. */
export const WHEN_PROTOCOLS: readonly (AnyModule & { readonly when: NonNullable<AnyModule['when']> })[] = MODULES.filter(
  (m): m is AnyModule & { readonly when: NonNullable<AnyModule['when']> } => m.when !== undefined,
);

const SPECS = new Map<string, ConditionSpec<ProtocolCondition>>(
  MODULES.flatMap((m) => Object.entries(m.conditions ?? {}) as [string, ConditionSpec<ProtocolCondition>][]),
);

/** Whether a condition is one a protocol adds (tls.sni, ...) rather than a generic one (src, bytes.*, ...). */
export function isProtocolCondition<C extends { readonly kind: string }>(c: C | ProtocolCondition): c is ProtocolCondition {
  return SPECS.has(c.kind);
}

/** What its protocol does with a condition: matcher, summary, explain reason, shadowing rule. */
export function conditionSpec(c: ProtocolCondition): ConditionSpec<ProtocolCondition> {
  return SPECS.get(c.kind)!;
}

const CAPTURES = MODULES.filter((m): m is AnyModule & { readonly capture: Capture<unknown> } => m.capture !== undefined);

/**
 * The close line's fields from every first message that was parsed complete (sni, alpn,
 * tls_version, http_host, xmpp_to, rdp_cookie, pg_kind, pg_user, pg_database), in list order.
 * `known` answers a parser's value without parsing anew; `escape` makes client text safe to log.
 */
export function capturedFields(
  known: <K extends ParserKey>(key: K) => ParsedValue<K> | undefined,
  escape: (s: string | undefined) => string | undefined,
): Record<string, string | readonly (string | undefined)[] | undefined> {
  const out: Record<string, string | readonly (string | undefined)[] | undefined> = {};
  for (const m of CAPTURES) {
    const v = known(m.key);
    if (v !== undefined) Object.assign(out, m.capture(v, escape));
  }
  return out;
}
