/** `protocol: tls | http | ssh` — a complete, valid first message of that protocol. */
import type { Protocol } from '../config/types.js';
import type { MatchContext, Matcher } from './context.js';
import { overParsed } from './parsed.js';
import { MORE, NO, YES, type Verdict } from './verdict.js';

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
  if (each.length === 1) return each[0]!;
  return (ctx: MatchContext): Verdict => {
    let pending = false;
    for (const m of each) {
      const v = m(ctx);
      if (v === YES) return YES;
      if (v === MORE) pending = true;
    }
    return pending ? MORE : NO;
  };
}
