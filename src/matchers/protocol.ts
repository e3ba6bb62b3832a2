/** `protocol: tls | http | ssh | socks5 | ...` — a complete, valid first message of that protocol. */
import type { Protocol } from '../config/types.js';
import { PROTOCOL_TABLE } from '../protocols/table.js';
import type { Matcher } from '../protocols/match-context.js';
import { overParsed } from '../protocols/parsed.js';
import { anyMatcher } from './logic.js';

const always = (): boolean => true;

function one(p: Protocol): Matcher {
  const { parser, accepts } = PROTOCOL_TABLE[p];
  const test = accepts ?? always;
  return (ctx) => overParsed<unknown>(ctx, ctx.facts.get(parser), test);
}

export function protocolMatcher(protocols: readonly Protocol[]): Matcher {
  const each = protocols.map(one);
  return each.length === 1 ? each[0]! : anyMatcher(each);
}
