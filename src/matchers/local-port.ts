/** `local_port` — the port the client connected to, for a listener bound to several ports. */
import type { Matcher } from '../protocols/match-context.js';
import { NO, YES } from '../protocols/verdict.js';

export function localPortMatcher(ranges: readonly (readonly [number, number])[]): Matcher {
  return (ctx) => {
    for (const [lo, hi] of ranges) if (ctx.localPort >= lo && ctx.localPort <= hi) return YES;
    return NO;
  };
}
