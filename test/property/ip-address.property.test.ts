/**
 * Property tests for src/protocols/ip-address.ts: the text parsers against node:net, and the
 * formatters against the WHATWG URL serializer (RFC 5952), round trips, and reads confined to
 * the 4/16 bytes at `off`.
 */
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import { describe, it } from 'node:test';
import { formatIPv4, formatIPv6, isV4Mapped, parseIPv4, parseIPv6 } from '../../src/protocols/ip/address.js';
import { canonicalIPv6, check, fc, ipv4BytesArb, ipv4Text, ipv6BytesArb, ipv6TextForms } from './support.js';

const v6Alphabet = fc.constantFrom(...'0123456789abcdefABCDEF:::::....%gx ');
const v6TextArb = fc.oneof(
  fc.string({ unit: v6Alphabet, maxLength: 48 }),
  fc.tuple(ipv6BytesArb, fc.nat()).map(([b, k]) => {
    const f = ipv6TextForms(b);
    return f[k % f.length]!;
  }),
  fc.tuple(ipv6BytesArb, fc.nat(), fc.nat(), v6Alphabet, fc.nat(2)).map(([b, k, at, c, op]) => {
    const f = ipv6TextForms(b);
    const t = f[k % f.length]!;
    const p = at % (t.length + 1);
    return op === 0 ? t.slice(0, p) + c + t.slice(p) : op === 1 ? t.slice(0, p) + t.slice(p + 1) : t.slice(0, p) + c + t.slice(p + 1);
  }),
);
const v4TextArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'0123456789....x '), maxLength: 18 }),
  ipv4BytesArb.map(ipv4Text),
  fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), fc.boolean()).map(([a, b, c, d, z]) => `${z ? '0' : ''}${a}.${b}.${c}.${d}`),
);

describe('ip-address', () => {
  it('parseIPv4 accepts exactly what node:net isIPv4 accepts (seed 9200, 1000 runs)', () => {
    check(
      fc.property(v4TextArb, (t) => {
        const b = parseIPv4(t);
        assert.equal(b !== undefined, isIPv4(t), JSON.stringify(t));
        if (b !== undefined) assert.equal(formatIPv4(b), t);
      }),
      9200,
      1000,
    );
  });

  it('parseIPv6 accepts exactly what node:net isIPv6 accepts without a zone ID, and agrees with URL on the bytes (seed 9201, 1500 runs)', () => {
    check(
      fc.property(v6TextArb, (t) => {
        const b = parseIPv6(t);
        assert.equal(b !== undefined, isIPv6(t) && !t.includes('%'), JSON.stringify(t));
        if (b === undefined) return;
        // The 8 groups written out in full must normalise (WHATWG URL) to what the text does.
        const groups = Array.from({ length: 8 }, (_, k) => ((b[2 * k]! << 8) | b[2 * k + 1]!).toString(16)).join(':');
        assert.equal(new URL(`http://[${groups}]/`).hostname, new URL(`http://[${t}]/`).hostname);
      }),
      9201,
      1500,
    );
  });

  it('formatIPv6 is RFC 5952 text and parses back to the same bytes; formatIPv4 likewise (seed 9202, 800 runs)', () => {
    check(
      fc.property(ipv6BytesArb, ipv4BytesArb, (b6, b4) => {
        const t = formatIPv6(b6);
        assert.equal(t, canonicalIPv6(b6));
        assert.deepEqual(parseIPv6(t), Uint8Array.from(b6));
        assert.equal(isV4Mapped(b6), t.startsWith('::ffff:') && t.includes('.'));
        assert.deepEqual(parseIPv4(formatIPv4(b4)), Uint8Array.from(b4));
      }),
      9202,
      800,
    );
  });

  it('formatters read only the bytes at off..off+16 / off+4 of a larger buffer (seed 9203, 500 runs)', () => {
    check(
      fc.property(ipv6BytesArb, fc.uint8Array({ maxLength: 24 }), fc.uint8Array({ maxLength: 24 }), (b, before, after) => {
        const all = Uint8Array.from([...before, ...b, ...after]);
        assert.equal(formatIPv6(all, before.length), formatIPv6(b));
        assert.equal(isV4Mapped(all, before.length), isV4Mapped(b));
        assert.equal(formatIPv4(all, before.length), formatIPv4(b));
      }),
      9203,
      500,
    );
  });
});
