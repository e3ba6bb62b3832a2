import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import {
  encodeProxyV1,
  encodeProxyV2,
  proxyAddresses,
  standardTlvs,
  PP2_TYPE_ALPN,
  PP2_TYPE_AUTHORITY,
  PP2_TYPE_CRC32C,
  PP2_TYPE_NOOP,
  PP2_TYPE_UNIQUE_ID,
  PP2_TYPE_SSL,
  PP2_TYPE_NETNS,
  type EncodeResult,
  type ProxyAddresses,
} from '../../../src/protocols/proxy/header.js';
import { crc32c } from '../../../src/protocols/proxy/crc32c.js';
import { parseProxyV2 } from '../../../src/protocols/proxy/v2.js';
import { hex } from '../../helpers/feed.js';
import { mulberry32, randInt } from '../../helpers/fuzz.js';

const SIG = '0d0a0d0a000d0a515549540a';

function header(r: EncodeResult): Buffer {
  assert.equal(r.ok, true, r.ok ? '' : r.message);
  if (!r.ok) throw new Error('unreachable');
  return r.header;
}

const v4 = proxyAddresses({ address: '192.0.2.1', port: 56324 }, { address: '198.51.100.7', port: 443 });
const v6 = proxyAddresses({ address: '2001:db8::1', port: 50000 }, { address: '::1', port: 8443 });
const mixed = proxyAddresses({ address: '::ffff:192.0.2.1', port: 1234 }, { address: '2001:db8::2', port: 443 });
const unknown = proxyAddresses({ address: 'not-an-ip', port: 1 }, { address: '198.51.100.7', port: 443 });

test('TLV type constants (proxy-protocol.txt §2.2)', () => {
  assert.deepEqual(
    [PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_CRC32C, PP2_TYPE_NOOP, PP2_TYPE_UNIQUE_ID, PP2_TYPE_SSL, PP2_TYPE_NETNS],
    [0x01, 0x02, 0x03, 0x04, 0x05, 0x20, 0x30],
  );
});

// --- proxyAddresses -------------------------------------------------------------------------

test('proxyAddresses: plain IPv4', () => {
  assert.deepEqual(v4, { family: 'tcp4', srcAddress: '192.0.2.1', srcPort: 56324, dstAddress: '198.51.100.7', dstPort: 443 });
});

test('proxyAddresses: IPv6, canonical text', () => {
  assert.deepEqual(v6, { family: 'tcp6', srcAddress: '2001:db8::1', srcPort: 50000, dstAddress: '::1', dstPort: 8443 });
  const long = proxyAddresses({ address: '2001:0DB8:0000:0000:0000:0000:0000:0001', port: 1 }, { address: '2001:db8:0:0:1:0:0:1', port: 2 });
  assert.deepEqual(long, { family: 'tcp6', srcAddress: '2001:db8::1', srcPort: 1, dstAddress: '2001:db8::1:0:0:1', dstPort: 2 });
});

test('proxyAddresses: v4-mapped on both ends is tcp4 with dotted addresses', () => {
  const a = proxyAddresses({ address: '::ffff:192.0.2.1', port: 56324 }, { address: '::FFFF:198.51.100.7', port: 443 });
  assert.deepEqual(a, v4);
  const hexMapped = proxyAddresses({ address: '::ffff:c000:201', port: 56324 }, { address: '0:0:0:0:0:ffff:198.51.100.7', port: 443 });
  assert.deepEqual(hexMapped, v4);
});

test('proxyAddresses: mixed v4-mapped / v6 is tcp6 with ::ffff:a.b.c.d', () => {
  assert.deepEqual(mixed, { family: 'tcp6', srcAddress: '::ffff:192.0.2.1', srcPort: 1234, dstAddress: '2001:db8::2', dstPort: 443 });
  const plain = proxyAddresses({ address: '192.0.2.1', port: 1234 }, { address: '2001:db8::2', port: 443 });
  assert.deepEqual(plain, mixed);
});

test('proxyAddresses: bad address or port gives unknown', () => {
  assert.equal(unknown.family, 'unknown');
  const bad: Array<[string, number, string, number]> = [
    ['fe80::1%eth0', 1, '::1', 2],
    ['1::2::3', 1, '::1', 2],
    [':::', 1, '::1', 2],
    ['12345::', 1, '::1', 2],
    ['1.2.3.4::', 1, '::1', 2],
    ['1.2.3', 1, '1.2.3.4', 2],
    ['01.2.3.4', 1, '1.2.3.4', 2],
    ['256.1.1.1', 1, '1.2.3.4', 2],
    ['[::1]', 1, '::1', 2],
    ['', 1, '1.2.3.4', 2],
    ['1.2.3.4', -1, '1.2.3.4', 2],
    ['1.2.3.4', 1, '1.2.3.4', 65536],
    ['1.2.3.4', 1.5, '1.2.3.4', 2],
    ['1.2.3.4', Number.NaN, '1.2.3.4', 2],
  ];
  for (const [sa, sp, da, dp] of bad) {
    const a = proxyAddresses({ address: sa, port: sp }, { address: da, port: dp });
    assert.equal(a.family, 'unknown', `${sa} ${sp} ${da} ${dp}`);
    assert.equal(a.srcAddress, sa);
    assert.equal(a.dstAddress, da);
  }
  // ports 0 and 65535 are valid
  assert.equal(proxyAddresses({ address: '1.2.3.4', port: 0 }, { address: '1.2.3.4', port: 65535 }).family, 'tcp4');
});

test('proxyAddresses: IPv6 text forms', () => {
  const cases: Array<[string, string]> = [
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:db8:0:0:1:0:0:0', '2001:db8:0:0:1::'], // the longest run wins
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'], // first run on a tie
    ['::1.2.3.4', '::102:304'], // IPv4-compatible (not mapped) stays v6
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ];
  for (const [input, canonical] of cases) {
    const a = proxyAddresses({ address: input, port: 1 }, { address: '::2', port: 2 });
    assert.equal(a.family, 'tcp6', input);
    assert.equal(a.srcAddress, canonical, input);
  }
});

// --- v1 -------------------------------------------------------------------------------------

test('v1 IPv4', () => {
  const h = encodeProxyV1(v4);
  assert.equal(h.toString('latin1'), 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n');
  assert.deepEqual(h, hex('50524f5859205443503420 3139322e302e322e31 20 3139382e35312e3130302e37 20 3536333234 20 343433 0d0a'));
});

test('v1 IPv6', () => {
  assert.equal(encodeProxyV1(v6).toString('latin1'), 'PROXY TCP6 2001:db8::1 ::1 50000 8443\r\n');
});

test('v1 mixed (v4-mapped) and both-mapped', () => {
  assert.equal(encodeProxyV1(mixed).toString('latin1'), 'PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1234 443\r\n');
  const both = proxyAddresses({ address: '::ffff:10.0.0.1', port: 1 }, { address: '::ffff:10.0.0.2', port: 2 });
  assert.equal(encodeProxyV1(both).toString('latin1'), 'PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n');
});

test('v1 unknown', () => {
  assert.deepEqual(encodeProxyV1(unknown), hex('50524f585920554e4b4e4f574e0d0a'));
  assert.equal(encodeProxyV1(unknown).toString('latin1'), 'PROXY UNKNOWN\r\n');
});

test('v1 hand-built addresses that do not fit their family are sent as UNKNOWN', () => {
  const cases: ProxyAddresses[] = [
    { family: 'tcp4', srcAddress: '2001:db8::1', srcPort: 1, dstAddress: '1.2.3.4', dstPort: 2 },
    { family: 'tcp4', srcAddress: '1.2.3.4', srcPort: 70000, dstAddress: '1.2.3.4', dstPort: 2 },
    { family: 'tcp6', srcAddress: 'x', srcPort: 1, dstAddress: '::1', dstPort: 2 },
    { family: 'tcp6', srcAddress: '0000:0000:0000:0000:0000:0000:255.255.255.255 ', srcPort: 1, dstAddress: '::1', dstPort: 2 },
  ];
  for (const a of cases) assert.equal(encodeProxyV1(a).toString('latin1'), 'PROXY UNKNOWN\r\n');
  // a long but valid spelling is re-written canonically, so the line stays short
  const longForm: ProxyAddresses = {
    family: 'tcp6',
    srcAddress: '0000:0000:0000:0000:0000:ffff:255.255.255.255',
    srcPort: 1,
    dstAddress: '0001:0000:0000:0000:0000:0000:0000:0001',
    dstPort: 2,
  };
  assert.equal(encodeProxyV1(longForm).toString('latin1'), 'PROXY TCP6 ::ffff:255.255.255.255 1::1 1 2\r\n');
});

test('v1 worst case: longest IPv6 addresses and ports give 104 bytes (spec max 107)', () => {
  const f = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
  const a = proxyAddresses({ address: f, port: 65535 }, { address: f, port: 65535 });
  const h = encodeProxyV1(a);
  // "PROXY" SP "TCP6" SP 39 SP 39 SP 5 SP 5 CRLF = 5+1+4+1+39+1+39+1+5+1+5+2
  assert.equal(h.length, 104);
  assert.ok(h.length <= 107);
  assert.equal(h.toString('latin1'), `PROXY TCP6 ${f} ${f} 65535 65535\r\n`);
  const v4max = proxyAddresses({ address: '255.255.255.255', port: 65535 }, { address: '255.255.255.255', port: 65535 });
  assert.equal(encodeProxyV1(v4max).length, 56);
});

// --- v2 -------------------------------------------------------------------------------------

test('v2 IPv4', () => {
  assert.deepEqual(header(encodeProxyV2(v4)), hex(`${SIG} 21 11 000c c0000201 c6336407 dc04 01bb`));
});

test('v2 IPv6', () => {
  assert.deepEqual(
    header(encodeProxyV2(v6)),
    hex(`${SIG} 21 21 0024 20010db8000000000000000000000001 00000000000000000000000000000001 c350 20fb`),
  );
});

test('v2 mixed (v4-mapped) is TCP over IPv6 with ::ffff:a.b.c.d', () => {
  assert.deepEqual(
    header(encodeProxyV2(mixed)),
    hex(`${SIG} 21 21 0024 00000000000000000000ffffc0000201 20010db8000000000000000000000002 04d2 01bb`),
  );
});

test('v2 unknown is PROXY + UNSPEC with no addresses', () => {
  assert.deepEqual(header(encodeProxyV2(unknown)), hex(`${SIG} 21 00 0000`));
});

test('v2 LOCAL is LOCAL + UNSPEC with no addresses', () => {
  assert.deepEqual(header(encodeProxyV2(v4, [], { local: true })), hex(`${SIG} 20 00 0000`));
  assert.deepEqual(header(encodeProxyV2(v6, undefined, { local: true })), hex(`${SIG} 20 00 0000`));
});

test('v2 with AUTHORITY + ALPN TLVs', () => {
  const tlvs = standardTlvs('example.com', 'h2');
  assert.deepEqual(tlvs, [
    { type: PP2_TYPE_AUTHORITY, value: Buffer.from('example.com') },
    { type: PP2_TYPE_ALPN, value: Buffer.from('h2') },
  ]);
  assert.deepEqual(
    header(encodeProxyV2(v4, tlvs)),
    hex(`${SIG} 21 11 001f c0000201 c6336407 dc04 01bb  02 000b 6578616d706c652e636f6d  01 0002 6832`),
  );
  assert.deepEqual(
    header(encodeProxyV2(v6, standardTlvs(undefined, 'http/1.1'))),
    hex(`${SIG} 21 21 002f 20010db8000000000000000000000001 00000000000000000000000000000001 c350 20fb  01 0008 687474702f312e31`),
  );
});

test('standardTlvs: unknown or empty values are left out, AUTHORITY is UTF-8', () => {
  assert.deepEqual(standardTlvs(undefined, undefined), []);
  assert.deepEqual(standardTlvs('', ''), []);
  assert.deepEqual(standardTlvs('bücher.example', undefined), [{ type: PP2_TYPE_AUTHORITY, value: hex('62c3bc636865722e6578616d706c65') }]);
});

test('v2 CRC32C TLV: verified by recomputation and against a fixed value', () => {
  const h = header(encodeProxyV2(v4, standardTlvs('example.com', 'h2'), { crc32c: true }));
  const expectedPrefix = hex(`${SIG} 21 11 0026 c0000201 c6336407 dc04 01bb  02 000b 6578616d706c652e636f6d  01 0002 6832  03 0004`);
  assert.equal(h.length, expectedPrefix.length + 4);
  assert.deepEqual(h.subarray(0, expectedPrefix.length), expectedPrefix);
  const stored = h.readUInt32BE(h.length - 4);
  const zeroed = Buffer.from(h);
  zeroed.fill(0, zeroed.length - 4);
  assert.equal(stored, crc32c(zeroed));
  assert.equal(stored, 0xd2c23556); // computed independently with a bitwise CRC-32C
});

test('v2 CRC32C on LOCAL and with a caller-supplied CRC TLV (replaced)', () => {
  const h = header(encodeProxyV2(v4, [{ type: PP2_TYPE_CRC32C, value: hex('deadbeef') }], { local: true, crc32c: true }));
  assert.deepEqual(h.subarray(0, 19), hex(`${SIG} 20 00 0007 03 0004`));
  assert.equal(h.length, 23);
  const zeroed = Buffer.from(h);
  zeroed.fill(0, 19);
  assert.equal(h.readUInt32BE(19), crc32c(zeroed));
  // without the option a caller's TLV is sent as given
  assert.deepEqual(header(encodeProxyV2(unknown, [{ type: PP2_TYPE_CRC32C, value: hex('deadbeef') }])), hex(`${SIG} 21 00 0007 03 0004 deadbeef`));
});

test('v2 length field: 65535 fits, 65536 is refused with the error object', () => {
  const fits = header(encodeProxyV2(v4, [{ type: PP2_TYPE_NOOP, value: new Uint8Array(65535 - 12 - 3) }]));
  assert.equal(fits.length, 16 + 65535);
  assert.equal(fits.readUInt16BE(14), 0xffff);
  assert.deepEqual(fits.subarray(28, 31), hex('04 fff0'));

  const tooBig = encodeProxyV2(v4, [{ type: PP2_TYPE_NOOP, value: new Uint8Array(65536 - 12 - 3) }]);
  assert.equal(tooBig.ok, false);
  if (tooBig.ok) return;
  assert.equal(tooBig.code, 'PORTPLEX_ERR_PROXY_HEADER_TOO_LARGE');
  assert.match(tooBig.message, /65536/);

  // the CRC TLV counts too
  const withCrc = encodeProxyV2(v4, [{ type: PP2_TYPE_NOOP, value: new Uint8Array(65535 - 12 - 3 - 6) }], { crc32c: true });
  assert.equal(withCrc.ok, false);
  // a single TLV value over 65535 bytes
  const huge = encodeProxyV2(unknown, [{ type: PP2_TYPE_UNIQUE_ID, value: new Uint8Array(70000) }]);
  assert.equal(huge.ok, false);
});

test('v2 hand-built addresses that do not fit their family are sent as UNSPEC', () => {
  const a: ProxyAddresses = { family: 'tcp4', srcAddress: '::1', srcPort: 1, dstAddress: '1.2.3.4', dstPort: 2 };
  assert.deepEqual(header(encodeProxyV2(a)), hex(`${SIG} 21 00 0000`));
  // tcp6 with a plain IPv4 side is written v4-mapped
  const b: ProxyAddresses = { family: 'tcp6', srcAddress: '1.2.3.4', srcPort: 1, dstAddress: '::1', dstPort: 2 };
  assert.deepEqual(
    header(encodeProxyV2(b)),
    hex(`${SIG} 21 21 0024 00000000000000000000ffff01020304 00000000000000000000000000000001 0001 0002`),
  );
});

// --- UDP (DGRAM) ----------------------------------------------------------------------------

const u4 = proxyAddresses({ address: '192.0.2.1', port: 56324 }, { address: '198.51.100.7', port: 53 }, { transport: 'dgram' });
const u6 = proxyAddresses({ address: '2001:db8::1', port: 50000 }, { address: '::1', port: 443 }, { transport: 'dgram' });

test('proxyAddresses with transport dgram: udp4 / udp6 by the same family rules as TCP', () => {
  assert.deepEqual(u4, { family: 'udp4', srcAddress: '192.0.2.1', srcPort: 56324, dstAddress: '198.51.100.7', dstPort: 53 });
  assert.deepEqual(u6, { family: 'udp6', srcAddress: '2001:db8::1', srcPort: 50000, dstAddress: '::1', dstPort: 443 });
  // v4-mapped on both ends -> udp4 dotted; mixed -> udp6 with ::ffff:a.b.c.d; bad -> unknown
  const both = proxyAddresses({ address: '::ffff:192.0.2.1', port: 56324 }, { address: '::FFFF:198.51.100.7', port: 53 }, { transport: 'dgram' });
  assert.deepEqual(both, u4);
  const mixedU = proxyAddresses({ address: '192.0.2.1', port: 1234 }, { address: '2001:db8::2', port: 443 }, { transport: 'dgram' });
  assert.deepEqual(mixedU, { ...mixed, family: 'udp6' });
  assert.equal(proxyAddresses({ address: 'x', port: 1 }, { address: '::1', port: 2 }, { transport: 'dgram' }).family, 'unknown');
  // stream is the default, also when asked for explicitly
  assert.deepEqual(proxyAddresses({ address: '192.0.2.1', port: 56324 }, { address: '198.51.100.7', port: 443 }, { transport: 'stream' }), v4);
});

test('v2 UDP over IPv4 / IPv6: fam 0x12 / 0x22 (proxy-protocol.txt §2.2, transport nibble 2 = DGRAM)', () => {
  assert.deepEqual(header(encodeProxyV2(u4)), hex(`${SIG} 21 12 000c c0000201 c6336407 dc04 0035`));
  assert.deepEqual(
    header(encodeProxyV2(u6)),
    hex(`${SIG} 21 22 0024 20010db8000000000000000000000001 00000000000000000000000000000001 c350 01bb`),
  );
  // hand-built udp4 with an IPv6 side does not fit: UNSPEC, as for tcp4
  assert.deepEqual(header(encodeProxyV2({ ...u4, srcAddress: '2001:db8::1' })), hex(`${SIG} 21 00 0000`));
  // LOCAL ignores the family, TLVs and CRC32C work the same
  assert.deepEqual(header(encodeProxyV2(u4, [], { local: true })), hex(`${SIG} 20 00 0000`));
  const withCrc = header(encodeProxyV2(u4, standardTlvs('dns.example', undefined), { crc32c: true }));
  assert.equal(withCrc[13], 0x12);
  assert.equal(withCrc.readUInt32BE(withCrc.length - 4), crc32c(Buffer.concat([withCrc.subarray(0, -4), Buffer.alloc(4)])));
});

test('v2 UDP round trip: parseProxyV2 reports DGRAM transport and the addresses', () => {
  for (const [a, family] of [[u4, 'inet'], [u6, 'inet6']] as const) {
    const h = header(encodeProxyV2(a, standardTlvs('dns.example', undefined)));
    const r = parseProxyV2(h);
    assert.equal(r.kind, 'ok', JSON.stringify(r));
    if (r.kind !== 'ok') continue;
    assert.equal(r.length, h.length);
    assert.equal(r.value.command, 'proxy');
    assert.equal(r.value.family, family);
    assert.equal(r.value.transport, 'dgram');
    assert.deepEqual(r.value.src, { address: a.srcAddress, port: a.srcPort });
    assert.deepEqual(r.value.dst, { address: a.dstAddress, port: a.dstPort });
    assert.equal(r.value.authority, 'dns.example');
  }
});

test('v1 has no UDP (§2.1: TCP4, TCP6, UNKNOWN): udp4 / udp6 are sent as PROXY UNKNOWN', () => {
  assert.equal(encodeProxyV1(u4).toString('latin1'), 'PROXY UNKNOWN\r\n');
  assert.equal(encodeProxyV1(u6).toString('latin1'), 'PROXY UNKNOWN\r\n');
});

test('v2 TLV type outside 0..255 is a RangeError', () => {
  assert.throws(() => encodeProxyV2(v4, [{ type: 256, value: new Uint8Array(0) }]), RangeError);
  assert.throws(() => encodeProxyV2(v4, [{ type: -1, value: new Uint8Array(0) }]), RangeError);
});

// --- fuzz -----------------------------------------------------------------------------------

test('fuzz: ~20k random address strings never throw; v1 <= 107 bytes; IPv6 text agrees with node:net and WHATWG URL', () => {
  const rnd = mulberry32(0x50524f58);
  const int = (n: number): number => randInt(rnd, n);
  const alphabet = '0123456789abcdefABCDEF:::..%xg ';
  const group = () => int(0x10000).toString(16).padStart(int(2) ? 0 : 4, '0');
  const randomAddress = (): string => {
    switch (int(5)) {
      case 0: return Array.from({ length: int(46) }, () => alphabet[int(alphabet.length)]).join('');
      case 1: return Array.from({ length: 4 }, () => String(int(300))).join('.');
      case 2: {
        const n = int(9);
        const gs = Array.from({ length: n }, group);
        if (int(2)) gs.splice(int(n + 1), 0, '');
        let s = gs.join(':');
        if (s.startsWith(':') && !s.startsWith('::')) s = ':' + s;
        if (s.endsWith(':') && !s.endsWith('::')) s += ':';
        if (int(4) === 0) s += (s.endsWith(':') || s === '' ? '' : ':') + `${int(256)}.${int(256)}.${int(256)}.${int(256)}`;
        return s;
      }
      case 3: return `::ffff:${int(256)}.${int(256)}.${int(256)}.${int(256)}`;
      default: return Array.from({ length: 8 }, () => (int(3) ? '0' : group())).join(':');
    }
  };
  let v6Seen = 0;
  for (let n = 0; n < 20000; n++) {
    const sa = randomAddress();
    const da = randomAddress();
    const sp = int(10) ? int(65536) : int(200000) - 100000;
    const dp = int(10) ? int(65536) : 65535 + int(3);
    const a = proxyAddresses({ address: sa, port: sp }, { address: da, port: dp });
    const l1 = encodeProxyV1(a);
    assert.ok(l1.length <= 107 && l1.toString('latin1').startsWith('PROXY ') && l1.toString('latin1').endsWith('\r\n'));
    const r = encodeProxyV2(a, standardTlvs(sa, da), { crc32c: int(2) === 0, local: int(8) === 0 });
    assert.equal(r.ok, true);
    // differential check of the IPv6 text parser/formatter
    if (isIPv6(sa) && !sa.includes('%')) {
      const single = proxyAddresses({ address: sa, port: 1 }, { address: '2001:db8::9', port: 2 });
      assert.equal(single.family, 'tcp6', sa);
      const whatwg = new URL(`http://[${sa}]/`).hostname.slice(1, -1);
      if (!single.srcAddress.startsWith('::ffff:') || !single.srcAddress.includes('.')) {
        assert.equal(single.srcAddress, whatwg, sa);
      } else {
        assert.equal(new URL(`http://[${single.srcAddress}]/`).hostname.slice(1, -1), whatwg, sa);
      }
      v6Seen++;
    }
  }
  assert.ok(v6Seen > 1000, `only ${v6Seen} valid IPv6 inputs`);
});
