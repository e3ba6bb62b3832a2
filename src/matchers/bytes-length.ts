/**
 * `bytes.length` — the size heuristic: how many bytes the client has sent at decision time.
 * Below `min` it waits for more; above `max` it can never match again.
 */
import { more, type Matcher } from '../protocols/match-context.js';
import { NO, YES } from '../protocols/verdict.js';

export function bytesLengthMatcher(min: number, max: number): Matcher {
  return (ctx) => {
    const n = ctx.bytes.length;
    if (n > max) return NO;
    if (n >= min && n > 0) return YES;
    return more(ctx);
  };
}
