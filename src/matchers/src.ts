/** `src` — the client address (after any trusted PROXY header) in one of the CIDRs. */
import { BlockList } from 'node:net';
import type { Cidr } from '../config/types.js';
import type { Matcher } from './context.js';
import { NO, YES } from './verdict.js';

export function srcMatcher(cidrs: readonly Cidr[]): Matcher {
  const v4 = new BlockList();
  const v6 = new BlockList();
  for (const c of cidrs) (c.family === 'ipv4' ? v4 : v6).addSubnet(c.address, c.prefix, c.family);
  return (ctx) => {
    const a = ctx.srcAddress;
    const hit = a.includes(':') ? v6.check(a, 'ipv6') : v4.check(a, 'ipv4');
    return hit ? YES : NO;
  };
}
