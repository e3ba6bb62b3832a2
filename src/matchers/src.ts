/** `src` — the client address (after any trusted PROXY header) in one of the CIDRs. */
import type { Cidr } from '../config/types.js';
import { cidrSet } from './cidr-set.js';
import type { Matcher } from '../protocols/match-context.js';
import { NO, YES } from '../protocols/verdict.js';

export function srcMatcher(cidrs: readonly Cidr[]): Matcher {
  const contains = cidrSet(cidrs);
  return (ctx) => (contains(ctx.srcAddress) ? YES : NO);
}
