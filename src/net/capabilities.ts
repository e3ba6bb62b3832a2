/**
 * Linux capabilities portplex asks about or keeps (capabilities(7), numbers from
 * linux/capability.h), and whether this process has one in its effective set: CapEff in
 * /proc/self/status, a hex mask.
 */
import { readFileSync } from 'node:fs';

export const CAP_NET_BIND_SERVICE = 10;
export const CAP_NET_ADMIN = 12;

/** undefined: cannot tell (no /proc, not Linux). `status`: the text of /proc/self/status (tests pass their own). */
export function hasEffectiveCapability(cap: number, status: string | undefined = readStatus()): boolean | undefined {
  const m = status === undefined ? null : /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? (BigInt(`0x${m[1]!}`) & (1n << BigInt(cap))) !== 0n : undefined;
}

function readStatus(): string | undefined {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
}
