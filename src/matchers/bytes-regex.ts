/**
 * `bytes.regex` — an RE2 pattern over the bytes so far, read as latin1 (one character per byte,
 * so \xHH escapes and [\x80-\xff] classes address bytes). It waits for more bytes until it
 * matches or nothing more will come. How often it is re-run as bytes arrive: over-text.ts.
 */
import type { RulePattern } from '../config/rule-pattern.js';
import type { Matcher } from '../protocols/match-context.js';
import { overGrowingText } from './over-text.js';

export function bytesRegexMatcher(regex: RulePattern): Matcher {
  return overGrowingText((text) => regex.test(text));
}
