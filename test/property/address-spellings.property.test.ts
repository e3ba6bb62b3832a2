/**
 * Property: every spelling of one IPv4 address — dotted, IPv4-mapped, -translated and -compatible
 * IPv6 in all their text forms, NAT64, 6to4, Teredo — gets the same SSRF verdict and the same
 * allowlist answer (src/forward/address-policy.ts over src/protocols/ip-canonical.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Cidr } from '../../src/config/types.js';
import { forwardPolicy, isSpecialAddress } from '../../src/forward/address-policy.js';
import { canonicalAddress } from '../../src/protocols/ip/canonical.js';
import { check, fc, ipv4BytesArb, ipv4Text, ipv6TextForms } from './support.js';

const v6bytes = (head: readonly number[], v4: Uint8Array, tail: readonly number[] = []): Uint8Array => Uint8Array.from([...head, ...v4, ...tail]);

/** Every IPv6 address that stands for `v4`, each in every text form ipv6TextForms gives. */
function spellings(v4: Uint8Array, rest: Uint8Array): string[] {
  const zero10 = new Array<number>(10).fill(0);
  const addresses = [
    v6bytes([...zero10, 0xff, 0xff], v4), // ::ffff:0:0/96 IPv4-mapped (RFC 4291 §2.5.5.2)
    v6bytes([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0], v4), // ::ffff:0:0:0/96 IPv4-translated (RFC 2765)
    v6bytes([0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], v4), // 64:ff9b::/96 NAT64 (RFC 6052)
    v6bytes([0x20, 0x02], v4, [...rest.slice(0, 10)]), // 2002::/16 6to4 (RFC 3056), any subnet and interface
    // Teredo (RFC 4380 §4) with this address as both server and client (the client's bits inverted).
    v6bytes([0x20, 0x01, 0, 0], v4, [rest[0]!, rest[1]!, rest[2]!, rest[3]!, ...v4.map((x) => x ^ 0xff)]),
  ];
  // ::/96 IPv4-compatible (RFC 4291 §2.5.5.1), except :: and ::1, which are IPv6's own.
  if (v4[0] !== 0 || v4[1] !== 0 || v4[2] !== 0 || v4[3]! > 1) addresses.push(v6bytes(new Array<number>(12).fill(0), v4));
  return [ipv4Text(v4), ...addresses.flatMap(ipv6TextForms)];
}

/** An IPv4 CIDR that contains `v4` or is random, as the config compiles it. */
const cidrArb = (v4: Uint8Array): fc.Arbitrary<Cidr> =>
  fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 })).map(([around, other, prefix]) => ({
    family: 'ipv4' as const,
    address: ipv4Text(around ? v4 : other),
    prefix,
  }));

describe('every spelling of an IPv4 address', () => {
  it('normalises to the same canonical IPv4 bytes or carries exactly that address (seed 9300, 300 runs)', () => {
    check(
      fc.property(ipv4BytesArb, fc.uint8Array({ minLength: 10, maxLength: 10 }), (v4, rest) => {
        for (const s of spellings(v4, rest)) {
          const c = canonicalAddress(s);
          assert.ok(c !== undefined, s);
          const judged = c.embedded.length > 0 ? c.embedded : [c.bytes];
          for (const j of judged) assert.deepEqual([...j], [...v4], s);
        }
      }),
      9300,
      300,
    );
  });

  it('gets the same verdict and the same allowlist answer as the dotted form (seed 9301, 300 runs)', () => {
    const caseArb = ipv4BytesArb.chain((v4) => fc.tuple(fc.constant(v4), fc.uint8Array({ minLength: 10, maxLength: 10 }), fc.array(cidrArb(v4), { maxLength: 3 })));
    check(
      fc.property(caseArb, ([v4, rest, cidrs]) => {
        const dotted = ipv4Text(v4);
        const policy = forwardPolicy({ names: [{ kind: 'exact', name: 'named.example' }], cidrs });
        const want = {
          special: isSpecialAddress(dotted),
          host: policy.hostAllowed(dotted),
          literal: policy.addressAllowed(dotted, dotted),
          named: policy.addressAllowed('named.example', dotted),
          other: policy.addressAllowed('other.example', dotted),
        };
        for (const s of spellings(v4, rest)) {
          const got = {
            special: isSpecialAddress(s),
            host: policy.hostAllowed(s),
            literal: policy.addressAllowed(s, s),
            named: policy.addressAllowed('named.example', s),
            other: policy.addressAllowed('other.example', s),
          };
          assert.deepEqual(got, want, `${s} vs ${dotted} with ${JSON.stringify(cidrs)}`);
        }
      }),
      9301,
      300,
    );
  });
});
