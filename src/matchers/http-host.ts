/** `http.host` — the Host header (or CONNECT authority) without its port, lowercased. */
import type { NamePattern } from '../config/types.js';
import type { Matcher } from './context.js';
import { nameMatches } from './names.js';
import { overParsed } from './parsed.js';

export function httpHostMatcher(patterns: readonly NamePattern[]): Matcher {
  return (ctx) => overParsed(ctx, ctx.facts.http(), (h) => h.host !== undefined && nameMatches(patterns, h.host));
}
