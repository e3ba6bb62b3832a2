/** `bytes.prefix` — the first bytes equal one of the given hex strings. Decides as soon as a byte differs. */
import { more, type Matcher } from './context.js';
import { NO, YES, MORE, type Verdict } from './verdict.js';

export function bytesPrefixMatcher(prefixes: readonly Uint8Array[]): Matcher {
  return (ctx) => {
    const b = ctx.bytes;
    let pending = false;
    for (const p of prefixes) {
      const v = comparePrefix(b, p);
      if (v === YES) return YES;
      if (v === MORE) pending = true;
    }
    return pending ? more(ctx) : NO;
  };
}

function comparePrefix(b: Uint8Array, p: Uint8Array): Verdict {
  const n = Math.min(b.length, p.length);
  for (let i = 0; i < n; i++) if (b[i] !== p[i]) return NO;
  return b.length >= p.length ? YES : MORE;
}
