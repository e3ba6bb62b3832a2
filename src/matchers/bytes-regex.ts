/**
 * `bytes.regex` — a JavaScript regular expression over the bytes so far, read as latin1 (one
 * character per byte, so \x00-\xff escapes address bytes). It waits for more bytes until it
 * matches or nothing more will come.
 */
import { more, type Matcher } from './context.js';
import { YES } from './verdict.js';

export function bytesRegexMatcher(regex: RegExp): Matcher {
  const re = new RegExp(regex.source, regex.flags.replace(/[gy]/g, ''));
  return (ctx) => {
    const text = Buffer.from(ctx.bytes.buffer, ctx.bytes.byteOffset, ctx.bytes.length).toString('latin1');
    return re.test(text) ? YES : more(ctx);
  };
}
