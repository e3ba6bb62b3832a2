import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseDnsQuery, type DnsQuery } from '../../../src/protocols/dns/parse.js';
import { invalid, ok } from '../../../src/protocols/result.js';
import { dnsName, dnsQuery, dnsRecord, optRecord } from '../../helpers/dns-builder.js';
import { hex } from '../../helpers/feed.js';
import { fuzzParser } from '../../helpers/fuzz.js';

const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

const NO_FLAGS = { rd: false, ad: false, cd: false };
const RD = { rd: true, ad: false, cd: false };

function query(over: Partial<DnsQuery> = {}): DnsQuery {
  return { id: 0x1234, opcode: 'QUERY', flags: RD, qname: 'www.example.test', qtype: 1, qclass: 1, edns: undefined, tsig: false, ...over };
}

/** Every strict prefix of an accepted datagram is a truncation. */
function assertTruncationsInvalid(bytes: Buffer): void {
  for (let k = 0; k < bytes.length; k++) {
    const r = parseDnsQuery(bytes.subarray(0, k));
    assert.equal(r.kind, 'invalid', `prefix ${k} of ${bytes.length}`);
    if (r.kind === 'invalid') assert.match(r.reason, /^truncated: /, `prefix ${k}: ${r.reason}`);
  }
}

function accepts(bytes: Buffer, value: DnsQuery): void {
  assert.deepEqual(parseDnsQuery(bytes), ok(value, bytes.length));
  assertTruncationsInvalid(bytes);
  // A datagram inside a larger receive buffer: same answer.
  const big = Buffer.concat([Buffer.from([0xc0, 0x0c]), bytes, Buffer.from([0xc0])]);
  assert.deepEqual(parseDnsQuery(big.subarray(2, 2 + bytes.length)), ok(value, bytes.length));
}

const TSIG = dnsRecord({ name: dnsName('key.example.test'), type: 250, cls: 255, rdata: Buffer.concat([dnsName('hmac-sha256'), Buffer.alloc(16, 0x5a)]) });
const SOA_RDATA = Buffer.concat([dnsName('ns.example.test'), dnsName('admin.example.test'), Buffer.alloc(20, 0x01)]);

// --- recorded (test/fixtures/README.md) ----------------------------------------------------------

const RECORDED: readonly (readonly [string, Omit<DnsQuery, 'id'>])[] = [
  ['dns-node20-cares-query-a.bin', { opcode: 'QUERY', flags: RD, qname: 'www.example.test', qtype: 1, qclass: 1, edns: undefined, tsig: false }],
  // asked for 'Mixed-Case.Example.TEST': Node/c-ares sent it lowercased already
  ['dns-node20-cares-query-txt.bin', { opcode: 'QUERY', flags: RD, qname: 'mixed-case.example.test', qtype: 16, qclass: 1, edns: undefined, tsig: false }],
  ['dns-glibc236-query-aaaa.bin', { opcode: 'QUERY', flags: RD, qname: 'www.example.test', qtype: 28, qclass: 1, edns: undefined, tsig: false }],
  ['dns-glibc236-edns-query-a.bin', { opcode: 'QUERY', flags: RD, qname: 'www.example.test', qtype: 1, qclass: 1, edns: { udpPayloadSize: 1200, version: 0, dnssecOk: false, options: [] }, tsig: false }],
  // RES_OPTIONS trust-ad: glibc sets AD in the query (RFC 6840 §5.7)
  ['dns-glibc236-edns-trust-ad-query-a.bin', { opcode: 'QUERY', flags: { rd: true, ad: true, cd: false }, qname: 'www.example.test', qtype: 1, qclass: 1, edns: { udpPayloadSize: 1200, version: 0, dnssecOk: false, options: [] }, tsig: false }],
];

for (const [name, value] of RECORDED) {
  test(`recorded: ${name}`, () => {
    const bytes = fixture(name);
    accepts(bytes, { id: bytes.readUInt16BE(0), ...value });
  });
}

// --- accepted, built -----------------------------------------------------------------------------

test('the smallest query: the root, NS, no RD (a priming query), 17 bytes', () => {
  const bytes = hex('abcd 0000 0001 0000 0000 0000 00 0002 0001');
  accepts(bytes, query({ id: 0xabcd, flags: NO_FLAGS, qname: '.', qtype: 2 }));
});

test('EDNS the way dig sends it: DO, a client cookie (8 bytes, RFC 7873) and padding (RFC 7830)', () => {
  const bytes = dnsQuery({ byte3: 0x20, additional: [optRecord({ size: 1232, dnssecOk: true, options: [[10, hex('0102030405060708')], [12, Buffer.alloc(40)]] })] });
  accepts(bytes, query({ flags: { rd: true, ad: true, cd: false }, edns: { udpPayloadSize: 1232, version: 0, dnssecOk: true, options: [10, 12] } }));
});

test('EDNS: a full cookie (client + server, 24 bytes), an empty option, version 1 (the server answers BADVERS)', () => {
  const bytes = dnsQuery({ additional: [optRecord({ size: 512, version: 1, options: [[10, Buffer.alloc(24, 7)], [65001, Buffer.alloc(0)]] })] });
  accepts(bytes, query({ edns: { udpPayloadSize: 512, version: 1, dnssecOk: false, options: [10, 65001] } }));
});

test('CD set (RFC 6840 §5.8), AA / TC / RA ignored', () => {
  accepts(dnsQuery({ byte2: 0x07, byte3: 0x90 }), query({ flags: { rd: true, ad: false, cd: true } }));
});

test('qname is lowercased (ASCII only) and odd bytes are escaped (RFC 1035 §5.1)', () => {
  accepts(dnsQuery({ qname: dnsName('WWW.Example.TEST') }), query());
  const odd = dnsName([Buffer.from('a.b'), Buffer.from('back\\slash'), Buffer.from([0x20, 0x00, 0x7f, 0xc9, 0x41]), Buffer.from('_srv-x')]);
  accepts(dnsQuery({ qname: odd, qtype: 33 }), query({ qname: 'a\\.b.back\\\\slash.\\032\\000\\127\\201a._srv-x', qtype: 33 }));
});

test('label of 63 and name of 255 octets are the limits (RFC 1035 §2.3.4)', () => {
  const l63 = 'a'.repeat(63);
  accepts(dnsQuery({ qname: dnsName(`${l63}.test`) }), query({ qname: `${l63}.test` }));
  // 3 x (1 + 63) + (1 + 61) + 1 = 255
  const max = [l63, l63, l63, 'b'.repeat(61)].join('.');
  assert.equal(dnsName(max).length, 255);
  accepts(dnsQuery({ qname: dnsName(max) }), query({ qname: max }));
  const over = [l63, l63, l63, 'b'.repeat(62)].join('.');
  assert.deepEqual(parseDnsQuery(dnsQuery({ qname: dnsName(over) })), invalid('question name longer than 255 octets'));
});

test('class CH (version.bind TXT CH) and ANY', () => {
  accepts(dnsQuery({ qname: dnsName('version.bind'), qtype: 16, qclass: 3 }), query({ qname: 'version.bind', qtype: 16, qclass: 3 }));
  accepts(dnsQuery({ qtype: 255, qclass: 255 }), query({ qtype: 255, qclass: 255 }));
});

test('a TSIG-signed SOA query (a secondary refreshing): OPT then TSIG, ARCOUNT 2', () => {
  const bytes = dnsQuery({ qname: dnsName('example.test'), qtype: 6, additional: [optRecord(), TSIG] });
  accepts(bytes, query({ qname: 'example.test', qtype: 6, edns: { udpPayloadSize: 1232, version: 0, dnssecOk: false, options: [] }, tsig: true }));
  accepts(dnsQuery({ qname: dnsName('example.test'), qtype: 6, additional: [TSIG] }), query({ qname: 'example.test', qtype: 6, tsig: true }));
});

test('IXFR over UDP: the client\'s SOA in the authority section (RFC 1995 §3), name compressed to the question', () => {
  const soa = dnsRecord({ name: hex('c00c'), type: 6, rdata: SOA_RDATA });
  accepts(dnsQuery({ qname: dnsName('example.test'), qtype: 251, authority: [soa] }), query({ qname: 'example.test', qtype: 251 }));
});

test('NOTIFY (opcode 4, RFC 1996) with the new SOA as an answer hint; UPDATE (opcode 5, RFC 2136) with records and TSIG', () => {
  const soa = dnsRecord({ name: hex('c00c'), type: 6, rdata: SOA_RDATA });
  accepts(dnsQuery({ byte2: 4 << 3 | 0x04, qname: dnsName('example.test'), qtype: 6, answers: [soa] }), query({ opcode: 'NOTIFY', flags: NO_FLAGS, qname: 'example.test', qtype: 6 }));
  // zone example.test SOA IN; prerequisite "www.example.test does not exist" (class NONE, type ANY);
  // update: add www.example.test A 192.0.2.1 with the owner compressed to the prerequisite's name
  const prereq = dnsRecord({ name: Buffer.concat([Buffer.from([3]), Buffer.from('www'), hex('c00c')]), type: 255, cls: 254 });
  const ownerAt = 12 + dnsName('example.test').length + 4;
  const add = dnsRecord({ name: Buffer.from([0xc0, ownerAt]), type: 1, ttl: 300, rdata: hex('c0000201') });
  const bytes = dnsQuery({ byte2: 5 << 3, qname: dnsName('example.test'), qtype: 6, answers: [prereq], authority: [add], additional: [TSIG] });
  accepts(bytes, query({ opcode: 'UPDATE', flags: NO_FLAGS, qname: 'example.test', qtype: 6, tsig: true }));
});

// --- invalid, one reason each ---------------------------------------------------------------------

test('header: a response, other opcodes, Z, RCODE, QDCOUNT', () => {
  assert.deepEqual(parseDnsQuery(dnsQuery({ byte2: 0x81 })), invalid('a DNS response (QR = 1), not a query'));
  for (const op of [1, 2, 3, 6, 7, 15]) {
    assert.deepEqual(parseDnsQuery(dnsQuery({ byte2: (op << 3) | 1 })), invalid(`DNS opcode ${op} is not QUERY, NOTIFY or UPDATE`));
  }
  assert.deepEqual(parseDnsQuery(dnsQuery({ byte3: 0x40 })), invalid('DNS Z bit set in a query (RFC 1035 §4.1.1: must be zero)'));
  for (const rcode of [1, 3, 5, 15]) assert.deepEqual(parseDnsQuery(dnsQuery({ byte3: rcode })), invalid(`DNS RCODE ${rcode} in a query (must be 0)`));
  assert.deepEqual(parseDnsQuery(dnsQuery({ counts: [0, 0, 0, 0] })), invalid('QDCOUNT 0, not 1 (RFC 9619)'));
  assert.deepEqual(parseDnsQuery(dnsQuery({ counts: [2, 0, 0, 0] })), invalid('QDCOUNT 2, not 1 (RFC 9619)'));
});

test('question: compression pointer, undefined label types, reserved QTYPE / QCLASS, UPDATE zone not SOA', () => {
  assert.deepEqual(parseDnsQuery(dnsQuery({ qname: hex('c00c') })), invalid('compression pointer in the question name (nothing before it to point to)'));
  assert.deepEqual(parseDnsQuery(dnsQuery({ qname: hex('4141 00') })), invalid('label type 0x40 in the question name is not defined (RFC 6891 §5)'));
  assert.deepEqual(parseDnsQuery(dnsQuery({ qname: hex('8141 00') })), invalid('label type 0x80 in the question name is not defined (RFC 6891 §5)'));
  assert.deepEqual(parseDnsQuery(dnsQuery({ qtype: 0 })), invalid('QTYPE 0 cannot be asked for (reserved / OPT pseudo-type)'));
  assert.deepEqual(parseDnsQuery(dnsQuery({ qtype: 41 })), invalid('QTYPE 41 cannot be asked for (reserved / OPT pseudo-type)'));
  assert.deepEqual(parseDnsQuery(dnsQuery({ qclass: 0 })), invalid('QCLASS 0 is reserved'));
  assert.deepEqual(parseDnsQuery(dnsQuery({ byte2: 5 << 3, qtype: 1 })), invalid('UPDATE zone section with a ZTYPE other than SOA (RFC 2136 §2.3)'));
});

test('QUERY sections: answers, authority (except IXFR), too many or wrong additional records', () => {
  const a = dnsRecord({ type: 1, rdata: hex('c0000201') });
  assert.deepEqual(parseDnsQuery(dnsQuery({ answers: [a] })), invalid('a QUERY with 1 answer records'));
  assert.deepEqual(parseDnsQuery(dnsQuery({ authority: [a] })), invalid('a QUERY with 1 authority records'));
  const ixfrReason = invalid('an IXFR query without exactly one SOA in the authority section (RFC 1995 §3)');
  assert.deepEqual(parseDnsQuery(dnsQuery({ qtype: 251 })), ixfrReason);
  assert.deepEqual(parseDnsQuery(dnsQuery({ qtype: 251, authority: [a] })), ixfrReason);
  assert.deepEqual(parseDnsQuery(dnsQuery({ additional: [optRecord(), TSIG, TSIG] })), invalid('a QUERY with 3 additional records (only OPT and TSIG belong there)'));
  assert.deepEqual(parseDnsQuery(dnsQuery({ additional: [a] })), invalid('a QUERY with an additional record of type 1 (only OPT and TSIG belong there)'));
});

test('OPT and TSIG rules: one OPT, root owner, whole options, TSIG last, neither outside the additional section', () => {
  assert.deepEqual(parseDnsQuery(dnsQuery({ additional: [optRecord(), optRecord()] })), invalid('more than one OPT record (RFC 6891 §6.1.1)'));
  assert.deepEqual(parseDnsQuery(dnsQuery({ additional: [optRecord({ name: dnsName('test') })] })), invalid('OPT record whose owner is not the root (RFC 6891 §6.1.2)'));
  // RDLENGTH 3: an option header cut short; RDLENGTH 6 with an option claiming 8 data bytes
  const cutHeader = Buffer.concat([hex('00 0029 04d0 00000000 0003'), hex('000a00')]);
  assert.deepEqual(parseDnsQuery(dnsQuery({ additional: [cutHeader] })), invalid('OPT RDATA ends inside an option header'));
  const overrun = Buffer.concat([hex('00 0029 04d0 00000000 0006'), hex('000a 0008 0102')]);
  assert.deepEqual(parseDnsQuery(dnsQuery({ additional: [overrun] })), invalid('OPT option runs past the RDATA'));
  assert.deepEqual(parseDnsQuery(dnsQuery({ additional: [TSIG, optRecord()] })), invalid('TSIG is not the last additional record (RFC 8945 §5.2)'));
  const notify = { byte2: 4 << 3, qname: dnsName('example.test'), qtype: 6 };
  assert.deepEqual(parseDnsQuery(dnsQuery({ ...notify, answers: [optRecord()] })), invalid('OPT record in the answer section'));
  assert.deepEqual(parseDnsQuery(dnsQuery({ ...notify, authority: [TSIG] })), invalid('TSIG record in the authority section'));
});

test('compression pointers in records: only backwards into the message, never a loop', () => {
  const notify = { byte2: 4 << 3, qname: dnsName('example.test'), qtype: 6 };
  const at = 12 + dnsName('example.test').length + 4; // where the answer record starts
  const reason = invalid('compression pointer in the owner name of an answer record does not point back into the message');
  for (const target of [0, 11, at, at + 5, 0x3fff]) {
    const ptr = Buffer.from([0xc0 | (target >> 8), target & 0xff]);
    assert.deepEqual(parseDnsQuery(dnsQuery({ ...notify, answers: [dnsRecord({ name: ptr, type: 6, rdata: SOA_RDATA })] })), reason, `target ${target}`);
  }
  // a pointer into the name it is part of (following it would loop): not before the name's start
  const loop = Buffer.concat([hex('01 61 c0'), Buffer.from([at + 3])]);
  assert.deepEqual(parseDnsQuery(dnsQuery({ ...notify, answers: [dnsRecord({ name: loop, type: 6, rdata: SOA_RDATA })] })), reason);
});

test('bytes after the last record are invalid: a datagram is one message', () => {
  assert.deepEqual(parseDnsQuery(dnsQuery({ trailer: hex('00') })), invalid('1 bytes after the last record'));
  const recorded = fixture('dns-glibc236-edns-query-a.bin');
  assert.deepEqual(parseDnsQuery(Buffer.concat([recorded, recorded])), invalid(`${recorded.length} bytes after the last record`));
});

test('truncations have their own reasons (and every prefix of every accepted query above is one)', () => {
  assert.deepEqual(parseDnsQuery(new Uint8Array(0)), invalid('truncated: 0 bytes, shorter than the 12-byte DNS header'));
  const q = dnsQuery({ additional: [optRecord({ options: [[10, Buffer.alloc(8)]] })] });
  const qEnd = 12 + dnsName('www.example.test').length;
  const cases: readonly (readonly [number, string])[] = [
    [11, 'truncated: 11 bytes, shorter than the 12-byte DNS header'],
    [12, 'truncated: the datagram ends inside the question name'],
    [qEnd - 1, 'truncated: the datagram ends inside the question name'],
    [qEnd + 3, 'truncated: the datagram ends inside QTYPE / QCLASS'],
    [qEnd + 4, 'truncated: the datagram ends inside the owner name of an additional record'],
    [qEnd + 5, 'truncated: the datagram ends inside an additional record'],
    [q.length - 1, 'truncated: the datagram ends inside the RDATA of an additional record'],
  ];
  for (const [k, reason] of cases) assert.deepEqual(parseDnsQuery(q.subarray(0, k)), invalid(reason), `prefix ${k}`);
  const notify = dnsQuery({ byte2: 4 << 3, qname: dnsName('example.test'), qtype: 6, answers: [dnsRecord({ name: hex('c00c'), type: 6, rdata: SOA_RDATA })] });
  const ptrAt = 12 + dnsName('example.test').length + 4;
  assert.deepEqual(parseDnsQuery(notify.subarray(0, ptrAt + 1)), invalid('truncated: the datagram ends inside the owner name of an answer record'));
});

// --- fuzz ------------------------------------------------------------------------------------------

test('fuzz: ~15k random and mutated datagrams never throw, never answer incomplete, ok covers the datagram', () => {
  const seeds = [
    ...RECORDED.map(([name]) => fixture(name)),
    dnsQuery({ additional: [optRecord({ dnssecOk: true, options: [[10, Buffer.alloc(8, 1)], [12, Buffer.alloc(12)]] })] }),
    dnsQuery({ qname: dnsName('example.test'), qtype: 6, additional: [optRecord(), TSIG] }),
    dnsQuery({ byte2: 4 << 3, qname: dnsName('example.test'), qtype: 6, answers: [dnsRecord({ name: hex('c00c'), type: 6, rdata: SOA_RDATA })] }),
  ];
  const stats = fuzzParser(parseDnsQuery, seeds, {
    iterations: 15000,
    seed: 0xd45,
    datagram: true,
    mutate: { interesting: [0x00, 0x01, 0x02, 0x06, 0x29, 0x3f, 0x40, 0x80, 0xc0, 0xc0, 0x0c, 0xfa, 0xff], maxEdits: 3 },
    check: (input, r) => {
      if (r.kind !== 'ok') return;
      const v = r.value;
      assert.equal(v.id, input.readUInt16BE(0));
      assert.equal(input[2]! & 0x80, 0);
      assert.ok(v.qname === '.' || !v.qname.endsWith('.') || v.qname.endsWith('\\.'), v.qname);
      assert.doesNotMatch(v.qname, /[A-Z]/);
      assert.ok(v.qtype !== 0 && v.qtype !== 41 && v.qclass !== 0);
    },
  });
  assert.ok(stats.ok > 100 && stats.invalid > 1000 && stats.incomplete === 0, JSON.stringify(stats));
});
