/**
 * A short, human summary of a route's `when:` for the status page ("SNI demo.test, *.demo.test",
 * "protocol http", "not (src 10.0.0.0/8)"). It names what the admin wrote, not how it is matched;
 * `portplex explain` is the tool for the why.
 */
import type { Cidr, Condition } from '../config/types.js';
import { rangeText, regexText } from '../protocols/patterns.js';
import { conditionSpec, isProtocolCondition } from '../protocols/registry.js';

/** Longer summaries are cut: the page shows one line per route. */
export const SUMMARY_MAX = 160;

/** A bare address for a single host, as the admin most likely wrote it. */
function cidrText(c: Cidr): string {
  return c.prefix === (c.family === 'ipv4' ? 32 : 128) ? c.address : `${c.address}/${c.prefix}`;
}

/** `tls: { sni }` compiles to all[protocol tls, tls.sni]: the protocol part says nothing the SNI does not. */
function impliedProtocolDropped(inner: readonly Condition[]): readonly Condition[] {
  return inner.filter((c) => !(c.kind === 'protocol' && c.protocols.length === 1 && inner.some((o) => o.kind.startsWith(`${c.protocols[0]}.`))));
}

function describe(c: Condition): string {
  if (isProtocolCondition(c)) return conditionSpec(c).summary(c);
  switch (c.kind) {
    case 'always':
      return 'every connection';
    case 'protocol':
      return `protocol ${c.protocols.join(' or ')}`;
    case 'bytes.length':
      return `${rangeText(c.min, c.max, Number.MAX_SAFE_INTEGER)} bytes`;
    case 'bytes.prefix':
      return `bytes start ${c.prefixes.map((p) => Buffer.from(p).toString('hex').replace(/(..)(?!$)/g, '$1 ')).join(' | ')}`;
    case 'bytes.regex':
      return `bytes ${regexText(c.regex)}`;
    case 'src':
      return `src ${c.cidrs.map(cidrText).join(', ')}`;
    case 'local_port':
      return `port ${c.ranges.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(', ')}`;
    case 'silent':
      return `silent ${c.ms}ms`;
    case 'not':
      return `not (${describe(c.inner)})`;
    case 'all': {
      const parts = impliedProtocolDropped(c.inner).map(describe);
      return parts.join(' and ');
    }
    case 'any':
      return `any of (${c.inner.map(describe).join(' | ')})`;
  }
}

export function summarizeCondition(c: Condition): string {
  const s = describe(c);
  return s.length > SUMMARY_MAX ? `${s.slice(0, SUMMARY_MAX - 1)}…` : s;
}
