/**
 * PROXY header dispatch (haproxy doc/proxy-protocol.txt §2.2, "Identifying the protocol version").
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeProxyV1, encodeProxyV2, proxyAddresses, standardTlvs } from '../../../src/protocols/proxy/header.js';
import { parseProxyHeader, proxySignature, type InboundProxyHeader } from '../../../src/protocols/proxy/decode.js';
import { parseProxyV2, type ProxyV2Limits } from '../../../src/protocols/proxy/v2.js';
import { incomplete, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { fuzzParser } from '../../helpers/fuzz.js';

const SIG = hex('0d0a0d0a000d0a515549540a');
const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const parse =
  (limits?: ProxyV2Limits) =>
  (bytes: Uint8Array): ParseResult<InboundProxyHeader> =>
    parseProxyHeader(bytes, limits);

function refuses(bytes: Buffer, reason: RegExp, limits?: ProxyV2Limits): void {
  const r = parseProxyHeader(bytes, limits);
  assert.equal(r.kind, 'invalid');
  if (r.kind === 'invalid') assert.match(r.reason, reason);
  assertSameForEveryDelivery(parse(limits), bytes, r);
}

describe('proxySignature', () => {
  it('maybe: empty input, proper prefixes of "PROXY " or of the v2 signature', () => {
    assert.equal(proxySignature(new Uint8Array(0)), 'maybe');
    for (const s of ['P', 'PRO', 'PROXY']) assert.equal(proxySignature(b(s)), 'maybe', s);
    for (let k = 1; k < 12; k++) assert.equal(proxySignature(SIG.subarray(0, k)), 'maybe', `sig[0..${k})`);
  });

  it('v1 from "PROXY ", v2 from the 12-byte signature (version nibble left to the v2 parser)', () => {
    assert.equal(proxySignature(b('PROXY ')), 'v1');
    assert.equal(proxySignature(b('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n')), 'v1');
    assert.equal(proxySignature(SIG), 'v2');
    assert.equal(proxySignature(Buffer.concat([SIG, Buffer.from([0x21, 0x11])])), 'v2');
    assert.equal(proxySignature(Buffer.concat([SIG, Buffer.from([0x11])])), 'v2');
  });

  it('none: anything else, decided on the first differing byte', () => {
    for (const s of ['G', 'GET / HTTP/1.1\r\n', 'PROXZ', 'PROXY\t', 'proxy ', '\x16\x03\x01', 'SSH-2.0-x\r\n']) {
      assert.equal(proxySignature(b(s)), 'none', JSON.stringify(s));
    }
    assert.equal(proxySignature(hex('0d0a0d0a01')), 'none');
    assert.equal(proxySignature(hex('0d0a0d0a000d0a515549540b')), 'none');
  });
});

describe('parseProxyHeader', () => {
  it('dispatches v1 lines (TCP4, TCP6, UNKNOWN)', () => {
    for (const [line, value] of [
      [
        'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n',
        { version: 1, family: 'tcp4', src: { address: '192.168.0.1', port: 56324 }, dst: { address: '192.168.0.11', port: 443 } },
      ],
      [
        'PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n',
        { version: 1, family: 'tcp6', src: { address: '2001:db8::1', port: 1 }, dst: { address: '2001:db8::2', port: 2 } },
      ],
      ['PROXY UNKNOWN\r\n', { version: 1, family: 'unknown' }],
    ] as const) {
      const bytes = Buffer.concat([b(line), b('SSH-2.0-OpenSSH_9.6\r\n')]);
      assertSameForEveryDelivery(parse(), bytes, ok(value as InboundProxyHeader, line.length));
    }
  });

  it('dispatches v2 headers (the AWS NLB LOCAL health check, TCP4) to the v2 parser', () => {
    // kubernetes/kubernetes#57250: AWS NLB health check, LOCAL + CRC32C + NOOP TLVs. proxy-v2.test.ts
    // decodes both headers field by field; here the dispatcher must give the v2 parser's answer.
    const aws = hex(`0d0a0d0a000d0a515549540a 20 11 0054 03 0004 bce5951f 04 004a ${'00'.repeat(74)}`);
    const tcp4 = hex('0d0a0d0a000d0a515549540a 21 11 000c c000020a c6336407 dc04 01bb');
    for (const [bytes, length, command] of [
      [aws, 100, 'local'],
      [Buffer.concat([tcp4, b('hello')]), 28, 'proxy'],
    ] as const) {
      const expected = parseProxyV2(bytes);
      assert.ok(expected.kind === 'ok' && expected.length === length && expected.value.command === command, JSON.stringify(expected));
      assertSameForEveryDelivery(parse(), bytes, expected);
    }
  });

  it('passes the limits to the v2 parser: len 65535 with a 4096 cap is invalid on 16 bytes', () => {
    const fixed = hex('0d0a0d0a000d0a515549540a 21 11 ffff');
    refuses(fixed, /4096/, { maxLength: 4096 });
    assert.deepEqual(parseProxyHeader(fixed), incomplete(16 + 65535));
  });

  it('invalid when the bytes start neither header; version errors come from the version parser', () => {
    refuses(b('GET / HTTP/1.1\r\n\r\n'), /not a PROXY protocol header/);
    refuses(b('\x16\x03\x01\x02\x00'), /not a PROXY protocol header/);
    refuses(b('PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'), /source address/);
    refuses(Buffer.concat([SIG, hex('11 11 000c'), Buffer.alloc(12)]), /version 1/);
  });

  it('incomplete on prefixes, with needed from the v2 parser', () => {
    assert.deepEqual(parseProxyHeader(new Uint8Array(0)), incomplete());
    assert.deepEqual(parseProxyHeader(b('PROX')), incomplete());
    assert.deepEqual(parseProxyHeader(SIG.subarray(0, 3)), incomplete(16));
  });

  it('round trip with the encoder, v1 and v2, IPv4 and IPv6', () => {
    for (const [sa, da] of [
      ['192.0.2.10', '198.51.100.7'],
      ['2001:db8::10', '2001:db8::1:0:0:7'],
    ] as const) {
      const addrs = proxyAddresses({ address: sa, port: 40000 }, { address: da, port: 443 });
      const v1 = encodeProxyV1(addrs);
      assertSameForEveryDelivery(
        parse(),
        v1,
        ok<InboundProxyHeader>(
          {
            version: 1,
            family: addrs.family,
            src: { address: sa, port: 40000 },
            dst: { address: da, port: 443 },
          },
          v1.length,
        ),
      );
      const enc = encodeProxyV2(addrs, standardTlvs('example.com', 'http/1.1'), { crc32c: true });
      assert.equal(enc.ok, true);
      if (!enc.ok) continue;
      const h = enc.header;
      assertSameForEveryDelivery(
        parse({ maxLength: 4096 }),
        h,
        ok<InboundProxyHeader>(
          {
            version: 2,
            command: 'proxy',
            family: addrs.family === 'tcp4' ? 'inet' : 'inet6',
            transport: 'stream',
            src: { address: sa, port: 40000 },
            dst: { address: da, port: 443 },
            tlvs: [
              { type: 0x02, value: Buffer.from('example.com') },
              { type: 0x01, value: Buffer.from('http/1.1') },
              { type: 0x03, value: Buffer.from(h.subarray(h.length - 4)) },
            ],
            crc32cVerified: true,
            authority: 'example.com',
            alpn: 'http/1.1',
          },
          h.length,
        ),
      );
    }
  });
});

describe('parseProxyHeader: seeded fuzz', () => {
  it('~20k random and mutated inputs: never throws; ok length <= input; agrees with proxySignature', () => {
    const corpus = [
      b('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'),
      b('PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 65535\r\n'),
      b('PROXY UNKNOWN\r\n'),
      hex(`0d0a0d0a000d0a515549540a 20 11 0054 03 0004 bce5951f 04 004a ${'00'.repeat(74)}`),
      hex('0d0a0d0a000d0a515549540a 21 11 000c c000020a c6336407 dc04 01bb'),
      hex('0d0a0d0a000d0a515549540a 21 00 0005 02 0002 6869'),
    ];
    const stats = fuzzParser(parse(), corpus, {
      iterations: 20000,
      seed: 0x1234567,
      maxRandomLength: 140,
      mutate: { maxEdits: 3 },
      parserFor: ({ rng }) => parse(rng() < 0.5 ? { maxLength: 128 } : undefined),
      check: (input, r) => {
        const sig = proxySignature(input);
        if (sig === 'none') assert.equal(r.kind, 'invalid');
        if (sig === 'maybe') assert.equal(r.kind, 'incomplete');
        if (r.kind === 'ok') assert.equal(r.value.version, sig === 'v1' ? 1 : 2);
      },
    });
    assert.ok(stats.ok > 100, `only ${stats.ok} accepted inputs`);
  });
});
