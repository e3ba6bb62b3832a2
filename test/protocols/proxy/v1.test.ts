/**
 * PROXY protocol v1 decoder (haproxy doc/proxy-protocol.txt §2.1).
 * Every accepted and refused input goes through assertSameForEveryDelivery (whole, every split,
 * byte by byte).
 */
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { describe, it } from 'node:test';
import { encodeProxyV1, proxyAddresses } from '../../../src/protocols/proxy/header.js';
import { parseProxyV1, type ProxyV1Header } from '../../../src/protocols/proxy/v1.js';
import { incomplete, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery } from '../../helpers/feed.js';
import { firstInvalidAt as firstInvalidPrefix, fuzzParser, mulberry32, pick, randInt } from '../../helpers/fuzz.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function accepts(line: string, value: ProxyV1Header): void {
  const bytes = b(line);
  assertSameForEveryDelivery(parseProxyV1, bytes, ok(value, bytes.length));
}

/** Refused whole, split and byte by byte, with a reason matching `reason`. */
function refuses(line: string | Buffer, reason: RegExp): ParseResult<ProxyV1Header> {
  const bytes = typeof line === 'string' ? b(line) : line;
  const r = parseProxyV1(bytes);
  assert.equal(r.kind, 'invalid', `expected invalid for ${JSON.stringify(bytes.toString('latin1'))}`);
  if (r.kind === 'invalid') assert.match(r.reason, reason);
  assertSameForEveryDelivery(parseProxyV1, bytes, r);
  return r;
}

/** The first prefix length at which the parser answers invalid (-1 if never). */
const firstInvalidAt = (line: string): number => firstInvalidPrefix(parseProxyV1, b(line));

/** The spec's worst case (§2.1): exactly 107 bytes including CRLF. */
const FFFF6 = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
const UNKNOWN_107 = `PROXY UNKNOWN ${FFFF6} ${FFFF6} 65535 65535\r\n`;
/** TCP6 can reach 107 with an embedded IPv4 tail: 5+1+4+1+45+1+36+1+5+1+5+2. */
const V6_45 = 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255';
const V6_36 = 'ffff:ffff:ffff:ffff:ffff:fff:1.2.3.4';
const TCP6_107 = `PROXY TCP6 ${V6_45} ${V6_36} 65535 65535\r\n`;

/** The decoded TCP4 / TCP6 line from `src` port `srcPort` to `dst` port `dstPort`. */
function decoded(family: ProxyV1Header['family'], src: string, srcPort: number, dst: string, dstPort: number): ProxyV1Header {
  return { version: 1, family, src: { address: src, port: srcPort }, dst: { address: dst, port: dstPort } };
}

describe('parseProxyV1: accepted (§2.1)', () => {
  it('TCP4, the spec example line; the bytes after CRLF are left alone', () => {
    const line = 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n';
    const value = decoded('tcp4', '192.168.0.1', 56324, '192.168.0.11', 443);
    accepts(line, value);
    const payload = b('GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n');
    const all = Buffer.concat([b(line), payload]);
    const r = parseProxyV1(all);
    assert.equal(r.kind, 'ok');
    if (r.kind === 'ok') {
      assert.equal(r.length, line.length);
      assert.deepEqual(all.subarray(r.length), payload);
    }
    assertSameForEveryDelivery(parseProxyV1, all, ok(value, line.length));
  });

  it('TCP4 bounds: 0.0.0.0 / 255.255.255.255, port 0 and 65535 (the spec range is [0..65535])', () => {
    accepts('PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n', decoded('tcp4', '0.0.0.0', 0, '255.255.255.255', 65535));
  });

  it('TCP6, addresses returned in RFC 5952 form', () => {
    accepts('PROXY TCP6 2001:DB8::1 2001:db8:0:0:0:0:0:2 56324 443\r\n', decoded('tcp6', '2001:db8::1', 56324, '2001:db8::2', 443));
    accepts(`PROXY TCP6 ${FFFF6} :: 65535 65535\r\n`, decoded('tcp6', FFFF6, 65535, '::', 65535));
  });

  it('TCP6 with an embedded IPv4 tail (what inet_ntop writes for IPv4-mapped addresses)', () => {
    accepts('PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n', decoded('tcp6', '::ffff:192.0.2.1', 1, '::1', 2));
  });

  it('UNKNOWN, short form (15 bytes) and with the rest of the line ignored', () => {
    accepts('PROXY UNKNOWN\r\n', { version: 1, family: 'unknown' });
    accepts('PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n', { version: 1, family: 'unknown' });
    accepts('PROXY UNKNOWN \r\n', { version: 1, family: 'unknown' });
  });

  it('a 107-byte line is accepted (the spec worst case, and a TCP6 line of 107)', () => {
    assert.equal(UNKNOWN_107.length, 107);
    accepts(UNKNOWN_107, { version: 1, family: 'unknown' });
    assert.equal(TCP6_107.length, 107);
    accepts(TCP6_107, decoded('tcp6', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535, 'ffff:ffff:ffff:ffff:ffff:fff:102:304', 65535));
  });
});

describe('parseProxyV1: refused (§2.1)', () => {
  it('108 bytes: refused, and already at byte 107 without CRLF', () => {
    const unknown108 = `PROXY UNKNOWN ${FFFF6} ${FFFF6} 65535 655355\r\n`;
    assert.equal(unknown108.length, 108);
    refuses(unknown108, /107/);
    // Byte 106 is not CR, so no CRLF can end the line by byte 107: refused there, not later.
    assert.equal(firstInvalidAt(unknown108), 106);
    refuses(`PROXY UNKNOWN ${'x'.repeat(93)}`, /107/); // 107 bytes, no CRLF
    refuses(`PROXY UNKNOWN ${'x'.repeat(91)}\r\r`, /CR not followed by LF/); // 107th byte not LF
    const tcp6108 = `PROXY TCP6 ${V6_45} ffff:ffff:ffff:ffff:ffff:ffff:1.2.3.4 65535 65535\r\n`;
    assert.equal(tcp6108.length, 108);
    refuses(tcp6108, /107/);
    // 106 bytes not ending in CR cannot end by 107.
    assert.equal(firstInvalidAt(`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`), 106);
    // A TCP6 line whose mandatory rest no longer fits is refused before byte 107.
    const early = firstInvalidAt(`PROXY TCP6 ${V6_45} ${V6_45} 1 1\r\n`);
    assert.ok(early > 0 && early < 107, `refused at ${early}`);
  });

  it('lone LF, lone CR', () => {
    refuses('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /LF without CR/);
    refuses('PROXY UNKNOWN\n', /LF without CR/);
    refuses('PROXY UNKNOWN foo\nbar\r\n', /LF without CR/);
    refuses('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX', /CR not followed by LF/);
    refuses('PROXY UNKNOWN\r\r\n', /CR not followed by LF/);
    refuses('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r', /LF without CR/);
  });

  it('leading zeros in addresses and ports, refused on the offending digit', () => {
    refuses('PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n', /source address/);
    assert.equal(firstInvalidAt('PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'), 'PROXY TCP4 01'.length);
    refuses('PROXY TCP4 1.2.3.4 5.6.7.00 1 2\r\n', /destination address/);
    refuses('PROXY TCP4 1.2.3.4 5.6.7.8 065535 2\r\n', /source port/);
    refuses('PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n', /destination port/);
    refuses('PROXY TCP6 ::ffff:01.2.3.4 ::1 1 2\r\n', /source address/);
  });

  it('port 65536, octet 256, and other out-of-range numbers', () => {
    refuses('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', /source port/);
    refuses('PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n', /destination port/);
    assert.equal(firstInvalidAt('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'), 'PROXY TCP4 1.2.3.4 5.6.7.8 65536'.length);
    refuses('PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', /source address/);
    refuses('PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n', /source address/);
    refuses('PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n', /incomplete source address/);
    refuses('PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n', /source address/);
    refuses('PROXY TCP6 1::2::3 ::1 1 2\r\n', /source address/);
    refuses('PROXY TCP6 12345:: ::1 1 2\r\n', /source address/);
  });

  it('family mismatch: IPv6 under TCP4, IPv4 under TCP6 (refused at the first impossible byte)', () => {
    refuses('PROXY TCP4 ::1 ::1 1 2\r\n', /source address/);
    assert.equal(firstInvalidAt('PROXY TCP4 ::1 ::1 1 2\r\n'), 'PROXY TCP4 :'.length);
    refuses('PROXY TCP4 1.2.3.4 2001:db8::1 1 2\r\n', /destination address/);
    refuses('PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n', /source address/);
    assert.equal(firstInvalidAt('PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n'), 'PROXY TCP6 1.'.length);
    refuses('PROXY TCP6 ::1 10.0.0.1 1 2\r\n', /destination address/);
  });

  it('zone IDs', () => {
    refuses('PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', /source address/);
    refuses('PROXY TCP6 ::1 fe80::1%25 1 2\r\n', /destination address/);
  });

  it('separators and keywords are exact', () => {
    refuses('PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /TCP4, TCP6 or UNKNOWN/);
    refuses('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n', /source address/);
    refuses('PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n', /incomplete destination address|destination address/);
    refuses('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', /destination port/);
    refuses('PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n', /exactly one SP/);
    refuses('proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /not a PROXY v1 header/);
    refuses('PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n', /TCP4, TCP6 or UNKNOWN/);
    refuses('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', /TCP4, TCP6 or UNKNOWN/);
    refuses('PROXY UNKNOWNX\r\n', /UNKNOWN must be followed/);
    refuses('PROXY UNKNOWN\t\r\n', /UNKNOWN must be followed/);
    refuses(Buffer.concat([b('PROXY UNKNOWN '), Buffer.from([0xc3, 0xa9]), b('\r\n')]), /non-printable/);
    refuses('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /missing destination port/);
    refuses('PROXY TCP4 1.2.3.4 5.6.7.8\r\n', /missing source port/);
    refuses('GET / HTTP/1.1\r\n', /not a PROXY v1 header/);
  });
});

describe('parseProxyV1: prefixes', () => {
  it('valid prefixes are incomplete (no needed: the length is unknown before CRLF)', () => {
    for (const p of ['', 'P', 'PRO', 'PROXY', 'PROXY ', 'PROXY T', 'PROXY TCP', 'PROXY TCP4', 'PROXY TCP4 ',
      'PROXY TCP4 1.2.', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r',
      'PROXY TCP6 ', 'PROXY TCP6 :', 'PROXY TCP6 ::', 'PROXY TCP6 ::ffff:1.', 'PROXY U', 'PROXY UNKNOWN',
      'PROXY UNKNOWN ', 'PROXY UNKNOWN\r', UNKNOWN_107.slice(0, 106)]) {
      assert.deepEqual(parseProxyV1(b(p)), incomplete(), JSON.stringify(p));
    }
  });

  it('every prefix of an accepted line is incomplete, and IPv6 acceptance agrees with node:net isIPv6', () => {
    // Seeded sweep over short strings of IPv6 characters: the line is accepted exactly when isIPv6
    // accepts the address, and a refused prefix never has a completion (checked by extending it).
    const rnd = mulberry32(0x5eed6);
    const alphabet = [...'0123456789abcdefABCDEF:.'];
    let accepted = 0;
    for (let t = 0; t < 3000; t++) {
      const s = Array.from({ length: 1 + randInt(rnd, 16) }, () => pick(rnd, alphabet)).join('');
      const line = b(`PROXY TCP6 ${s} ::1 1 2\r\n`);
      const r = parseProxyV1(line);
      assert.equal(r.kind === 'ok', isIPv6(s), `${s}: ${JSON.stringify(r)}`);
      if (r.kind === 'ok') {
        accepted++;
        for (let k = 0; k < line.length; k++) assert.equal(parseProxyV1(line.subarray(0, k)).kind, 'incomplete');
      }
      const head = parseProxyV1(b(`PROXY TCP6 ${s}`));
      if (head.kind === 'invalid') {
        for (const tail of ['', ':', '::', '0', '1', ':0', '::0', '.0', '.0.0', '.0.0.0', '0.0.0', '1::']) {
          assert.equal(isIPv6(s + tail), false, `${s} refused but ${s + tail} is IPv6`);
        }
      }
    }
    assert.ok(accepted > 0);
  });
});

describe('parseProxyV1: round trip with the encoder (proxy-header.ts)', () => {
  const cases: [string, number, string, number][] = [
    ['192.0.2.10', 56324, '198.51.100.7', 443],
    ['0.0.0.0', 0, '255.255.255.255', 65535],
    ['2001:db8::1', 40000, '2001:db8:0:0:1:0:0:1', 8443],
    ['::ffff:192.0.2.1', 1, '2001:db8::2', 2],
    ['fe80::1:2:3:4', 65535, '::', 0],
  ];
  for (const [sa, sp, da, dp] of cases) {
    it(`${sa}:${sp} -> ${da}:${dp}`, () => {
      const addrs = proxyAddresses({ address: sa, port: sp }, { address: da, port: dp });
      assert.notEqual(addrs.family, 'unknown');
      const line = encodeProxyV1(addrs);
      const expected = decoded(addrs.family, addrs.srcAddress, addrs.srcPort, addrs.dstAddress, addrs.dstPort);
      assertSameForEveryDelivery(parseProxyV1, line, ok(expected, line.length));
    });
  }
  it('UNKNOWN', () => {
    const line = encodeProxyV1(proxyAddresses({ address: 'not an ip', port: 1 }, { address: '::1', port: 2 }));
    assertSameForEveryDelivery(parseProxyV1, line, ok({ version: 1, family: 'unknown' }, line.length));
  });
});

describe('parseProxyV1: seeded fuzz', () => {
  it('~20k random and mutated inputs: never throws; ok length <= input and stable under extension', () => {
    const corpus = [
      'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n',
      'PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 65535\r\n',
      'PROXY UNKNOWN\r\n',
      UNKNOWN_107,
      TCP6_107,
    ].map(b);
    const stats = fuzzParser(parseProxyV1, corpus, {
      iterations: 20000,
      seed: 0xc0ffee,
      maxRandomLength: 130,
      mutate: { interesting: b('PROXY TCP46UNKNOWN0123456789abcdef:.% \r\n\t\x00\xff') },
      shape: (input, { random, rng }) => {
        if (random) return rng() < 0.5 ? Buffer.concat([b('PROXY '), input.subarray(6)]) : input;
        return rng() < 0.3 ? Buffer.concat([input, b('GET / HTTP/1.1\r\n')]) : input;
      },
      check: (_input, r) => {
        if (r.kind === 'ok') assert.ok(r.length <= 107);
      },
    });
    assert.ok(stats.ok > 100, `only ${stats.ok} accepted inputs`);
  });
});
