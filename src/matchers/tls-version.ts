/** `tls.version` — the highest version the client supports (supported_versions, RFC 8446 §4.2.1), not the record version. */
import type { Matcher } from './context.js';
import { overParsed } from './parsed.js';

export function tlsVersionMatcher(min: number, max: number): Matcher {
  return (ctx) => overParsed(ctx, ctx.facts.tls(), (h) => h.version >= min && h.version <= max);
}
