import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { parseQuicClientHello, parseQuicLongHeader, QUIC_VERSION_1, QUIC_VERSION_2, type QuicClientHello, type QuicLongHeader } from '../../../src/protocols/quic/initial.js';
import { deriveQuicClientInitialSecrets, hkdfExpandLabel } from '../../../src/protocols/quic/keys.js';
import { parseClientHello, parseClientHelloMessage, type ClientHello } from '../../../src/protocols/tls/client-hello.js';
import type { ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import {
  ackFrame,
  clientInitialDatagrams,
  connectionCloseFrame,
  cryptoFrame,
  handshakeOfRecord,
  initialDatagram,
  PING,
  protectInitial,
  varint,
  type QuicConn,
} from '../../helpers/quic-initial-builder.js';
import { recordClientHello } from '../../helpers/tls.js';

// Compiled to dist/test/protocols/tls/: fixtures stay in the source tree.
const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const hexFixture = (name: string): Buffer => hex(readFileSync(new URL(name, FIXTURES), 'latin1'));

const MAX = 16384;
const parse = (datagrams: readonly Uint8Array[], maxBytes = MAX): ParseResult<QuicClientHello> => parseQuicClientHello(datagrams, maxBytes);

function expectOk<T>(r: ParseResult<T>): T {
  assert.equal(r.kind, 'ok', r.kind === 'invalid' ? `invalid: ${r.reason}` : `got ${r.kind}`);
  return (r as { value: T }).value;
}

function expectInvalid<T>(r: ParseResult<T>, match?: RegExp): void {
  assert.equal(r.kind, 'invalid', `expected invalid, got ${JSON.stringify(r).slice(0, 200)}`);
  if (match !== undefined) assert.match((r as { reason: string }).reason, match);
}

/** What the TCP parser reads from a single-record hello, as QUIC reports it (no record layer). */
function tcpView(record: Uint8Array): ClientHello {
  return { ...expectOk(parseClientHello(record)), recordVersion: 0, records: 0 };
}

// --- RFC 9001 Appendix A / RFC 9369 Appendix A ---

const RFC_DCID = hex('8394c8f03e515708');
/** RFC 9001 A.2 (and RFC 9369 A.2, the same payload): the client's CRYPTO frame, then PADDING to 1162 bytes. */
const RFC_CRYPTO_FRAME = hex(`
  060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868
  04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578
  616d706c652e636f6dff01000100000a00080006001d00170018001000070005
  04616c706e000500050100000000003300260024001d00209370b2c9caa47fba
  baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400
  0d0010000e0403050306030203080408050806002d00020101001c0002400100
  3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000
  75300901100f088394c8f03e51570806048000ffff`);
const RFC_PAYLOAD = Buffer.concat([RFC_CRYPTO_FRAME, Buffer.alloc(1162 - RFC_CRYPTO_FRAME.length)]);
const RFC_V1_INITIAL = hexFixture('quic-rfc9001-a2-client-initial.hex');
const RFC_V2_INITIAL = hexFixture('quic-rfc9369-a2-client-initial.hex');
const RFC_V1_SERVER_INITIAL = hexFixture('quic-rfc9001-a3-server-initial.hex');
/** RFC 9001 A.4: a Retry (token "token", integrity tag) from the server with SCID f067a5502a4262b5. */
const RFC_V1_RETRY = hex('ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba');

/**
 * The hello in the RFC examples, as it is: SNI example.com, ALPN with one protocol named "alpn",
 * TLS 1.3 only, TLS_AES_128_GCM_SHA256 and TLS_AES_256_GCM_SHA384, and in order: server_name,
 * renegotiation_info, supported_groups, ALPN, status_request, key_share, supported_versions,
 * signature_algorithms, psk_key_exchange_modes, record_size_limit, quic_transport_parameters (0x39).
 */
const RFC_HELLO: ClientHello = {
  sslv2: false,
  recordVersion: 0,
  legacyVersion: 0x0303,
  version: 0x0304,
  sni: 'example.com',
  sniStatus: 'ok',
  alpn: ['alpn'],
  ech: false,
  supportedVersions: [0x0304],
  cipherSuites: 2,
  extensions: [0x0000, 0xff01, 0x000a, 0x0010, 0x0005, 0x0033, 0x002b, 0x000d, 0x002d, 0x001c, 0x0039],
  records: 0,
};

describe('RFC 9001 Appendix A (QUIC v1)', () => {
  it('A.1: client initial secret, key, iv, hp for DCID 0x8394c8f03e515708', () => {
    const s = deriveQuicClientInitialSecrets(QUIC_VERSION_1, RFC_DCID)!;
    assert.equal(s.initialSecret.toString('hex'), '7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44');
    assert.equal(s.clientSecret.toString('hex'), 'c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea');
    assert.equal(s.key.toString('hex'), '1f369613dd76d5467730efcbe3b1a22d');
    assert.equal(s.iv.toString('hex'), 'fa044b2f42a3fd3b46fb255c');
    assert.equal(s.hp.toString('hex'), '9f50449e04a0e810283a1e9933adedd2');
    // A.1 server side, same Expand-Label: "server in" from the same initial secret.
    assert.equal(hkdfExpandLabel(s.initialSecret, 'server in', new Uint8Array(0), 32).toString('hex'), '3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b');
  });

  it('A.2: the protected client Initial decrypts and its CRYPTO frame is the RFC ClientHello', () => {
    assert.equal(RFC_V1_INITIAL.length, 1200);
    const r = parse([RFC_V1_INITIAL]);
    assert.deepEqual(r, {
      kind: 'ok',
      value: { version: QUIC_VERSION_1, dcid: new Uint8Array(RFC_DCID), dcidHex: '8394c8f03e515708', scid: new Uint8Array(0), scidHex: '', hello: RFC_HELLO, packets: 1, datagrams: 1 },
      length: 1,
    });
  });

  it('A.2: the test builder protects the unprotected header + payload into exactly the RFC bytes', () => {
    const built = protectInitial({ version: QUIC_VERSION_1, dcid: RFC_DCID, scid: new Uint8Array(0) }, { pn: 2, pnLength: 4, payload: RFC_PAYLOAD });
    assert.equal(built.toString('hex'), RFC_V1_INITIAL.toString('hex'));
  });

  it('A.2 header: pn_offset 18, Length 1182, no token, no SCID', () => {
    const h = expectOk(parseQuicLongHeader(RFC_V1_INITIAL));
    assert.deepEqual(h, {
      version: 1,
      type: 'initial',
      fixedBit: true,
      dcid: new Uint8Array(RFC_DCID),
      dcidHex: '8394c8f03e515708',
      scid: new Uint8Array(0),
      scidHex: '',
      token: new Uint8Array(0),
      payloadLength: 1182,
      pnOffset: 18,
      supportedVersions: [],
      packetLength: 1200,
    } satisfies QuicLongHeader);
  });

  it("A.3: the server's Initial header gives the server's SCID (what the UDP side learns from a backend)", () => {
    const r = parseQuicLongHeader(RFC_V1_SERVER_INITIAL);
    const h = expectOk(r);
    assert.equal(h.type, 'initial');
    assert.equal(h.dcidHex, '');
    assert.equal(h.scidHex, 'f067a5502a4262b5');
    assert.equal(h.payloadLength, 0x75);
    assert.equal(h.packetLength, 135);
    assert.equal(r.kind === 'ok' && r.length, 135);
    // Not a client hello: the server's Initial decrypts with the server keys only.
    expectInvalid(parse([Buffer.concat([RFC_V1_SERVER_INITIAL, Buffer.alloc(1200 - 135)])]));
  });

  it('A.4: Retry carries the retry token and takes the rest of the datagram', () => {
    const h = expectOk(parseQuicLongHeader(RFC_V1_RETRY));
    assert.equal(h.type, 'retry');
    assert.equal(h.scidHex, 'f067a5502a4262b5');
    assert.equal(Buffer.from(h.token!).toString('latin1'), 'token');
    assert.equal(h.packetLength, 36);
    assert.equal(h.pnOffset, undefined);
  });
});

describe('RFC 9369 Appendix A (QUIC v2)', () => {
  it('A.1: client secret, key, iv, hp ("quicv2 key/iv/hp" labels, v2 salt)', () => {
    const s = deriveQuicClientInitialSecrets(QUIC_VERSION_2, RFC_DCID)!;
    assert.equal(s.clientSecret.toString('hex'), '14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b');
    assert.equal(s.key.toString('hex'), '8b1a0bc121284290a29e0971b5cd045d');
    assert.equal(s.iv.toString('hex'), '91f73e2351d8fa91660e909f');
    assert.equal(s.hp.toString('hex'), '45b95e15235d6f45a6b19cbcb0294ba9');
  });

  it('A.2: the protected v2 client Initial decrypts to the same ClientHello', () => {
    const r = parse([RFC_V2_INITIAL]);
    const v = expectOk(r);
    assert.equal(v.version, QUIC_VERSION_2);
    assert.equal(v.dcidHex, '8394c8f03e515708');
    assert.deepEqual(v.hello, RFC_HELLO);
    assert.equal(r.kind === 'ok' && r.length, 1);
  });

  it('A.2: the builder reproduces the v2 packet (Initial type bits 01, RFC 9369 §3.2)', () => {
    const built = protectInitial({ version: QUIC_VERSION_2, dcid: RFC_DCID, scid: new Uint8Array(0) }, { pn: 2, pnLength: 4, payload: RFC_PAYLOAD });
    assert.equal(built.toString('hex'), RFC_V2_INITIAL.toString('hex'));
  });

  it('v1 keys do not open a v2 packet: the version is part of the header', () => {
    const swapped = Buffer.from(RFC_V2_INITIAL);
    swapped.writeUInt32BE(QUIC_VERSION_1, 1);
    expectInvalid(parse([swapped]));
  });
});

// --- real hellos wrapped in Initials by the builder ---

const CHROMIUM_RECORD = fixture('chromium-156-pq-clienthello.bin');
const CHROMIUM = handshakeOfRecord(CHROMIUM_RECORD); // 1941 bytes: more than one Initial holds
const NODE20_RECORD = fixture('node20-clienthello.bin');
const NODE20 = handshakeOfRecord(NODE20_RECORD);
const CONN: QuicConn = { version: QUIC_VERSION_1, dcid: hex('0011223344556677'), scid: hex('a1a2a3a4') };
const CONN_V2: QuicConn = { ...CONN, version: QUIC_VERSION_2, dcid: hex('f0e1d2c3b4a5968778695a4b3c2d1e0f') };

describe('parseClientHelloMessage (bare handshake message, as QUIC carries it)', () => {
  it('reads what the TCP parser reads from the record, with recordVersion 0 and records 0', () => {
    for (const record of [NODE20_RECORD, CHROMIUM_RECORD]) {
      const msg = handshakeOfRecord(record);
      assert.deepEqual(parseClientHelloMessage(msg), { kind: 'ok', value: tcpView(record), length: msg.length });
    }
  });

  it('same answer for every delivery of the message bytes', () => {
    assertSameForEveryDelivery((b) => parseClientHelloMessage(b), NODE20, { kind: 'ok', value: tcpView(NODE20_RECORD), length: NODE20.length });
  });

  it('invalid: another handshake type, a length over the cap', () => {
    expectInvalid(parseClientHelloMessage(hex('02000004')), /handshake type 2/);
    expectInvalid(parseClientHelloMessage(CHROMIUM, 1000), /exceeds cap 1000/);
    assert.deepEqual(parseClientHelloMessage(CHROMIUM.subarray(0, 3)), { kind: 'incomplete', needed: 4 });
    assert.deepEqual(parseClientHelloMessage(CHROMIUM.subarray(0, 100)), { kind: 'incomplete', needed: 1941 });
  });
});

/**
 * Feeds `datagrams` one at a time: incomplete until `readyAt` datagrams are in, then ok with the
 * expected hello and length readyAt, the same for every longer prefix.
 */
function assertFlow(datagrams: readonly Uint8Array[], readyAt: number, hello: ClientHello, conn: QuicConn = CONN, label = ''): void {
  for (let k = 1; k <= datagrams.length; k++) {
    const r = parse(datagrams.slice(0, k));
    if (k < readyAt) {
      assert.deepEqual(r, { kind: 'incomplete' }, `${label} after ${k} of ${datagrams.length} datagrams: ${JSON.stringify(r).slice(0, 200)}`);
      continue;
    }
    const v = expectOk(r);
    assert.equal(r.kind === 'ok' && r.length, readyAt, `${label} ok length`);
    assert.equal(v.datagrams, readyAt);
    assert.equal(v.version, conn.version);
    assert.equal(v.dcidHex, Buffer.from(conn.dcid).toString('hex'));
    assert.equal(v.scidHex, Buffer.from(conn.scid).toString('hex'));
    assert.deepEqual(v.hello, hello, `${label} hello`);
  }
}

/** The 1-based position at which every distinct datagram (by identity) has arrived. */
function readyAt(sequence: readonly Uint8Array[]): number {
  const need = new Set(sequence);
  const seen = new Set<Uint8Array>();
  for (let k = 0; k < sequence.length; k++) {
    seen.add(sequence[k]!);
    if (seen.size === need.size) return k + 1;
  }
  return sequence.length;
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [x, ...p]));
}

describe('real hellos in Initial packets (builder)', () => {
  it('Node 20 hello (fixture): one Initial, same SNI/ALPN/version as the TCP parser', () => {
    const d = clientInitialDatagrams(CONN, NODE20);
    assert.equal(d.length, 1);
    assert.equal(d[0]!.length, 1200);
    const v = expectOk(parse(d));
    assert.deepEqual(v.hello, tcpView(NODE20_RECORD));
    assert.equal(v.hello.sni, 'example.com');
    assert.deepEqual(v.hello.alpn, ['h2', 'http/1.1']);
    assert.equal(v.packets, 1);
  });

  it("this Node's TLS client hello, recorded live, in a v1 and a v2 Initial", async () => {
    const record = await recordClientHello({ servername: 'quic.example.test', alpn: ['h3'] });
    for (const conn of [CONN, CONN_V2]) {
      const v = expectOk(parse(clientInitialDatagrams(conn, handshakeOfRecord(record))));
      assert.deepEqual(v.hello, tcpView(record));
      assert.equal(v.hello.sni, 'quic.example.test');
      assert.deepEqual(v.hello.alpn, ['h3']);
    }
  });

  it('Chromium post-quantum hello (1941 bytes) spans two Initials: incomplete after the first, ok after the second', () => {
    const expected = tcpView(CHROMIUM_RECORD);
    assert.equal(expected.sni, 'a.test');
    assert.deepEqual(expected.alpn, ['h2', 'http/1.1']);
    for (const conn of [CONN, CONN_V2]) {
      const d = clientInitialDatagrams(conn, CHROMIUM, { cuts: [1100] });
      assert.deepEqual(d.map((x) => x.length), [1200, 1200]);
      assertFlow(d, 2, expected, conn);
      assert.equal(expectOk(parse(d)).packets, 2);
      // Coalesced into one (larger) datagram.
      const one = clientInitialDatagrams(conn, CHROMIUM, { cuts: [1100], coalesce: 2, size: 0 });
      assert.equal(one.length, 1);
      assertFlow(one, 1, expected, conn);
    }
  });

  it('every split offset of the Chromium CRYPTO stream between two packets: in order, reversed, coalesced', () => {
    const expected = tcpView(CHROMIUM_RECORD);
    for (let cut = 1; cut < CHROMIUM.length; cut++) {
      const [a, b] = clientInitialDatagrams(CONN, CHROMIUM, { cuts: [cut] }) as [Buffer, Buffer];
      assertFlow([a, b], 2, expected, CONN, `cut ${cut}`);
      assertFlow([b, a], 2, expected, CONN, `cut ${cut} reversed`);
      if (cut % 16 === 0) {
        const [both] = clientInitialDatagrams(CONN, CHROMIUM, { cuts: [cut], coalesce: 2 });
        assertFlow([both!], 1, expected, CONN, `cut ${cut} coalesced`);
      }
    }
  });

  it('three datagrams, every order, with duplicates (a sweep of split pairs)', () => {
    const expected = tcpView(CHROMIUM_RECORD);
    for (let c1 = 1; c1 < CHROMIUM.length; c1 += 131) {
      for (let c2 = c1 + 53; c2 < CHROMIUM.length; c2 += 211) {
        const d = clientInitialDatagrams(CONN, CHROMIUM, { cuts: [c1, c2] });
        assert.equal(d.length, 3);
        for (const order of permutations(d)) assertFlow(order, 3, expected, CONN, `cuts ${c1},${c2}`);
        const dup = [d[1]!, d[1]!, d[0]!, d[1]!, d[2]!, d[0]!];
        assertFlow(dup, readyAt(dup), expected, CONN, `cuts ${c1},${c2} duplicated`);
      }
    }
  });

  it('a duplicated datagram before the rest: ok length counts the duplicate', () => {
    const [a, b] = clientInitialDatagrams(CONN, CHROMIUM, { cuts: [700] }) as [Buffer, Buffer];
    const r = parse([a, a, b]);
    assert.equal(r.kind === 'ok' && r.length, 3);
    assert.equal(expectOk(r).packets, 3);
  });

  it('overlapping, consistent CRYPTO fragments and out-of-order frames in one packet (RFC 9000 §19.6)', () => {
    const frames = Buffer.concat([cryptoFrame(500, CHROMIUM.subarray(500, 1000)), cryptoFrame(0, CHROMIUM.subarray(0, 800))]);
    const d1 = initialDatagram(CONN, [{ pn: 0, frames }]);
    const d2 = initialDatagram(CONN, [{ pn: 1, frames: Buffer.concat([cryptoFrame(900, CHROMIUM.subarray(900)), cryptoFrame(0, CHROMIUM.subarray(0, 10))]) }], 0);
    assertFlow([d1, Buffer.concat([d2, Buffer.alloc(1200 - d2.length)])], 2, tcpView(CHROMIUM_RECORD));
  });

  it('PING, ACK (with and without ECN) and CONNECTION_CLOSE (0x1c) frames are allowed in an Initial', () => {
    const frames = Buffer.concat([PING, ackFrame(0), ackFrame(3, true), cryptoFrame(0, NODE20), connectionCloseFrame(0, 'bye')]);
    const v = expectOk(parse([initialDatagram(CONN, [{ pn: 0, frames }])]));
    assert.equal(v.hello.sni, 'example.com');
  });

  it('a token, 1..4-byte packet numbers and a large first packet number', () => {
    for (const pnLength of [1, 2, 3, 4]) {
      const conn = { ...CONN, token: Buffer.alloc(40, 7) };
      const d = clientInitialDatagrams(conn, CHROMIUM, { cuts: [1000], pnLength, firstPn: pnLength === 4 ? 0x10000 : 5 });
      assertFlow(d, 2, tcpView(CHROMIUM_RECORD), conn, `pn length ${pnLength}`);
    }
  });

  it('coalesced Initial + 0-RTT + trailing short-header bytes: the walk stops after the Initial', () => {
    const initial = initialDatagram(CONN, [{ pn: 0, frames: cryptoFrame(0, NODE20) }], 0);
    // A 0-RTT long header (v1 type bits 01), Length 30, opaque protected bytes.
    const zeroRtt = Buffer.concat([hex('d1 00000001 08'), CONN.dcid, hex('04'), CONN.scid, varint(30), Buffer.alloc(30, 0x5a)]);
    const rest = 1200 - initial.length - zeroRtt.length;
    const datagram = Buffer.concat([initial, zeroRtt, Buffer.from([0x40]), Buffer.alloc(rest - 1, 0x33)]);
    const v = expectOk(parse([datagram]));
    assert.equal(v.packets, 1);
    assert.deepEqual(v.hello, tcpView(NODE20_RECORD));
  });

  it('a 0-RTT datagram that overtakes the Initial is skipped, not refused', () => {
    const zeroRtt = Buffer.concat([hex('d1 00000001 08'), CONN.dcid, hex('04'), CONN.scid, varint(1200 - 21), Buffer.alloc(1200 - 21, 0x5a)]);
    assert.equal(zeroRtt.length, 1200);
    assert.equal(expectOk(parseQuicLongHeader(zeroRtt)).type, '0-rtt');
    const d = clientInitialDatagrams(CONN, NODE20);
    assertFlow([zeroRtt, ...d], 2, tcpView(NODE20_RECORD));
  });

  it('later packets of another connection (other DCID) are ignored, whether coalesced or in their own datagram', () => {
    const other: QuicConn = { ...CONN, dcid: hex('9999999999999999') };
    const [a, b] = clientInitialDatagrams(CONN, CHROMIUM, { cuts: [900] }) as [Buffer, Buffer];
    const [, bOther] = clientInitialDatagrams(other, CHROMIUM, { cuts: [900] }) as [Buffer, Buffer];
    assertFlow([a, bOther, b], 3, tcpView(CHROMIUM_RECORD));
    assert.equal(expectOk(parse([a, bOther, b])).packets, 2);
    // Coalesced behind our first packet: ignored (RFC 9000 §12.2).
    const first = initialDatagram(CONN, [{ pn: 0, frames: cryptoFrame(0, CHROMIUM.subarray(0, 900)) }], 0);
    const stray = initialDatagram(other, [{ pn: 1, frames: cryptoFrame(900, CHROMIUM.subarray(900)) }], 0);
    assert.deepEqual(parse([Buffer.concat([first, stray])]), { kind: 'incomplete' });
  });

  it('later packets that fail to decrypt, and later datagrams under 1200 bytes, are ignored as a server would', () => {
    const [a, b] = clientInitialDatagrams(CONN, CHROMIUM, { cuts: [900] }) as [Buffer, Buffer];
    const broken = Buffer.from(b);
    broken[600] = broken[600]! ^ 1;
    assertFlow([a, broken, b], 3, tcpView(CHROMIUM_RECORD));
    const [, small] = clientInitialDatagrams(CONN, CHROMIUM, { cuts: [900], size: 0 });
    assert.ok(small!.length < 1200);
    assertFlow([a, small!, b], 3, tcpView(CHROMIUM_RECORD));
  });
});

// --- invalid ---

describe('invalid input', () => {
  it('unsupported versions (draft-29, a reserved 0x?a?a?a?a version) and version negotiation', () => {
    for (const v of [0xff00001d, 0x1a2a3a4a, 0x00000002]) {
      const d = Buffer.from(RFC_V1_INITIAL);
      d.writeUInt32BE(v, 1);
      expectInvalid(parse([d]), /unsupported QUIC version/);
      const h = expectOk(parseQuicLongHeader(d));
      assert.equal(h.type, undefined);
      assert.equal(h.packetLength, 1200);
    }
    const vn = Buffer.concat([hex('80 00000000 04 01020304 08'), CONN.dcid, hex('00000001 6b3343cf')]);
    expectInvalid(parse([vn]), /version negotiation/);
    const h = expectOk(parseQuicLongHeader(vn));
    assert.equal(h.type, 'version-negotiation');
    assert.deepEqual(h.supportedVersions, [QUIC_VERSION_1, QUIC_VERSION_2]);
    assert.equal(h.dcidHex, '01020304');
  });

  it('every single-bit flip of the RFC packet: never ok, never a throw (auth failures are invalid)', () => {
    for (let i = 0; i < RFC_V1_INITIAL.length; i++) {
      for (const bit of i < 22 ? [0, 1, 2, 3, 4, 5, 6, 7] : [i % 8]) {
        const d = Buffer.from(RFC_V1_INITIAL);
        d[i] = d[i]! ^ (1 << bit);
        // Type bits flipped to 0-RTT/Handshake: no token field there, so the token length byte (0)
        // reads as a Length of 0, which is invalid too.
        expectInvalid(parse([d]));
      }
    }
    const tag = Buffer.from(RFC_V1_INITIAL);
    tag[1199] = tag[1199]! ^ 0x80;
    expectInvalid(parse([tag]), /fails authentication/);
  });

  it('truncated at every length: invalid (a datagram does not grow), for both parsers', () => {
    for (let k = 0; k < RFC_V1_INITIAL.length; k++) {
      const d = RFC_V1_INITIAL.subarray(0, k);
      expectInvalid(parse([d]));
      expectInvalid(parseQuicLongHeader(d));
    }
  });

  it('short-header packets', () => {
    const short = Buffer.concat([hex('41'), CONN.dcid, Buffer.alloc(1191, 0x11)]);
    expectInvalid(parse([short]), /short header/);
    expectInvalid(parseQuicLongHeader(short), /short header/);
    expectInvalid(parse([Buffer.alloc(0)]), /empty datagram/);
    assert.deepEqual(parse([]), { kind: 'incomplete' });
  });

  it('a DCID or SCID longer than 20 bytes (v1/v2); up to 255 is fine for unknown versions (RFC 8999)', () => {
    const long = protectInitial({ version: QUIC_VERSION_1, dcid: Buffer.alloc(21, 1), scid: CONN.scid }, { pn: 0, payload: Buffer.concat([cryptoFrame(0, NODE20), Buffer.alloc(700)]) });
    expectInvalid(parseQuicLongHeader(long), /DCID length 21/);
    expectInvalid(parse([long]), /DCID length 21/);
    const scid = Buffer.concat([hex('c0 00000001 08'), CONN.dcid, hex('15'), Buffer.alloc(21), hex('00 4010'), Buffer.alloc(1200)]);
    expectInvalid(parseQuicLongHeader(scid), /SCID length 21/);
    const unknown = Buffer.concat([hex('c0 5a5a5a5a ff'), Buffer.alloc(255, 1), hex('ff'), Buffer.alloc(255, 2), Buffer.alloc(10)]);
    const h = expectOk(parseQuicLongHeader(unknown));
    assert.equal(h.dcid.length, 255);
    assert.equal(h.scid.length, 255);
  });

  it('a client DCID under 8 bytes, an Initial datagram under 1200 bytes (RFC 9000 §7.2, §14.1)', () => {
    const short: QuicConn = { ...CONN, dcid: hex('01020304050607') };
    expectInvalid(parse(clientInitialDatagrams(short, NODE20)), /DCID of 7 bytes/);
    expectInvalid(parse(clientInitialDatagrams(CONN, NODE20, { size: 1199 })), /under 1200/);
  });

  it('a token length or packet Length past the end of the datagram', () => {
    const token = Buffer.concat([hex('c0 00000001 08'), CONN.dcid, hex('00 44ff'), Buffer.alloc(1200 - 17)]);
    expectInvalid(parseQuicLongHeader(token), /token length past the end/);
    expectInvalid(parse([token]), /token length past the end/);
    const length = Buffer.concat([hex('c0 00000001 08'), CONN.dcid, hex('00 00 4fff'), Buffer.alloc(1200 - 18)]);
    expectInvalid(parse([length]), /past the end of the datagram/);
  });

  it('a ClientHello bigger than maxBytes: at its declared length, or at CRYPTO data beyond the cap', () => {
    const [a, b] = clientInitialDatagrams(CONN, CHROMIUM, { cuts: [900] }) as [Buffer, Buffer];
    expectInvalid(parse([a, b], 1000), /handshake length 1937 exceeds cap 1000/);
    expectInvalid(parse([a], 1000), /exceeds cap 1000/);
    expectInvalid(parse([b, a], 1000), /exceeds the 1004-byte limit/);
    expectOk(parse([a, b], 1937));
    expectInvalid(parse([a, b], 1936), /exceeds cap 1936/);
  });

  it('a handshake message that is not a ClientHello', () => {
    const serverHello = Buffer.from(NODE20);
    serverHello[0] = 2;
    expectInvalid(parse(clientInitialDatagrams(CONN, serverHello)), /handshake type 2 is not client_hello/);
    const broken = Buffer.from(NODE20);
    broken[4] = 0x02; // legacy_version major 2
    expectInvalid(parse(clientInitialDatagrams(CONN, broken)), /legacy_version/);
  });

  it('frames not allowed in an Initial (RFC 9000 §12.4 Table 3), an over-long frame type, no frames', () => {
    const cases: [string, Buffer][] = [
      ['STREAM', hex('08 00 01 61')],
      ['NEW_TOKEN', hex('07 01 61')],
      ['application CONNECTION_CLOSE 0x1d', hex('1d 00 00')],
      ['HANDSHAKE_DONE', hex('1e')],
      ['CRYPTO with a 2-byte frame type', Buffer.concat([hex('4006'), cryptoFrame(0, NODE20).subarray(1)])],
    ];
    for (const [name, frame] of cases) {
      const d = initialDatagram(CONN, [{ pn: 0, frames: Buffer.concat([cryptoFrame(0, NODE20), frame]) }]);
      expectInvalid(parse([d]), /not allowed in an Initial/);
      assert.ok(name);
    }
    const empty = protectInitial(CONN, { pn: 0, payload: Buffer.alloc(0), pnLength: 4 });
    expectInvalid(parse([Buffer.concat([empty, Buffer.alloc(1200 - empty.length)])]), /without frames/);
    const truncatedAck = initialDatagram(CONN, [{ pn: 0, frames: Buffer.concat([cryptoFrame(0, NODE20), hex('02 40')]) }], 0);
    expectInvalid(parse([Buffer.concat([truncatedAck, Buffer.alloc(1200 - truncatedAck.length)])]), /ACK/);
  });

  it('reserved header bits set after removing protection (RFC 9000 §17.2)', () => {
    for (const reservedBits of [1, 2, 3]) {
      const d = initialDatagram(CONN, [{ pn: 0, frames: cryptoFrame(0, NODE20), reservedBits }]);
      expectInvalid(parse([d]), /reserved bits/);
    }
  });

  it('CRYPTO data that contradicts earlier data, in the same packet or a later one', () => {
    const other = Buffer.from(NODE20.subarray(100, 200));
    other[5] = other[5]! ^ 0xff;
    const same = initialDatagram(CONN, [{ pn: 0, frames: Buffer.concat([cryptoFrame(0, NODE20.subarray(0, 300)), cryptoFrame(100, other)]) }]);
    expectInvalid(parse([same]), /differs from earlier data at offset 105/);
    const first = initialDatagram(CONN, [{ pn: 0, frames: cryptoFrame(0, NODE20.subarray(0, 300)) }]);
    const later = initialDatagram(CONN, [{ pn: 1, frames: cryptoFrame(100, other) }]);
    expectInvalid(parse([first, later]), /differs/);
    assert.deepEqual(parse([first]), { kind: 'incomplete' });
  });

  it('a Handshake or Retry packet first', () => {
    // Type bits 10: Handshake in v1 (no token field); Length covers the rest of the datagram.
    const hs = Buffer.concat([hex('e0 00000001 08'), CONN.dcid, hex('04'), CONN.scid, varint(1200 - 21), Buffer.alloc(1200 - 21, 0x5a)]);
    expectInvalid(parse([hs]), /first packet is handshake/);
    expectInvalid(parse([Buffer.concat([RFC_V1_RETRY, Buffer.alloc(1200 - 36)])]), /first packet is retry/);
  });
});

describe('parseQuicLongHeader', () => {
  it('packet types per version (RFC 9000 §17.2, RFC 9369 §3.2)', () => {
    const expected: Record<number, readonly string[]> = {
      [QUIC_VERSION_1]: ['initial', '0-rtt', 'handshake', 'retry'],
      [QUIC_VERSION_2]: ['retry', 'initial', '0-rtt', 'handshake'],
    };
    for (const version of [QUIC_VERSION_1, QUIC_VERSION_2]) {
      for (let bits = 0; bits < 4; bits++) {
        const v = Buffer.alloc(4);
        v.writeUInt32BE(version);
        // For every type: a zero-length token if it is an Initial, a Length of 20, 20 bytes.
        const type = expected[version]![bits];
        const body = type === 'retry' ? Buffer.alloc(20) : Buffer.concat([type === 'initial' ? hex('00') : Buffer.alloc(0), hex('14'), Buffer.alloc(20)]);
        const d = Buffer.concat([Buffer.from([0xc0 | (bits << 4)]), v, hex('04 01020304 00'), body]);
        const h = expectOk(parseQuicLongHeader(d));
        assert.equal(h.type, type, `version ${version.toString(16)} bits ${bits}`);
        assert.equal(h.packetLength, d.length);
      }
    }
  });

  it('coalesced packets can be walked with packetLength (RFC 9000 §12.2)', () => {
    const handshake = Buffer.concat([hex('e0 00000001 00 08 f067a5502a4262b5 14'), Buffer.alloc(20, 9)]);
    const datagram = Buffer.concat([RFC_V1_SERVER_INITIAL, handshake]);
    const first = expectOk(parseQuicLongHeader(datagram));
    const second = expectOk(parseQuicLongHeader(datagram.subarray(first.packetLength)));
    assert.equal(second.type, 'handshake');
    assert.equal(second.scidHex, 'f067a5502a4262b5');
    assert.equal(first.packetLength + second.packetLength, datagram.length);
  });

  it('the fixed bit is reported, not enforced (RFC 9287 lets it be 0)', () => {
    const d = Buffer.from(RFC_V1_INITIAL);
    d[0] = d[0]! & ~0x40;
    assert.equal(expectOk(parseQuicLongHeader(d)).fixedBit, false);
  });

  it('connection IDs and tokens are copies, not views into the datagram', () => {
    const conn = { ...CONN, token: hex('aabbcc') };
    const [d] = clientInitialDatagrams(conn, NODE20);
    const h = expectOk(parseQuicLongHeader(d!));
    const v = expectOk(parse([d!]));
    for (const x of [h.dcid, h.scid, h.token!, v.dcid, v.scid]) assert.notEqual(x.buffer, d!.buffer);
    d!.fill(0);
    assert.equal(Buffer.from(h.dcid).toString('hex'), '0011223344556677');
    assert.equal(Buffer.from(h.token!).toString('hex'), 'aabbcc');
    assert.equal(Buffer.from(v.scid).toString('hex'), 'a1a2a3a4');
  });

  it('does not modify its input', () => {
    const d = Buffer.from(RFC_V1_INITIAL);
    parse([d]);
    parseQuicLongHeader(d);
    assert.deepEqual(d, RFC_V1_INITIAL);
  });
});

test('timing: decrypt + parse one Initial (reported, not asserted)', (t) => {
  const run = (n: number, f: (i: number) => void): number => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) f(i);
    return Number(process.hrtime.bigint() - start) / n / 1000;
  };
  run(200, () => parse([RFC_V1_INITIAL]));
  const cached = run(1000, () => parse([RFC_V1_INITIAL]));
  // Fresh DCIDs: key derivation every time (5 HMAC-SHA256).
  const fresh = Array.from({ length: 300 }, (_, i) => {
    const dcid = Buffer.alloc(8);
    dcid.writeUInt32BE(0x51000000 + i, 0);
    return clientInitialDatagrams({ ...CONN, dcid }, NODE20)[0]!;
  });
  const uncached = run(fresh.length, (i) => parse([fresh[i]!]));
  const chromium = clientInitialDatagrams(CONN, CHROMIUM, { cuts: [1100] });
  const two = run(500, () => parse(chromium));
  const header = run(5000, () => parseQuicLongHeader(RFC_V1_INITIAL));
  t.diagnostic(`parseQuicClientHello, 1 Initial, keys cached: ${cached.toFixed(1)} µs; keys derived: ${uncached.toFixed(1)} µs; 2 datagrams (Chromium PQ): ${two.toFixed(1)} µs; parseQuicLongHeader: ${header.toFixed(2)} µs`);
});
