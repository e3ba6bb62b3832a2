/** `all` (and a route's own keys), `any` and `not`, over tri-state verdicts. */
import type { MatchContext, Matcher } from '../protocols/match-context.js';
import { MORE, NO, YES, type Verdict } from '../protocols/verdict.js';

export function allMatcher(parts: readonly Matcher[]): Matcher {
  return (ctx: MatchContext): Verdict => {
    let pending = false;
    for (const m of parts) {
      const v = m(ctx);
      if (v === NO) return NO;
      if (v === MORE) pending = true;
    }
    return pending ? MORE : YES;
  };
}

export function anyMatcher(parts: readonly Matcher[]): Matcher {
  return (ctx: MatchContext): Verdict => {
    let pending = false;
    for (const m of parts) {
      const v = m(ctx);
      if (v === YES) return YES;
      if (v === MORE) pending = true;
    }
    return pending ? MORE : NO;
  };
}

export function notMatcher(inner: Matcher): Matcher {
  return (ctx: MatchContext): Verdict => {
    const v = inner(ctx);
    return v === YES ? NO : v === NO ? YES : MORE;
  };
}

export const alwaysMatcher: Matcher = () => YES;
