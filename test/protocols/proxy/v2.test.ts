/**
 * PROXY protocol v2 decoder (haproxy doc/proxy-protocol.txt §2.2).
 * Every accepted and refused input goes through assertSameForEveryDelivery (whole, every split,
 * byte by byte).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c } from '../../../src/protocols/proxy/crc32c.js';
import { encodeProxyV2, proxyAddresses, standardTlvs, type ProxyTlv } from '../../../src/protocols/proxy/header.js';
import { parseProxyV2, type ProxyV2Header, type ProxyV2Limits } from '../../../src/protocols/proxy/v2.js';
import { incomplete, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { firstInvalidAt as firstInvalidPrefix, fuzzParser, pick } from '../../helpers/fuzz.js';

const SIG = hex('0d0a0d0a000d0a515549540a');
const PAYLOAD = Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n', 'latin1');

function u16(n: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(n);
  return out;
}

/** A v2 header; `len` defaults to the body length. */
function v2(verCmd: number, fam: number, body: Uint8Array, len = body.length): Buffer {
  return Buffer.concat([SIG, Buffer.from([verCmd, fam]), u16(len), body]);
}

function tlv(type: number, value: Uint8Array | string, declared?: number): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from(value);
  return Buffer.concat([Buffer.from([type]), u16(declared ?? v.length), v]);
}

/** A zeroed CRC32C TLV, to be filled by withCrc(). */
const CRC_TLV = tlv(0x03, Buffer.alloc(4));

/** Fills the CRC32C TLV value at `valueAt` (default: the last 4 bytes) per §2.2.3. */
function withCrc(header: Buffer, valueAt = header.length - 4): Buffer {
  const out = Buffer.from(header);
  out.fill(0, valueAt, valueAt + 4);
  out.writeUInt32BE(crc32c(out), valueAt);
  return out;
}

function ipv4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

function parser(limits?: ProxyV2Limits): (bytes: Uint8Array) => ParseResult<ProxyV2Header> {
  return (bytes) => parseProxyV2(bytes, limits);
}

/** Accepted whole/split/byte by byte; then again with a payload after it, which must be left alone. */
function accepts(header: Buffer, value: ProxyV2Header, limits?: ProxyV2Limits): void {
  assertSameForEveryDelivery(parser(limits), header, ok(value, header.length));
  const all = Buffer.concat([header, PAYLOAD]);
  assertSameForEveryDelivery(parser(limits), all, ok(value, header.length));
  const r = parseProxyV2(all, limits);
  assert.equal(r.kind, 'ok');
  if (r.kind === 'ok') assert.deepEqual(all.subarray(r.length), PAYLOAD);
}

function refuses(bytes: Buffer, reason: RegExp, limits?: ProxyV2Limits): void {
  const r = parseProxyV2(bytes, limits);
  assert.equal(r.kind, 'invalid', `expected invalid, got ${JSON.stringify(r)}`);
  if (r.kind === 'invalid') assert.match(r.reason, reason);
  assertSameForEveryDelivery(parser(limits), bytes, r);
}

function firstInvalidAt(bytes: Buffer, limits?: ProxyV2Limits): number {
  return firstInvalidPrefix(parser(limits), bytes);
}

const TCP4_BLOCK = Buffer.concat([ipv4('192.0.2.10'), ipv4('198.51.100.7'), u16(56324), u16(443)]);
/** The addresses TCP4_BLOCK decodes to. */
const TCP4_ADDRESSES = { src: { address: '192.0.2.10', port: 56324 }, dst: { address: '198.51.100.7', port: 443 } };

/** A decoded header: no TLVs and no verified CRC32C unless `rest` says otherwise. */
function decoded(
  command: ProxyV2Header['command'],
  family: ProxyV2Header['family'],
  transport: ProxyV2Header['transport'],
  rest: Partial<ProxyV2Header> = {},
): ProxyV2Header {
  return { version: 2, command, family, transport, tlvs: [], crc32cVerified: false, ...rest };
}

describe('parseProxyV2: accepted (§2.2)', () => {
  it('LOCAL with TLVs: an AWS Network Load Balancer health check', () => {
    // The header an AWS NLB sends on health-check connections when proxy protocol v2 is enabled, as
    // captured in kubernetes/kubernetes#57250 (comment of 2019-03-21, tcpdump of the first packet):
    //   ver_cmd 0x20 (v2 LOCAL), fam 0x11, len 0x0054 = 84, then no address block but
    //   PP2_TYPE_CRC32C (0x03, 4 bytes bc e5 95 1f) and PP2_TYPE_NOOP (0x04, 74 zero bytes).
    // AWS documents that health-check connections carry the header without client connection
    // information (ELB docs, Network Load Balancer target groups, "Proxy protocol"). The captured
    // CRC verifies only when the TLVs start right after the 16 fixed bytes (§2.2 LOCAL: "discard
    // the protocol block including the family which is ignored").
    const aws = hex(`0d0a0d0a000d0a515549540a 20 11 0054 03 0004 bce5951f 04 004a ${'00'.repeat(74)}`);
    assert.equal(aws.length, 100);
    const tlvs = [
      { type: 0x03, value: hex('bce5951f') },
      { type: 0x04, value: Buffer.alloc(74) },
    ];
    accepts(aws, decoded('local', 'inet', 'stream', { tlvs, crc32cVerified: true }));
  });

  it('LOCAL with UNSPEC and len 0 (haproxy health checks); LOCAL that did send an address block', () => {
    accepts(v2(0x20, 0x00, Buffer.alloc(0)), decoded('local', 'unspec', 'unspec'));
    // Addresses inside a LOCAL header are skipped and not returned; the TLVs after them are.
    accepts(
      v2(0x20, 0x11, Buffer.concat([TCP4_BLOCK, tlv(0x04, 'pad')])),
      decoded('local', 'inet', 'stream', { tlvs: [{ type: 0x04, value: Buffer.from('pad') }] }),
    );
  });

  it('UNSPEC with the PROXY command: no addresses, the bytes inside len are TLVs', () => {
    accepts(v2(0x21, 0x00, Buffer.alloc(0)), decoded('proxy', 'unspec', 'unspec'));
    accepts(
      v2(0x21, 0x00, tlv(0x02, 'example.com')),
      decoded('proxy', 'unspec', 'unspec', { tlvs: [{ type: 0x02, value: Buffer.from('example.com') }], authority: 'example.com' }),
    );
  });

  it('TCP over IPv4 (0x11) and UDP over IPv4 (0x12)', () => {
    accepts(v2(0x21, 0x11, TCP4_BLOCK), decoded('proxy', 'inet', 'stream', TCP4_ADDRESSES));
    accepts(v2(0x21, 0x12, TCP4_BLOCK), decoded('proxy', 'inet', 'dgram', TCP4_ADDRESSES));
  });

  it('TCP over IPv6 (0x21), RFC 5952 text, IPv4-mapped as ::ffff:a.b.c.d', () => {
    const body = Buffer.concat([
      hex('20010db8 00000000 00000000 00000001'),
      hex('00000000 00000000 0000ffff c0000201'),
      u16(65535),
      u16(0),
    ]);
    accepts(
      v2(0x21, 0x21, body),
      decoded('proxy', 'inet6', 'stream', { src: { address: '2001:db8::1', port: 65535 }, dst: { address: '::ffff:192.0.2.1', port: 0 } }),
    );
  });

  it('UNIX stream (0x31): 108-byte NUL-padded paths; an abstract address as "@name"', () => {
    const path = (s: string, abstract = false): Buffer => {
      const out = Buffer.alloc(108);
      out.write(s, abstract ? 1 : 0, 'utf8');
      return out;
    };
    accepts(
      v2(0x21, 0x31, Buffer.concat([path('/run/client.sock'), path('portplex', true)])),
      decoded('proxy', 'unix', 'stream', { srcPath: '/run/client.sock', dstPath: '@portplex' }),
    );
    accepts(
      v2(0x21, 0x32, Buffer.concat([Buffer.alloc(108, 0x61), Buffer.alloc(108)])),
      decoded('proxy', 'unix', 'dgram', { srcPath: 'a'.repeat(108), dstPath: '' }),
    );
  });

  it('TLV 0xEA, AWS VPC endpoint id (subtype 0x01 then the ASCII id)', () => {
    // AWS ELB docs, Network Load Balancer target groups, "Proxy protocol" / "VPC endpoint ID":
    // type 0xEA (PP2_TYPE_AWS), first value byte the subtype 0x01 (PP2_SUBTYPE_AWS_VPCE_ID),
    // then the endpoint id.
    const vpce = Buffer.concat([Buffer.from([0x01]), Buffer.from('vpce-08d2bf15fac5001c9', 'latin1')]);
    accepts(
      v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, tlv(0xea, vpce)])),
      decoded('proxy', 'inet', 'stream', { ...TCP4_ADDRESSES, tlvs: [{ type: 0xea, value: vpce }], awsVpceId: 'vpce-08d2bf15fac5001c9' }),
    );
    // Another subtype: kept as a TLV, no awsVpceId.
    const other = Buffer.from([0x02, 0x41]);
    accepts(v2(0x21, 0x00, tlv(0xea, other)), decoded('proxy', 'unspec', 'unspec', { tlvs: [{ type: 0xea, value: other }] }));
  });

  it('well-known TLVs decoded (ALPN, AUTHORITY, UNIQUE_ID, SSL kept raw), first of a type wins, CRC32C verified', () => {
    const uid = Buffer.alloc(128, 0x5a);
    const ssl = Buffer.concat([Buffer.from([0x01, 0, 0, 0, 0]), tlv(0x21, 'TLSv1.3')]);
    const authority = Buffer.from('bücher.example', 'utf8');
    const header = withCrc(
      v2(
        0x21,
        0x11,
        Buffer.concat([
          TCP4_BLOCK,
          tlv(0x01, 'h2'),
          tlv(0x02, authority),
          tlv(0x02, 'second.example'),
          tlv(0x05, uid),
          tlv(0x20, ssl),
          tlv(0x04, Buffer.alloc(0)),
          CRC_TLV,
        ]),
      ),
    );
    const crc = header.subarray(header.length - 4);
    accepts(
      header,
      decoded('proxy', 'inet', 'stream', {
        ...TCP4_ADDRESSES,
        tlvs: [
          { type: 0x01, value: Buffer.from('h2') },
          { type: 0x02, value: authority },
          { type: 0x02, value: Buffer.from('second.example') },
          { type: 0x05, value: uid },
          { type: 0x20, value: ssl },
          { type: 0x04, value: Buffer.alloc(0) },
          { type: 0x03, value: Buffer.from(crc) },
        ],
        crc32cVerified: true,
        alpn: 'h2',
        authority: 'bücher.example',
        uniqueId: uid,
      }),
    );
  });

  it('an AUTHORITY that is not UTF-8 stays a raw TLV only', () => {
    accepts(
      v2(0x21, 0x00, tlv(0x02, Buffer.from([0xff, 0xfe]))),
      decoded('proxy', 'unspec', 'unspec', { tlvs: [{ type: 0x02, value: Buffer.from([0xff, 0xfe]) }] }),
    );
  });

  it('a cap at or above the header size accepts it', () => {
    const h = v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, tlv(0x04, Buffer.alloc(100))]));
    accepts(
      h,
      decoded('proxy', 'inet', 'stream', { ...TCP4_ADDRESSES, tlvs: [{ type: 0x04, value: Buffer.alloc(100) }] }),
      { maxLength: h.length, maxTlvValue: 100 },
    );
  });
});

describe('parseProxyV2: refused (§2.2)', () => {
  it('version 1 in the binary header', () => {
    refuses(v2(0x11, 0x11, TCP4_BLOCK), /version 1/);
    assert.equal(firstInvalidAt(v2(0x11, 0x11, TCP4_BLOCK)), 13);
  });

  it('command 0x23 (version 2, command 3)', () => {
    refuses(v2(0x23, 0x11, TCP4_BLOCK), /command/);
    assert.equal(firstInvalidAt(v2(0x23, 0x11, TCP4_BLOCK)), 13);
  });

  it('family 0x41, transport 0x13, undefined PROXY combinations', () => {
    refuses(v2(0x21, 0x41, TCP4_BLOCK), /family/);
    assert.equal(firstInvalidAt(v2(0x21, 0x41, TCP4_BLOCK)), 14);
    refuses(v2(0x21, 0x13, TCP4_BLOCK), /transport/);
    refuses(v2(0x20, 0x13, Buffer.alloc(0)), /transport/); // checked for LOCAL too
    refuses(v2(0x21, 0x10, TCP4_BLOCK), /combination/);
    refuses(v2(0x21, 0x01, Buffer.alloc(0)), /combination/);
  });

  it('short length: len shorter than the address block, refused on the 16 fixed bytes', () => {
    refuses(v2(0x21, 0x11, TCP4_BLOCK.subarray(0, 11)), /shorter than the 12-byte/);
    assert.equal(firstInvalidAt(v2(0x21, 0x11, TCP4_BLOCK.subarray(0, 11))), 16);
    refuses(v2(0x21, 0x21, Buffer.alloc(35)), /shorter than the 36-byte/);
    refuses(v2(0x21, 0x31, Buffer.alloc(215)), /shorter than the 216-byte/);
  });

  it('a TLV overrunning the header', () => {
    refuses(v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, tlv(0x02, 'abc', 4)])), /overruns/);
    // The bytes after the header do not count: a TLV may not reach into them.
    const h = v2(0x21, 0x00, tlv(0x02, 'abc', 10));
    refuses(Buffer.concat([h, Buffer.alloc(20, 0x61)]), /overruns/);
  });

  it('stray bytes inside len (1 or 2 left over after the last TLV)', () => {
    refuses(v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, Buffer.from([0x04])])), /1 stray byte/);
    refuses(v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, tlv(0x04, 'x'), Buffer.from([0x04, 0x00])])), /2 stray byte/);
    refuses(v2(0x20, 0x00, Buffer.from([0x00])), /stray/);
  });

  it('bad CRC32C, bad CRC32C length', () => {
    const good = withCrc(v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, CRC_TLV])));
    const bad = Buffer.from(good);
    bad[bad.length - 1]! ^= 0x01;
    refuses(bad, /CRC32C mismatch/);
    const flipped = Buffer.from(good);
    flipped[16]! ^= 0x80; // an address byte: covered by the checksum
    refuses(flipped, /CRC32C mismatch/);
    // The AWS health check with one padding byte changed.
    const aws = hex(`0d0a0d0a000d0a515549540a 20 11 0054 03 0004 bce5951f 04 004a ${'00'.repeat(73)}01`);
    refuses(aws, /CRC32C mismatch/);
    refuses(v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, tlv(0x03, Buffer.alloc(3))])), /CRC32C TLV must be 4 bytes/);
    refuses(v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, tlv(0x03, Buffer.alloc(5))])), /CRC32C TLV must be 4 bytes/);
  });

  it('UNIQUE_ID over 128 bytes (§2.2.5), a TLV over maxTlvValue', () => {
    refuses(v2(0x21, 0x00, tlv(0x05, Buffer.alloc(129))), /UNIQUE_ID/);
    refuses(v2(0x21, 0x00, tlv(0x04, Buffer.alloc(65))), /limit/, { maxTlvValue: 64 });
  });

  it('len 65535 with a 4096 cap: invalid on the first 16 bytes, without waiting', () => {
    const fixed = v2(0x21, 0x11, Buffer.alloc(0), 65535);
    assert.equal(fixed.length, 16);
    refuses(fixed, /exceeds the 4096-byte limit/, { maxLength: 4096 });
    assert.equal(firstInvalidAt(fixed, { maxLength: 4096 }), 16);
    // Without a cap, the same 16 bytes just ask for the whole header.
    assert.deepEqual(parseProxyV2(fixed), incomplete(16 + 65535));
  });

  it('not a v2 signature: refused on the first differing byte', () => {
    refuses(Buffer.from('GET / HTTP/1.1\r\n\r\n', 'latin1'), /signature/);
    assert.equal(firstInvalidAt(Buffer.from('GET / HTTP/1.1\r\n', 'latin1')), 1);
    const almost = Buffer.from(v2(0x21, 0x00, Buffer.alloc(0)));
    almost[5] = 0x0c;
    refuses(almost, /signature/);
    assert.equal(firstInvalidAt(almost), 6);
    refuses(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n', 'latin1'), /signature/);
  });
});

describe('parseProxyV2: prefixes', () => {
  it('incomplete(16) before len is known, incomplete(16 + len) after', () => {
    const h = v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, tlv(0x04, 'abc')]));
    for (let k = 0; k < 16; k++) assert.deepEqual(parseProxyV2(h.subarray(0, k)), incomplete(16), `at ${k}`);
    for (let k = 16; k < h.length; k++) assert.deepEqual(parseProxyV2(h.subarray(0, k)), incomplete(h.length), `at ${k}`);
  });
});

describe('parseProxyV2: round trip with the encoder (proxy-header.ts)', () => {
  const custom: ProxyTlv[] = [
    { type: 0x05, value: Buffer.from('0123456789abcdef') },
    { type: 0xea, value: Buffer.concat([Buffer.from([0x01]), Buffer.from('vpce-0123456789abcdef0')]) },
  ];
  const cases: [string, number, string, number][] = [
    ['192.0.2.10', 56324, '198.51.100.7', 443],
    ['2001:db8::1', 40000, '2001:db8:0:0:1:0:0:1', 8443],
    ['::ffff:192.0.2.1', 1, 'fe80::1:2:3:4', 65535],
  ];
  for (const [sa, sp, da, dp] of cases) {
    it(`${sa}:${sp} -> ${da}:${dp} with TLVs and CRC32C`, () => {
      const addrs = proxyAddresses({ address: sa, port: sp }, { address: da, port: dp });
      const tlvs = [...standardTlvs('example.com', 'h2'), ...custom];
      const enc = encodeProxyV2(addrs, tlvs, { crc32c: true });
      assert.equal(enc.ok, true);
      if (!enc.ok) return;
      const h = enc.header;
      const expected = decoded('proxy', addrs.family === 'tcp4' ? 'inet' : 'inet6', 'stream', {
        src: { address: addrs.srcAddress, port: addrs.srcPort },
        dst: { address: addrs.dstAddress, port: addrs.dstPort },
        tlvs: [
          ...tlvs.map((t) => ({ type: t.type, value: Buffer.from(t.value) })),
          { type: 0x03, value: Buffer.from(h.subarray(h.length - 4)) },
        ],
        crc32cVerified: true,
        authority: 'example.com',
        alpn: 'h2',
        uniqueId: Buffer.from('0123456789abcdef'),
        awsVpceId: 'vpce-0123456789abcdef0',
      });
      accepts(h, expected);
    });
  }

  it('LOCAL with TLVs and CRC32C', () => {
    const addrs = proxyAddresses({ address: '192.0.2.1', port: 1 }, { address: '192.0.2.2', port: 2 });
    const enc = encodeProxyV2(addrs, [{ type: 0x04, value: Buffer.alloc(10) }], { local: true, crc32c: true });
    assert.equal(enc.ok, true);
    if (!enc.ok) return;
    const h = enc.header;
    const tlvs = [
      { type: 0x04, value: Buffer.alloc(10) },
      { type: 0x03, value: Buffer.from(h.subarray(h.length - 4)) },
    ];
    accepts(h, decoded('local', 'unspec', 'unspec', { tlvs, crc32cVerified: true }));
  });
});

describe('parseProxyV2: seeded fuzz', () => {
  it('~20k random and mutated inputs: never throws; ok length <= input, TLVs inside the header', () => {
    const corpus = [
      hex(`0d0a0d0a000d0a515549540a 20 11 0054 03 0004 bce5951f 04 004a ${'00'.repeat(74)}`),
      v2(0x21, 0x11, TCP4_BLOCK),
      withCrc(v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, tlv(0x02, 'example.com'), CRC_TLV]))),
      v2(0x21, 0x21, Buffer.concat([Buffer.alloc(36, 0x11), tlv(0xea, '\x01vpce-1'), tlv(0x05, 'id')])),
      v2(0x21, 0x31, Buffer.alloc(216, 0x2f)),
      v2(0x20, 0x00, Buffer.alloc(0)),
      v2(0x21, 0x00, Buffer.concat([tlv(0x01, 'h2'), tlv(0x04, Buffer.alloc(5))])),
    ];
    const limitsChoices: (ProxyV2Limits | undefined)[] = [undefined, { maxLength: 64 }, { maxTlvValue: 8 }];
    const stats = fuzzParser(parseProxyV2, corpus, {
      iterations: 20000,
      seed: 0xbadc0de,
      random: 0.2,
      mutate: { maxEdits: 3 },
      prefixEvery: 100,
      shape: (input, { random, rng }) => {
        if (random) {
          if (rng() < 0.7) SIG.copy(input, 0, 0, Math.min(12, input.length));
          return input;
        }
        // Keep len consistent with the body some of the time, so deeper code is reached.
        if (input.length >= 16 && rng() < 0.5) input.writeUInt16BE(input.length - 16, 14);
        return rng() < 0.3 ? Buffer.concat([input, PAYLOAD]) : input;
      },
      parserFor: ({ rng }) => parser(pick(rng, limitsChoices)),
      check: (input, r) => {
        if (r.kind !== 'ok') return;
        assert.ok(r.length >= 16);
        for (const tl of r.value.tlvs) {
          assert.equal(tl.value.buffer, input.buffer, 'TLV values are views of the input');
          assert.ok(tl.value.byteOffset + tl.value.length <= input.byteOffset + r.length);
        }
      },
    });
    assert.ok(stats.ok > 100, `only ${stats.ok} accepted inputs`);
  });
});
