import type { Facts } from '../inspect/facts.js';
import { MORE, NO, type Verdict } from './verdict.js';

/** What a matcher may look at. It never sees a socket. */
export interface MatchContext {
  /** Every byte received so far, unconsumed. */
  readonly bytes: Uint8Array;
  /**
   * No more bytes will be waited for (cap, deadline, EOF, or established silence): a matcher
   * that would answer need-more answers no-match instead.
   */
  readonly final: boolean;
  /** Milliseconds since the connection was accepted. */
  readonly elapsedMs: number;
  /** Client address, IPv4-mapped IPv6 already unwrapped to dotted IPv4. */
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly facts: Facts;
}

export type Matcher = (ctx: MatchContext) => Verdict;

/** need-more, or no-match once nothing more will arrive. */
export function more(ctx: MatchContext): Verdict {
  return ctx.final ? NO : MORE;
}
