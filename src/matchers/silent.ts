/**
 * `silent: 300ms` — the client has sent nothing for that long: a server-speaks-first protocol
 * (SMTP, FTP, MySQL...) whose client waits for a banner. Any byte from the client rules it out.
 */
import type { Matcher } from '../protocols/match-context.js';
import { MORE, NO, YES } from '../protocols/verdict.js';

export function silentMatcher(ms: number): Matcher {
  return (ctx) => {
    if (ctx.bytes.length > 0) return NO;
    if (ctx.elapsedMs >= ms) return YES;
    return ctx.final ? NO : MORE;
  };
}
