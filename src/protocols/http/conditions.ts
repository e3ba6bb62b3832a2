/** `when: { http: { method, host } }`: conditions over an HTTP/1 request head. */
import type { Node } from 'yaml';
import type { MatchContext } from '../match-context.js';
import type { ConditionSpecs, WhenReader } from '../module.js';
import { overParsed } from '../parsed.js';
import { nameMatches, namesCovered, namesText, type NamePattern } from '../patterns.js';
import type { HttpRequestHead } from './request.js';

export type HttpCondition = { readonly kind: 'http.method'; readonly methods: readonly string[] } | { readonly kind: 'http.host'; readonly patterns: readonly NamePattern[] };

export const HTTP_KEYS = ['method', 'host'] as const;
/** An RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$/;

export function compileHttp(r: WhenReader, node: Node | null, what: string): HttpCondition[] {
  const parts: HttpCondition[] = [];
  const m = r.map(node, what, HTTP_KEYS);
  if (!m) return parts;
  for (const [key, { value }] of m) {
    const sub = `${what}.${key}`;
    if (key === 'method') {
      const methods: string[] = [];
      for (const n of r.list(value)) {
        const s = r.string(n, sub);
        if (s !== undefined && !TOKEN.test(s)) r.error(n, `${sub}: "${s}" is not an HTTP method token`);
        else if (s !== undefined) methods.push(s);
      }
      parts.push({ kind: 'http.method', methods });
    } else {
      parts.push({ kind: 'http.host', patterns: r.names(value, sub) });
    }
  }
  return parts;
}

function head(ctx: MatchContext): HttpRequestHead | undefined {
  const r = ctx.facts.get('http');
  return r.kind === 'ok' ? r.value : undefined;
}

export const HTTP_CONDITIONS: ConditionSpecs<HttpCondition> = {
  // The request method, case-sensitive as RFC 9110 §9.1 says.
  'http.method': {
    matcher: (c) => (ctx) => overParsed(ctx, ctx.facts.get('http'), (h) => c.methods.includes(h.method)),
    summary: (c) => `method ${c.methods.join(', ')}`,
    explain: (c, ctx, show) => `method ${show(head(ctx)?.method)} (wanted ${c.methods.join(', ')})`,
    implies: (a, b) => a.methods.every((m) => b.methods.includes(m)),
  },
  // The Host header (or CONNECT authority) without its port, lowercased.
  'http.host': {
    matcher: (c) => (ctx) => overParsed(ctx, ctx.facts.get('http'), (h) => h.host !== undefined && nameMatches(c.patterns, h.host)),
    summary: (c) => `Host ${namesText(c.patterns)}`,
    explain: (_c, ctx, show) => `host ${show(head(ctx)?.host)}`,
    implies: (a, b) => namesCovered(a.patterns, b.patterns),
  },
};
