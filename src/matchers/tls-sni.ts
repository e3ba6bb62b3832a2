/** `tls.sni` — the ClientHello's server name against exact, *.suffix and ~regex patterns. No SNI never matches. */
import type { NamePattern } from '../config/types.js';
import type { Matcher } from './context.js';
import { nameMatches } from './names.js';
import { overParsed } from './parsed.js';

export function tlsSniMatcher(patterns: readonly NamePattern[]): Matcher {
  return (ctx) => overParsed(ctx, ctx.facts.tls(), (h) => h.sni !== undefined && nameMatches(patterns, h.sni));
}
