import type { ParseResult } from './result.js';
import { more, type MatchContext } from './match-context.js';
import { NO, YES, type Verdict } from './verdict.js';

/** Decides over a parsed fact: `test` runs only on a complete parse; invalid input never matches. */
export function overParsed<T>(ctx: MatchContext, result: ParseResult<T>, test: (value: T) => boolean): Verdict {
  if (result.kind === 'ok') return test(result.value) ? YES : NO;
  if (result.kind === 'invalid') return NO;
  return more(ctx);
}
