/**
 * A short, human summary of a route's `when:` for the status page ("SNI demo.test, *.demo.test",
 * "protocol http", "not (src 10.0.0.0/8)"). It names what the admin wrote, not how it is matched;
 * `portplex explain` is the tool for the why.
 */
import type { RulePattern } from '../config/rule-pattern.js';
import type { Cidr, Condition, NamePattern, TextPattern } from '../config/types.js';
import { tlsVersionName } from '../protocols/tls/client-hello.js';

/** Longer summaries are cut: the page shows one line per route. */
export const SUMMARY_MAX = 160;

/** The pattern as the admin wrote it. */
function regexText(r: RulePattern): string {
  return `~${r.source}`;
}

function names(patterns: readonly NamePattern[]): string {
  return patterns.map((p) => (p.kind === 'exact' ? p.name : p.kind === 'suffix' ? `*${p.suffix}` : regexText(p.regex))).join(', ');
}

function texts(patterns: readonly TextPattern[]): string {
  return patterns.map((p) => (p.kind === 'exact' ? p.text : regexText(p.regex))).join(', ');
}

/** A bare address for a single host, as the admin most likely wrote it. */
function cidrText(c: Cidr): string {
  return c.prefix === (c.family === 'ipv4' ? 32 : 128) ? c.address : `${c.address}/${c.prefix}`;
}

function range(min: number, max: number, top: number, show: (n: number) => string = String): string {
  if (min === max) return show(min);
  return `${min === 0 ? '' : show(min)}..${max >= top ? '' : show(max)}`;
}

/** `tls: { sni }` compiles to all[protocol tls, tls.sni]: the protocol part says nothing the SNI does not. */
function impliedProtocolDropped(inner: readonly Condition[]): readonly Condition[] {
  return inner.filter((c) => !(c.kind === 'protocol' && c.protocols.length === 1 && inner.some((o) => o.kind.startsWith(`${c.protocols[0]}.`))));
}

function describe(c: Condition): string {
  switch (c.kind) {
    case 'always':
      return 'every connection';
    case 'protocol':
      return `protocol ${c.protocols.join(' or ')}`;
    case 'tls.sni':
      return `SNI ${names(c.patterns)}`;
    case 'tls.alpn':
      return `ALPN ${c.names.join(', ')}`;
    case 'tls.version':
      return `TLS ${range(c.min, c.max, 0xffff, tlsVersionName)}`;
    case 'tls.ech':
      return c.present ? 'TLS with ECH' : 'TLS without ECH';
    case 'http.method':
      return `method ${c.methods.join(', ')}`;
    case 'http.host':
      return `Host ${names(c.patterns)}`;
    case 'bytes.length':
      return `${range(c.min, c.max, Number.MAX_SAFE_INTEGER)} bytes`;
    case 'bytes.prefix':
      return `bytes start ${c.prefixes.map((p) => Buffer.from(p).toString('hex').replace(/(..)(?!$)/g, '$1 ')).join(' | ')}`;
    case 'bytes.regex':
      return `bytes ${regexText(c.regex)}`;
    case 'xmpp.to':
      return `XMPP to ${names(c.patterns)}`;
    case 'rdp.cookie':
      return `RDP cookie ${texts(c.patterns)}`;
    case 'postgres.kind':
      return `Postgres ${c.kinds.join(', ')}`;
    case 'postgres.user':
      return `Postgres user ${texts(c.patterns)}`;
    case 'postgres.database':
      return `Postgres database ${texts(c.patterns)}`;
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
