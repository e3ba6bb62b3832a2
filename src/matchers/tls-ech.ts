/** `tls.ech` — whether the ClientHello carries an encrypted_client_hello extension. */
import type { Matcher } from './context.js';
import { overParsed } from './parsed.js';

export function tlsEchMatcher(present: boolean): Matcher {
  return (ctx) => overParsed(ctx, ctx.facts.tls(), (h) => h.ech === present);
}
