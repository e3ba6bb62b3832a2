/**
 * A condition over the bytes so far read as text, whose test costs a pass over all of them and
 * cannot be carried on from where it stopped (a regular expression): re-run on every segment, a
 * client sending its first message one byte per segment would cost a pass per byte, quadratic in
 * what it sends. So a test that has not matched is re-run only once the bytes have grown by an
 * eighth since its last run (at most ~9 passes over the final length in all), when nothing more
 * will come (`final`: the answer at the cap, deadline or EOF is over every byte), or when the
 * inspector catches up after the client paused (Facts.catchingUp; the k-th catch-up comes
 * 10 ms * 2^k after the client's last byte, so they add at most log2(timeout / 10 ms) passes).
 *
 * Putting off a run only delays a match: until it matches the condition answers need-more, which
 * no later route can overtake. A test that matched keeps matching until it is re-run at `final`
 * (true of every pattern whose match does not depend on what follows it: no `$` or `\b`
 * at its end; such a pattern already depends on how the client's bytes were split).
 */
import { more, type Matcher } from '../protocols/match-context.js';
import { YES } from '../protocols/verdict.js';

interface LastRun {
  readonly length: number;
  readonly matched: boolean;
}

export function overGrowingText(test: (text: string) => boolean): Matcher {
  // This matcher's own key into each connection's memo.
  const key = {};
  return (ctx) => {
    const facts = ctx.facts;
    const n = ctx.bytes.length;
    let last = facts.recall<LastRun>(key);
    if (last === undefined || (last.length !== n && (ctx.final || facts.catchingUp || (!last.matched && n - last.length >= Math.max(1, last.length >> 3))))) {
      last = { length: n, matched: test(facts.latin1()) };
      facts.remember(key, last);
    } else if (last.length !== n && !last.matched) {
      facts.deferred = true;
    }
    return last.matched ? YES : more(ctx);
  };
}
