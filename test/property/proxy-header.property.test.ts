/**
 * Property tests for the PROXY header encoders (src/protocols/proxy-header.ts): encode -> decode
 * round trips through parseProxyV1 / parseProxyV2 / parseProxyHeader, and proxyAddresses against
 * a model of the family rules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProxyHeader } from '../../src/protocols/proxy/decode.js';
import { encodeProxyV1, encodeProxyV2, proxyAddresses, standardTlvs, type ProxyAddresses, type ProxyTlv } from '../../src/protocols/proxy/header.js';
import { parseProxyV1 } from '../../src/protocols/proxy/v1.js';
import { parseProxyV2, type ProxyV2Header } from '../../src/protocols/proxy/v2.js';
import { canonicalIPv6, check, fc, ipv4BytesArb, ipv4Text, ipv6BytesArb, ipv6TextForms, latin1, referenceCrc32c } from './support.js';

/** One endpoint: its bytes (4 or 16) and a text form the socket layer could report. */
interface Endpoint {
  readonly v4: Uint8Array | undefined; // set when the address is IPv4 or IPv4-mapped IPv6
  readonly v6: Uint8Array; // always: the 16-byte form (v4 as ::ffff:a.b.c.d)
  readonly text: string;
  readonly port: number;
}

const mapped = (v4: Uint8Array): Uint8Array => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]);
const isMapped = (b: Uint8Array): boolean => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

const portArb = fc.integer({ min: 0, max: 65535 });
const endpointArb: fc.Arbitrary<Endpoint> = fc.oneof(
  fc.tuple(ipv4BytesArb, portArb).map(([v4, port]) => ({ v4, v6: mapped(v4), text: ipv4Text(v4), port })),
  fc.tuple(ipv4BytesArb, portArb, fc.constantFrom('::ffff:', '::FFFF:', '0:0:0:0:0:ffff:')).map(([v4, port, pre]) => ({ v4, v6: mapped(v4), text: pre + ipv4Text(v4), port })),
  fc.tuple(ipv6BytesArb, fc.nat(), portArb).map(([v6, k, port]) => {
    const forms = ipv6TextForms(v6);
    return { v4: isMapped(v6) ? v6.subarray(12) : undefined, v6, text: forms[k % forms.length]!, port };
  }),
);

/** What proxyAddresses must answer for two valid endpoints (module comment of proxy-header.ts). */
function expectedAddresses(s: Endpoint, d: Endpoint): ProxyAddresses {
  if (s.v4 !== undefined && d.v4 !== undefined) {
    return { family: 'tcp4', srcAddress: ipv4Text(s.v4), srcPort: s.port, dstAddress: ipv4Text(d.v4), dstPort: d.port };
  }
  return { family: 'tcp6', srcAddress: canonicalIPv6(s.v6), srcPort: s.port, dstAddress: canonicalIPv6(d.v6), dstPort: d.port };
}

const tlvArb = (withCrcType: boolean): fc.Arbitrary<ProxyTlv> =>
  fc.oneof(
    fc.record({ type: fc.integer({ min: 0, max: 255 }).filter((t) => t !== 0x05 && (withCrcType || t !== 0x03)), value: fc.uint8Array({ maxLength: 64 }) }),
    fc.record({ type: fc.constant(0x05), value: fc.uint8Array({ maxLength: 128 }) }),
  );

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const tlvsHex = (t: readonly { type: number; value: Uint8Array }[]): { type: number; value: string }[] => t.map((x) => ({ type: x.type, value: hex(x.value) }));

describe('proxyAddresses', () => {
  it('classifies any text form of IPv4 / IPv4-mapped / IPv6 endpoints: tcp4 iff both are IPv4, canonical text (seed 7100, 500 runs)', () => {
    check(
      fc.property(endpointArb, endpointArb, (s, d) => {
        assert.deepEqual(proxyAddresses({ address: s.text, port: s.port }, { address: d.text, port: d.port }), expectedAddresses(s, d));
      }),
      7100,
      500,
    );
  });

  it('an invalid address or port gives family unknown, passed through unchanged (seed 7101, 400 runs)', () => {
    const badAddress = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('fe80::1%eth0', '[::1]', '1.2.3', '01.2.3.4', 'localhost', ''));
    const badPort = fc.oneof(fc.integer({ min: -100000, max: -1 }), fc.integer({ min: 65536, max: 1e9 }), fc.constantFrom(Number.NaN, 1.5, Number.POSITIVE_INFINITY));
    check(
      fc.property(endpointArb, badAddress, badPort, fc.nat(3), (good, addr, port, which) => {
        const src = { address: which & 1 ? addr : good.text, port: which & 2 ? port : good.port };
        const dst = { address: good.text, port: good.port };
        const a = proxyAddresses(src, dst);
        // A "bad" string may happen to be an address (fc.string can produce "::"): only check clear cases.
        if (which === 0) return;
        if (which & 2 || !/^[0-9a-fA-F:.]*$/.test(addr) || addr === '' || addr.includes('%')) {
          assert.deepEqual(a, { family: 'unknown', srcAddress: src.address, srcPort: src.port, dstAddress: dst.address, dstPort: dst.port });
        }
      }),
      7101,
      400,
    );
  });

  it('transport dgram classifies exactly like stream, with udp4 / udp6 for tcp4 / tcp6 (seed 7102, 300 runs)', () => {
    check(
      fc.property(endpointArb, endpointArb, (s, d) => {
        const want = expectedAddresses(s, d);
        const got = proxyAddresses({ address: s.text, port: s.port }, { address: d.text, port: d.port }, { transport: 'dgram' });
        assert.deepEqual(got, { ...want, family: want.family === 'tcp4' ? 'udp4' : 'udp6' });
      }),
      7102,
      300,
    );
  });
});

describe('encodeProxyV1 -> parseProxyV1 / parseProxyHeader', () => {
  it('round trips TCP4, TCP6 and mixed endpoints; at most 107 bytes (seed 7110, 500 runs)', () => {
    check(
      fc.property(endpointArb, endpointArb, fc.uint8Array({ maxLength: 32 }), (s, d, data) => {
        const a = proxyAddresses({ address: s.text, port: s.port }, { address: d.text, port: d.port });
        const line = encodeProxyV1(a);
        assert.ok(line.length <= 107, `${line.length} bytes`);
        const want = { kind: 'ok', value: { version: 1, family: a.family, src: { address: a.srcAddress, port: a.srcPort }, dst: { address: a.dstAddress, port: a.dstPort } }, length: line.length };
        assert.deepEqual(parseProxyV1(line), want);
        assert.deepEqual(parseProxyHeader(Buffer.concat([line, data])), want);
      }),
      7110,
      500,
    );
  });

  it('never throws on arbitrary ProxyAddresses; the line always parses (UNKNOWN when unusable) (seed 7111, 500 runs)', () => {
    const anyText = fc.oneof(endpointArb.map((e) => e.text), fc.string({ maxLength: 50 }));
    const anyPort = fc.oneof(portArb, fc.integer(), fc.double());
    check(
      fc.property(fc.constantFrom('tcp4' as const, 'tcp6' as const, 'udp4' as const, 'udp6' as const, 'unknown' as const), anyText, anyPort, anyText, anyPort, (family, sa, sp, da, dp) => {
        const line = encodeProxyV1({ family, srcAddress: sa, srcPort: sp, dstAddress: da, dstPort: dp });
        assert.ok(line.length <= 107);
        const r = parseProxyV1(line);
        assert.equal(r.kind, 'ok', `${line.toString('latin1')} -> ${JSON.stringify(r)}`);
        // v1 has no UDP (§2.1): udp families always go out as UNKNOWN
        if (r.kind === 'ok') assert.ok(r.value.family === family || r.value.family === 'unknown');
        if (r.kind === 'ok' && (family === 'udp4' || family === 'udp6')) assert.equal(r.value.family, 'unknown');
      }),
      7111,
      500,
    );
  });
});

describe('encodeProxyV2 -> parseProxyV2 / parseProxyHeader', () => {
  it('round trips addresses (STREAM and DGRAM), TLVs in order, CRC32C (verified, computed as the reference does) and LOCAL (seed 7120, 500 runs)', () => {
    check(
      fc.property(
        endpointArb,
        endpointArb,
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.array(tlvArb(true), { maxLength: 6 }),
        fc.uint8Array({ maxLength: 32 }),
        fc.constantFrom('stream' as const, 'dgram' as const),
        (s, d, crc, local, unknown, tlvs0, data, transport) => {
          const a: ProxyAddresses = unknown
            ? { family: 'unknown', srcAddress: s.text, srcPort: s.port, dstAddress: d.text, dstPort: d.port }
            : proxyAddresses({ address: s.text, port: s.port }, { address: d.text, port: d.port }, { transport });
          // Without crc32c a caller's CRC32C TLV would be sent as is (and fail verification): leave it out.
          const tlvs = crc ? tlvs0 : tlvs0.filter((t) => t.type !== 0x03);
          const enc = encodeProxyV2(a, tlvs, { crc32c: crc, local });
          assert.ok(enc.ok);
          if (!enc.ok) return;
          const h = enc.header;
          const r = parseProxyV2(Buffer.concat([h, data]));
          assert.equal(r.kind, 'ok', JSON.stringify(r));
          if (r.kind !== 'ok') return;
          assert.equal(r.length, h.length);
          const v: ProxyV2Header = r.value;
          const withAddr = !local && a.family !== 'unknown';
          assert.equal(v.command, local ? 'local' : 'proxy');
          assert.equal(v.family, withAddr ? (a.family === 'tcp4' || a.family === 'udp4' ? 'inet' : 'inet6') : 'unspec');
          assert.equal(v.transport, withAddr ? transport : 'unspec');
          if (withAddr) {
            assert.deepEqual(v.src, { address: a.srcAddress, port: a.srcPort });
            assert.deepEqual(v.dst, { address: a.dstAddress, port: a.dstPort });
          } else {
            assert.equal(v.src, undefined);
            assert.equal(v.dst, undefined);
          }
          const sent = crc ? tlvs.filter((t) => t.type !== 0x03) : tlvs;
          if (crc) {
            const last = v.tlvs[v.tlvs.length - 1]!;
            assert.equal(last.type, 0x03);
            const zeroed = Buffer.from(h);
            zeroed.fill(0, h.length - 4);
            assert.equal(Buffer.from(last.value).readUInt32BE(0), referenceCrc32c(zeroed));
            assert.deepEqual(tlvsHex(v.tlvs.slice(0, -1)), tlvsHex(sent));
          } else {
            assert.deepEqual(tlvsHex(v.tlvs), tlvsHex(sent));
          }
          assert.equal(v.crc32cVerified, crc);
          assert.deepEqual(parseProxyHeader(Buffer.concat([h, data])), r);
        },
      ),
      7120,
      500,
    );
  });

  it('standardTlvs(sni, alpn) comes back as authority (UTF-8) and alpn (latin1) (seed 7121, 400 runs)', () => {
    check(
      fc.property(
        fc.option(fc.string({ unit: 'grapheme', maxLength: 40 }), { nil: undefined }),
        fc.option(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')), { nil: undefined }),
        fc.boolean(),
        (sni, alpn, crc) => {
          const enc = encodeProxyV2(proxyAddresses({ address: '10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 }), standardTlvs(sni, alpn), { crc32c: crc });
          assert.ok(enc.ok);
          if (!enc.ok) return;
          const r = parseProxyV2(enc.header);
          assert.equal(r.kind, 'ok');
          if (r.kind !== 'ok') return;
          assert.equal(r.value.authority, sni === '' ? undefined : sni);
          assert.equal(r.value.alpn, alpn === '' ? undefined : alpn);
        },
      ),
      7121,
      400,
    );
  });

  it("len over 65535 is PORTPLEX_ERR_PROXY_HEADER_TOO_LARGE, never truncated; at the limit it parses (seed 7122, 60 runs)", () => {
    check(
      fc.property(endpointArb, endpointArb, fc.boolean(), fc.boolean(), fc.integer({ min: -3, max: 3 }), fc.integer({ min: 1, max: 3 }), (s, d, crc, local, delta, pieces) => {
        const a = proxyAddresses({ address: s.text, port: s.port }, { address: d.text, port: d.port });
        const addrLen = local ? 0 : a.family === 'tcp4' ? 12 : 36;
        const room = 65535 - addrLen - (crc ? 7 : 0) - 3 * pieces; // value bytes that exactly fill len
        const total = room + delta;
        const tlvs: ProxyTlv[] = [];
        for (let k = 0; k < pieces; k++) {
          const size = k === pieces - 1 ? total - Math.floor(total / pieces) * (pieces - 1) : Math.floor(total / pieces);
          tlvs.push({ type: 0xe0 + k, value: new Uint8Array(size) });
        }
        const enc = encodeProxyV2(a, tlvs, { crc32c: crc, local });
        if (delta > 0) {
          assert.equal(enc.ok, false);
          if (!enc.ok) assert.equal(enc.code, 'PORTPLEX_ERR_PROXY_HEADER_TOO_LARGE');
          return;
        }
        assert.ok(enc.ok);
        if (!enc.ok) return;
        assert.equal(enc.header.length, 16 + 65535 + delta);
        const r = parseProxyV2(enc.header);
        assert.equal(r.kind, 'ok');
        if (r.kind === 'ok') assert.equal(r.value.crc32cVerified, crc);
      }),
      7122,
      60,
    );
  });

  it('a TLV type outside 0..255 is a RangeError, never a malformed header (seed 7123, 200 runs)', () => {
    check(
      fc.property(fc.oneof(fc.integer({ min: 256, max: 1e6 }), fc.integer({ min: -1e6, max: -1 }), fc.constantFrom(Number.NaN, 1.5, Number.POSITIVE_INFINITY)), (type) => {
        assert.throws(() => encodeProxyV2(proxyAddresses({ address: '10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 }), [{ type, value: latin1('x') }]), RangeError);
      }),
      7123,
      200,
    );
  });
});
