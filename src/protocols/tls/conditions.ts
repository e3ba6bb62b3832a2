/**
 * The tls conditions over the ClientHello (from a TCP stream, or from QUIC Initial packets on
 * UDP): SNI against name patterns (no SNI never matches), an offered ALPN name (RFC 7301 §3.1), the highest
 * offered version within a range, and whether encrypted_client_hello is present.
 */
import type { ConditionSpecs } from '../module.js';
import { overParsed } from '../parsed.js';
import { nameMatches, namesCovered, namesText, rangeText } from '../patterns.js';
import { tlsVersionName, type ClientHello } from './client-hello.js';
import type { TlsCondition } from './when.js';
import type { MatchContext } from '../match-context.js';

function hello(ctx: MatchContext): ClientHello | undefined {
  const r = ctx.facts.get('tls');
  return r.kind === 'ok' ? r.value : undefined;
}

export const TLS_CONDITIONS: ConditionSpecs<TlsCondition> = {
  'tls.sni': {
    matcher: (c) => (ctx) => overParsed(ctx, ctx.facts.get('tls'), (h) => h.sni !== undefined && nameMatches(c.patterns, h.sni)),
    summary: (c) => `SNI ${namesText(c.patterns)}`,
    explain: (_c, ctx, show) => `sni ${show(hello(ctx)?.sni)}`,
    implies: (a, b) => namesCovered(a.patterns, b.patterns),
  },
  'tls.alpn': {
    matcher: (c) => (ctx) => overParsed(ctx, ctx.facts.get('tls'), (h) => h.alpn.some((p) => c.names.includes(p))),
    summary: (c) => `ALPN ${c.names.join(', ')}`,
    explain: (c, ctx) => `alpn offered: ${hello(ctx)?.alpn.join(', ') || 'none'} (wanted ${c.names.join(', ')})`,
    implies: (a, b) => a.names.every((n) => b.names.includes(n)),
  },
  'tls.version': {
    matcher: (c) => (ctx) => overParsed(ctx, ctx.facts.get('tls'), (h) => h.version >= c.min && h.version <= c.max),
    summary: (c) => `TLS ${rangeText(c.min, c.max, 0xffff, tlsVersionName)}`,
    explain: (c, ctx) => {
      const h = hello(ctx);
      return `highest version ${h ? tlsVersionName(h.version) : 'unknown'} (wanted ${tlsVersionName(c.min)}..${c.max === 0xffff ? '' : tlsVersionName(c.max)})`;
    },
    implies: (a, b) => b.min <= a.min && a.max <= b.max,
  },
  'tls.ech': {
    matcher: (c) => (ctx) => overParsed(ctx, ctx.facts.get('tls'), (h) => h.ech === c.present),
    summary: (c) => (c.present ? 'TLS with ECH' : 'TLS without ECH'),
    explain: (_c, ctx) => `encrypted_client_hello ${hello(ctx)?.ech ? 'present' : 'absent'}`,
    // Only the identical condition (shadowed-routes.ts compares those first).
    implies: () => false,
  },
};
