/** A set of CIDRs, IPv4 and IPv6, answering "is this address in it" (node's BlockList does the work). */
import { BlockList } from 'node:net';
import type { Cidr } from '../config/types.js';

export type CidrSet = (address: string) => boolean;

export function cidrSet(cidrs: readonly Cidr[]): CidrSet {
  const v4 = new BlockList();
  const v6 = new BlockList();
  let has4 = false;
  let has6 = false;
  for (const c of cidrs) {
    if (c.family === 'ipv4') {
      v4.addSubnet(c.address, c.prefix, 'ipv4');
      has4 = true;
    } else {
      v6.addSubnet(c.address, c.prefix, 'ipv6');
      has6 = true;
    }
  }
  // Addresses reach here unmapped (::ffff:1.2.3.4 is already 1.2.3.4).
  return (a) => (a.includes(':') ? has6 && v6.check(a, 'ipv6') : has4 && v4.check(a, 'ipv4'));
}
