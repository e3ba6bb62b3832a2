/** `protocol: tls | http | ssh` — a complete, valid first message of that protocol. */
import type { Protocol } from '../config/types.js';
import type { Matcher } from './context.js';
import { anyMatcher } from './logic.js';
import { overParsed } from './parsed.js';

const always = (): boolean => true;

function one(p: Protocol): Matcher {
  switch (p) {
    case 'tls':
      return (ctx) => overParsed(ctx, ctx.facts.tls(), always);
    case 'http':
      return (ctx) => overParsed(ctx, ctx.facts.http(), always);
    case 'ssh':
      return (ctx) => overParsed(ctx, ctx.facts.ssh(), always);
  }
}

export function protocolMatcher(protocols: readonly Protocol[]): Matcher {
  const each = protocols.map(one);
  return each.length === 1 ? each[0]! : anyMatcher(each);
}
