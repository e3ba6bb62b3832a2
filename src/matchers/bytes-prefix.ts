/** `bytes.prefix` — the first bytes equal one of the given hex strings. Decides as soon as a byte differs. */
import { more, type Matcher } from '../protocols/match-context.js';
import { NO, YES, MORE, type Verdict } from '../protocols/verdict.js';

/**
 * Prefixes up to this long are compared from their first byte on every evaluation (a few dozen
 * reads); a longer one keeps, per connection, how far the bytes are known to agree with it, so a
 * client sending it one byte per segment has each byte compared once.
 */
const SHORT = 64;

export function bytesPrefixMatcher(prefixes: readonly Uint8Array[]): Matcher {
  if (prefixes.every((p) => p.length <= SHORT)) {
    return (ctx) => {
      const b = ctx.bytes;
      let pending = false;
      for (const p of prefixes) {
        const v = comparePrefix(b, p, 0);
        if (v === YES) return YES;
        if (v === MORE) pending = true;
      }
      return pending ? more(ctx) : NO;
    };
  }
  // This matcher's own key into each connection's memo: per prefix, the bytes known to agree (-1: differs).
  const key = {};
  return (ctx) => {
    const b = ctx.bytes;
    let agreed = ctx.facts.recall<number[]>(key);
    if (agreed === undefined) ctx.facts.remember(key, (agreed = prefixes.map(() => 0)));
    let pending = false;
    for (let k = 0; k < prefixes.length; k++) {
      const p = prefixes[k]!;
      const from = agreed[k]!;
      if (from < 0) continue;
      const v = comparePrefix(b, p, from);
      if (v === YES) {
        agreed[k] = p.length;
        return YES;
      }
      if (v === MORE) {
        pending = true;
        agreed[k] = b.length;
      } else agreed[k] = -1;
    }
    return pending ? more(ctx) : NO;
  };
}

/** Whether `b` starts with `p`, given that their first `from` bytes agree. */
function comparePrefix(b: Uint8Array, p: Uint8Array, from: number): Verdict {
  const n = Math.min(b.length, p.length);
  for (let i = from; i < n; i++) if (b[i] !== p[i]) return NO;
  return b.length >= p.length ? YES : MORE;
}
