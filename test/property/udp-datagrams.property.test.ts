/**
 * Property tests for the UDP first-datagram parsers: parseDnsQuery (src/protocols/dns.ts),
 * parseWireGuardInitiation (wireguard.ts) and parseOpenVpnUdp (openvpn.ts). Datagram contract
 * (result.ts DatagramParseResult): never throws, never incomplete, an ok covers the whole datagram.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDnsQuery, type DnsQuery } from '../../src/protocols/dns/parse.js';
import { parseOpenVpnUdp, type OpenVpnReset } from '../../src/protocols/openvpn/parse.js';
import { parseWireGuardInitiation, type WireGuardInitiation } from '../../src/protocols/wireguard/parse.js';
import { dnsName, dnsQuery, dnsRecord, optRecord } from '../helpers/dns-builder.js';
import { check, datagramParserProperties, fc, fixture } from './support.js';

const DNS_CORPUS = [
  fixture('dns-node20-cares-query-a.bin'),
  fixture('dns-node20-cares-query-txt.bin'),
  fixture('dns-glibc236-query-aaaa.bin'),
  fixture('dns-glibc236-edns-query-a.bin'),
  fixture('dns-glibc236-edns-trust-ad-query-a.bin'),
  dnsQuery({ additional: [optRecord({ dnssecOk: true, options: [[10, Buffer.alloc(8, 1)], [12, Buffer.alloc(20)]] })] }),
  dnsQuery({ byte2: 4 << 3, qname: dnsName('example.test'), qtype: 6, answers: [dnsRecord({ name: Buffer.from([0xc0, 0x0c]), type: 6, rdata: Buffer.alloc(30, 1) })] }),
];

const wgInit = (index: number, mac2: number): Buffer => {
  const b = Buffer.alloc(148, 0x5a);
  b.writeUInt32LE(1, 0);
  b.writeUInt32LE(index, 4);
  b.fill(mac2, 132);
  return b;
};
const WG_CORPUS = [wgInit(1, 0), wgInit(0xdeadbeef, 0x33)];
const OPENVPN_CORPUS = ['reset-v2', 'tls-auth-reset-v2', 'tls-crypt-reset-v2', 'tls-crypt-v2-reset-v3'].map((n) => fixture(`openvpn-udp-${n}.bin`));

datagramParserProperties<DnsQuery>({
  name: 'parseDnsQuery',
  parse: parseDnsQuery,
  corpus: DNS_CORPUS,
  interesting: [0x00, 0x01, 0x06, 0x29, 0x3f, 0x40, 0x80, 0xc0, 0x0c, 0xfa, 0xfb, 0xff],
  poisons: [DNS_CORPUS[3]!, Buffer.from([0xc0, 0x0c]), Buffer.from([0x3f])],
  prefixesTruncated: true,
  seed: 7300,
  runs: { random: 300, mutated: 800, poisoned: 200, strict: 200, prefixes: 150 },
});

datagramParserProperties<WireGuardInitiation>({
  name: 'parseWireGuardInitiation',
  parse: parseWireGuardInitiation,
  corpus: WG_CORPUS,
  interesting: [0x00, 0x01, 0x02, 0x03, 0x04, 0xff],
  poisons: [WG_CORPUS[0]!, Buffer.from([1, 0, 0, 0])],
  maxRandom: 300,
  prefixesTruncated: true,
  seed: 7310,
  runs: { random: 300, mutated: 500, poisoned: 150, strict: 150, prefixes: 100 },
});

datagramParserProperties<OpenVpnReset>({
  name: 'parseOpenVpnUdp',
  parse: parseOpenVpnUdp,
  corpus: OPENVPN_CORPUS,
  interesting: [0x00, 0x07, 0x38, 0x39, 0x50, 0xff],
  poisons: [OPENVPN_CORPUS[0]!, Buffer.from([0x38])],
  maxRandom: 1400,
  prefixesTruncated: false,
  seed: 7320,
  runs: { random: 300, mutated: 500, poisoned: 150, strict: 150, prefixes: 60 },
});

describe('parseDnsQuery: round trip of built queries', () => {
  const label = fc.uint8Array({ minLength: 1, maxLength: 63 });
  it('any labels (<= 255 octets), type, class, flags and EDNS come back; the qname text is lowercase presentation format (seed 7330, 400 runs)', () => {
    check(
      fc.property(
        fc.array(label, { maxLength: 8 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 1, max: 0xffff }).filter((t) => t !== 41),
        fc.integer({ min: 1, max: 0xffff }),
        fc.boolean(),
        fc.boolean(),
        fc.option(fc.record({ size: fc.integer({ min: 0, max: 0xffff }), dnssecOk: fc.boolean(), codes: fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 4 }) }), { nil: undefined }),
        (labels, id, qtype, qclass, rd, ad, edns) => {
          const wire = dnsName(labels);
          const q = dnsQuery({
            id,
            byte2: rd ? 1 : 0,
            byte3: ad ? 0x20 : 0,
            qname: wire,
            qtype,
            qclass,
            additional: edns === undefined ? [] : [optRecord({ size: edns.size, dnssecOk: edns.dnssecOk, options: edns.codes.map((c) => [c, Buffer.alloc(c % 5)] as const) })],
          });
          const r = parseDnsQuery(q);
          if (wire.length > 255) {
            assert.deepEqual(r, { kind: 'invalid', reason: 'question name longer than 255 octets' });
            return;
          }
          assert.equal(r.kind, 'ok', JSON.stringify(r));
          if (r.kind !== 'ok') return;
          assert.equal(r.value.id, id);
          assert.deepEqual(r.value.flags, { rd, ad, cd: false });
          assert.equal(r.value.qtype, qtype);
          assert.equal(r.value.qclass, qclass);
          assert.deepEqual(r.value.edns, edns === undefined ? undefined : { udpPayloadSize: edns.size, version: 0, dnssecOk: edns.dnssecOk, options: edns.codes });
          // Unescaping the text gives the lowercased wire labels back.
          const expected = labels.length === 0 ? '.' : labels.map((l) => Buffer.from(l).toString('latin1').replace(/[A-Z]/g, (c) => c.toLowerCase())).join('\u0000');
          const text = r.value.qname === '.' ? '.' : unescapeLabels(r.value.qname).join('\u0000');
          assert.equal(text, expected);
        },
      ),
      7330,
      400,
    );
  });
});

/** RFC 1035 §5.1 text back to labels (latin1 strings). */
function unescapeLabels(name: string): string[] {
  const labels: string[] = [];
  let cur = '';
  for (let k = 0; k < name.length; k++) {
    const c = name[k]!;
    if (c === '\\') {
      const d = name.slice(k + 1, k + 4);
      if (/^\d{3}$/.test(d)) {
        cur += String.fromCharCode(Number(d));
        k += 3;
      } else {
        cur += name[k + 1]!;
        k += 1;
      }
    } else if (c === '.') {
      labels.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  labels.push(cur);
  return labels;
}
