/** `tls.alpn` — matches when the client offers any of the listed protocols (RFC 7301 §3.1). */
import type { Matcher } from './context.js';
import { overParsed } from './parsed.js';

export function tlsAlpnMatcher(names: readonly string[]): Matcher {
  return (ctx) => overParsed(ctx, ctx.facts.tls(), (h) => h.alpn.some((p) => names.includes(p)));
}
