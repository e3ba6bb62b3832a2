import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import { formatIPv4, formatIPv6, isV4Mapped, parseIPv4, parseIPv6 } from '../../../src/protocols/ip/address.js';
import { hex } from '../../helpers/feed.js';
import { mulberry32, pick, randInt, randomBytes } from '../../helpers/fuzz.js';

describe('parseIPv4 / formatIPv4', () => {
  it('dotted quads, octets 0-255', () => {
    assert.deepEqual(parseIPv4('192.0.2.1'), new Uint8Array([192, 0, 2, 1]));
    assert.deepEqual(parseIPv4('0.0.0.0'), new Uint8Array(4));
    assert.deepEqual(parseIPv4('255.255.255.255'), new Uint8Array(4).fill(255));
  });

  it('refuses leading zeros, out-of-range octets, wrong part counts and other characters', () => {
    for (const t of ['01.2.3.4', '1.2.3.00', '256.1.1.1', '1.2.3', '1.2.3.4.5', '1..3.4', '', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', '1.2.3.4a', '1234.1.1.1']) {
      assert.equal(parseIPv4(t), undefined, JSON.stringify(t));
    }
  });

  it('formats the 4 bytes at an offset', () => {
    assert.equal(formatIPv4(new Uint8Array([10, 0, 0, 1])), '10.0.0.1');
    assert.equal(formatIPv4(hex('ffff c6336407 ff'), 2), '198.51.100.7');
  });
});

/** parseIPv6 as a Buffer, to compare with hex(). */
const v6 = (text: string): Buffer | undefined => {
  const bytes = parseIPv6(text);
  return bytes === undefined ? undefined : Buffer.from(bytes);
};

describe('parseIPv6', () => {
  it('full, compressed and embedded-IPv4 forms (RFC 4291 §2.2)', () => {
    assert.deepEqual(v6('::'), Buffer.alloc(16));
    assert.deepEqual(v6('::1'), hex('00000000000000000000000000000001'));
    assert.deepEqual(v6('1::'), hex('00010000000000000000000000000000'));
    assert.deepEqual(v6('2001:DB8::1'), hex('20010db8000000000000000000000001'));
    assert.deepEqual(v6('1:2:3:4:5:6:7:8'), hex('00010002000300040005000600070008'));
    assert.deepEqual(v6('::ffff:192.0.2.1'), hex('00000000000000000000ffffc0000201'));
    assert.deepEqual(v6('1:2:3:4:5:6:1.2.3.4'), hex('00010002000300040005000601020304'));
  });

  it('refuses zone IDs, brackets, two "::", too many or too long groups, a misplaced IPv4 part', () => {
    for (const t of ['fe80::1%eth0', '[::1]', '1::2::3', ':::', '12345::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1.2.3.4::', '::1.2.3', '::01.2.3.4', ':1::', '1::2:', 'g::', '', ':']) {
      assert.equal(v6(t), undefined, JSON.stringify(t));
    }
  });
});

describe('formatIPv6 (RFC 5952)', () => {
  it('canonical text, and back to the same bytes', () => {
    const canonical: Record<string, string> = {
      '::': '00000000000000000000000000000000',
      '::1': '00000000000000000000000000000001',
      '1::': '00010000000000000000000000000000',
      '2001:db8::1': '20010db8000000000000000000000001',
      '2001:db8:0:1:1:1:1:1': '20010db8000000010001000100010001', // a single zero group is not compressed (§4.2.2)
      '2001:db8:0:0:1::': '20010db8000000000001000000000000', // the longest run wins (§4.2.3)
      '1::2:0:0:3:4': '00010000000000020000000000030004', // the first run on a tie (§4.2.3)
      'abcd:ef00::f': 'abcdef0000000000000000000000000f', // lowercase, no leading zeros (§4.1, §4.3)
      '::102:304': '00000000000000000000000001020304', // IPv4-compatible (not mapped) stays hex
      '::ffff:192.0.2.1': '00000000000000000000ffffc0000201', // IPv4-mapped (§5)
    };
    for (const [text, bytes] of Object.entries(canonical)) {
      assert.equal(formatIPv6(hex(bytes)), text, bytes);
      assert.deepEqual(v6(text), hex(bytes), text);
    }
  });

  it('formats the 16 bytes at an offset, as the PROXY v2 decoder reads them', () => {
    const block = hex('aa 20010db8000000000000000000000001 00000000000000000000ffff0a000001 bb');
    assert.equal(formatIPv6(block, 1), '2001:db8::1');
    assert.equal(formatIPv6(block, 17), '::ffff:10.0.0.1');
    assert.equal(isV4Mapped(block, 17), true);
    assert.equal(isV4Mapped(block, 1), false);
  });

  it('isV4Mapped is exactly ::ffff:0:0/96', () => {
    assert.equal(isV4Mapped(hex('00000000000000000000ffff00000000')), true);
    assert.equal(isV4Mapped(hex('00000000000000000000fffe00000000')), false);
    assert.equal(isV4Mapped(hex('00000000000000000001ffff00000000')), false);
    assert.equal(isV4Mapped(hex('0064ff9b0000000000000000c0000221')), false); // NAT64 (RFC 6052) is not mapped
  });
});

describe('ip-address: seeded differential checks against node:net and WHATWG URL', () => {
  it('~10k random 16-byte addresses: format, parse back, and the URL serializer agree', () => {
    const rnd = mulberry32(0x1e6);
    for (let n = 0; n < 10000; n++) {
      // Mostly zero groups, so compressed runs of every length and position come up.
      const bytes = randomBytes(rnd, 16);
      for (let g = 0; g < 8; g++) if (randInt(rnd, 3) !== 0) bytes.writeUInt16BE(0, 2 * g);
      if (randInt(rnd, 8) === 0) bytes.set(hex('00000000000000000000ffff'));
      const text = formatIPv6(bytes);
      assert.ok(isIPv6(text), text);
      assert.deepEqual(v6(text), bytes, text);
      const whatwg = new URL(`http://[${text}]/`).hostname.slice(1, -1);
      if (isV4Mapped(bytes)) assert.equal(new URL(`http://[::ffff:${formatIPv4(bytes, 12)}]/`).hostname.slice(1, -1), whatwg);
      else assert.equal(text, whatwg);
    }
  });

  it('~10k random strings: parseIPv4/parseIPv6 accept exactly what node:net accepts (no zone IDs)', () => {
    const rnd = mulberry32(0x1e4);
    const noise = [...'0123456789abcdefABCDEF:::...%g '];
    const good = ['0', '1', 'ff', 'FFFF', '0db8', 'abc'];
    const bad = ['12345', '%eth0', 'x', '255.0.0.01', '1.2.3', ':'];
    /** Up to 8 groups, usually one "::", sometimes an IPv4 tail or a bad part. */
    const address = (): string => {
      const groups = Array.from({ length: randInt(rnd, 9) }, () => pick(rnd, good));
      if (rnd() < 0.2) groups.push(`${randInt(rnd, 256)}.${randInt(rnd, 256)}.${randInt(rnd, 256)}.${randInt(rnd, 256)}`);
      if (rnd() < 0.1 && groups.length > 0) groups[randInt(rnd, groups.length)] = pick(rnd, bad);
      if (rnd() < 0.7) groups.splice(randInt(rnd, groups.length + 1), 0, '');
      let text = groups.join(':');
      if (text.startsWith(':') && !text.startsWith('::')) text = ':' + text;
      if (text.endsWith(':') && !text.endsWith('::')) text += ':';
      return text;
    };
    let v6Seen = 0;
    for (let n = 0; n < 10000; n++) {
      const text = n % 2 === 0 ? Array.from({ length: randInt(rnd, 20) }, () => pick(rnd, noise)).join('') : address();
      assert.equal(parseIPv4(text) !== undefined, isIPv4(text), JSON.stringify(text));
      assert.equal(parseIPv6(text) !== undefined, isIPv6(text) && !text.includes('%'), JSON.stringify(text));
      if (parseIPv6(text) !== undefined) v6Seen++;
    }
    assert.ok(v6Seen > 1000, `only ${v6Seen} valid IPv6 strings`);
  });
});
