/**
 * `bytes.regex` — an RE2 pattern over the bytes so far, read as latin1 (one character per byte,
 * so \xHH escapes and [\x80-\xff] classes address bytes). It waits for more bytes until it
 * matches or nothing more will come.
 */
import type { RulePattern } from '../config/rule-pattern.js';
import { more, type Matcher } from './context.js';
import { YES } from './verdict.js';

export function bytesRegexMatcher(regex: RulePattern): Matcher {
  return (ctx) => {
    const text = Buffer.from(ctx.bytes.buffer, ctx.bytes.byteOffset, ctx.bytes.length).toString('latin1');
    return regex.test(text) ? YES : more(ctx);
  };
}
