/**
 * The matcher contract, here so protocol folders can state their matchers without importing
 * upwards: a matcher reads a MatchContext and answers a Verdict. It never sees a socket.
 */
import type { ParseResult } from './result.js';
import type { ParsedValue, ParserKey } from './index.js';
import { MORE, NO, type Verdict } from './verdict.js';

/** What a matcher may ask of the connection's parsed facts (src/inspect/facts.ts implements it). */
export interface FactsView {
  /** The answer of one parser over the bytes so far, typed by its key. */
  get<K extends ParserKey>(key: K): ParseResult<ParsedValue<K>>;
  /** A parser's value when it was already computed and complete (for logs), without parsing anew. */
  known<K extends ParserKey>(key: K): ParsedValue<K> | undefined;
  /** The bytes so far as latin1 text (one character per byte), decoded once per length. */
  latin1(): string;
  recall<T>(key: object): T | undefined;
  remember(key: object, value: unknown): void;
  /** Set by a condition that put off work until more bytes come (bytes.regex). */
  deferred: boolean;
  /** The inspector only catches up on deferred work (no new bytes). */
  readonly catchingUp: boolean;
}

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
  readonly facts: FactsView;
}

export type Matcher = (ctx: MatchContext) => Verdict;

/** need-more, or no-match once nothing more will arrive. */
export function more(ctx: MatchContext): Verdict {
  return ctx.final ? NO : MORE;
}
