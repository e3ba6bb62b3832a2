/** `http.method` — the request method, case-sensitive as RFC 9110 §9.1 says. */
import type { Matcher } from './context.js';
import { overParsed } from './parsed.js';

export function httpMethodMatcher(methods: readonly string[]): Matcher {
  return (ctx) => overParsed(ctx, ctx.facts.http(), (h) => methods.includes(h.method));
}
