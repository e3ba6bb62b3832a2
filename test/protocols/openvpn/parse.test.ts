import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseOpenVpnTcp, parseOpenVpnUdp, type OpenVpnTcpReset, type OpenVpnResetOpcode } from '../../../src/protocols/openvpn/parse.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { firstInvalidAt, fuzzParser } from '../../helpers/fuzz.js';

const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

const SID = '0123456789abcdef';

/** TCP framing: 2-byte big-endian length, then the packet (opcode|key_id, session_id, rest). */
function framed(opByte: number, rest: Buffer, sid = SID): Buffer {
  const packet = Buffer.concat([Buffer.from([opByte]), Buffer.from(sid, 'hex'), rest]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(packet.length);
  return Buffer.concat([len, packet]);
}

function reset(opcode: OpenVpnResetOpcode, packetLength: number, sessionId = SID): ParseResult<OpenVpnTcpReset> {
  return ok({ opcode, keyId: 0, sessionId, packetLength }, 2 + packetLength);
}

const V2 = 'P_CONTROL_HARD_RESET_CLIENT_V2';
const V3 = 'P_CONTROL_HARD_RESET_CLIENT_V3';

// --- accepted, built byte by byte (ssl_pkt.h opcodes; layout in src/protocols/openvpn.ts) ---

test('unwrapped P_CONTROL_HARD_RESET_CLIENT_V2: length 14 = opcode 0x38 (7 << 3 | key_id 0), session id, ack len 0, packet id 0', () => {
  const bytes = hex('000e 38 0123456789abcdef 00 00000000');
  assert.deepEqual(bytes, framed(0x38, hex('00 00000000')));
  assertSameForEveryDelivery(parseOpenVpnTcp, bytes, reset(V2, 14));
});

test('tls-auth V2 reset: session id, 20-byte HMAC (SHA1), replay packet id + time, ack len 0, packet id', () => {
  const bytes = framed(0x38, hex('00112233445566778899aabbccddeeff00112233  00000001 6b035f28  00  00000000'));
  assert.equal(bytes.length, 2 + 42);
  assertSameForEveryDelivery(parseOpenVpnTcp, bytes, reset(V2, 42));
});

test('P_CONTROL_HARD_RESET_CLIENT_V3 (tls-crypt-v2): opcode 0x50 (10 << 3), length 336..1278', () => {
  const min = framed(0x50, Buffer.alloc(336 - 9, 0xa5));
  assertSameForEveryDelivery(parseOpenVpnTcp, min, reset(V3, 336));
  const max = framed(0x50, Buffer.alloc(1278 - 9, 0x5a));
  assertSameForEveryDelivery(parseOpenVpnTcp, max, reset(V3, 1278));
});

test('V2 length bounds 14..255 (OpenVPN ps.c is_openvpn_protocol)', () => {
  assertSameForEveryDelivery(parseOpenVpnTcp, framed(0x38, Buffer.alloc(255 - 9, 0x11)), reset(V2, 255));
  assertSameForEveryDelivery(parseOpenVpnTcp, framed(0x38, Buffer.alloc(38 - 9, 0x11)), reset(V2, 38));
});

test('bytes after the packet are not part of it', () => {
  const bytes = Buffer.concat([hex('000e 38 0123456789abcdef 00 00000000'), hex('000e 38 ffff')]);
  assertSameForEveryDelivery(parseOpenVpnTcp, bytes, reset(V2, 14));
});

// --- recorded from OpenVPN 2.6.14 (see test/fixtures/README.md) ---

const RECORDED: readonly (readonly [string, OpenVpnResetOpcode, number])[] = [
  ['openvpn-tcp-reset-v2.bin', V2, 14],
  ['openvpn-tcp-tls-auth-reset-v2.bin', V2, 42],
  ['openvpn-tcp-tls-crypt-reset-v2.bin', V2, 54],
  ['openvpn-tcp-tls-crypt-v2-reset-v3.bin', V3, 353],
];

for (const [name, opcode, packetLength] of RECORDED) {
  test(`recorded: ${name}`, () => {
    const bytes = fixture(name);
    assert.equal(bytes.length, 2 + packetLength);
    const sessionId = bytes.subarray(3, 11).toString('hex');
    assertSameForEveryDelivery(parseOpenVpnTcp, bytes, reset(opcode, packetLength, sessionId));
  });
}

// --- invalid ---

test('packet lengths in neither range are invalid at the second byte', () => {
  for (const len of [0, 1, 13, 256, 300, 335, 1279, 1500, 0xffff]) {
    const bytes = Buffer.concat([Buffer.from([len >> 8, len & 0xff, 0x38]), Buffer.alloc(20)]);
    assertSameForEveryDelivery(parseOpenVpnTcp, bytes, invalid('implausible OpenVPN packet length'));
    assert.equal(firstInvalidAt(parseOpenVpnTcp, bytes), 2);
  }
  // other protocols' first bytes read as lengths: TLS (0x1603), HTTP ("GE"), SSH ("SS")
  for (const other of [hex('16 03 01 02 00 01'), Buffer.from('GET / HTTP/1.1\r\n'), Buffer.from('SSH-2.0-x\r\n')]) {
    assert.equal(firstInvalidAt(parseOpenVpnTcp, other), 2);
  }
});

test('a length valid only for the other opcode is invalid at the opcode byte', () => {
  const v2Long = framed(0x38, Buffer.alloc(336 - 9));
  assertSameForEveryDelivery(parseOpenVpnTcp, v2Long, invalid('packet length out of range for P_CONTROL_HARD_RESET_CLIENT_V2'));
  assert.equal(firstInvalidAt(parseOpenVpnTcp, v2Long), 3);
  const v3Short = framed(0x50, Buffer.alloc(200 - 9));
  assertSameForEveryDelivery(parseOpenVpnTcp, v3Short, invalid('packet length out of range for P_CONTROL_HARD_RESET_CLIENT_V3'));
  assert.equal(firstInvalidAt(parseOpenVpnTcp, v3Short), 3);
});

test('other opcodes (V1 reset, server resets, control, ack, data) are invalid at the opcode byte', () => {
  // opcode << 3: 1 HARD_RESET_CLIENT_V1, 2 SERVER_V1, 3 SOFT_RESET, 4 CONTROL_V1, 5 ACK_V1, 6 DATA_V1,
  // 8 HARD_RESET_SERVER_V2, 9 DATA_V2, 11 CONTROL_WKC_V1, 0 and 31 unassigned
  for (const op of [0, 1, 2, 3, 4, 5, 6, 8, 9, 11, 31]) {
    const bytes = framed(op << 3, hex('00 00000000'));
    assertSameForEveryDelivery(parseOpenVpnTcp, bytes, invalid('not an OpenVPN client hard reset'));
    assert.equal(firstInvalidAt(parseOpenVpnTcp, bytes), 3);
  }
});

test('a hard reset with key_id != 0 is invalid', () => {
  for (const keyId of [1, 2, 7]) {
    assertSameForEveryDelivery(parseOpenVpnTcp, framed(0x38 | keyId, hex('00 00000000')), invalid('hard reset with a non-zero key_id'));
    assertSameForEveryDelivery(parseOpenVpnTcp, framed(0x50 | keyId, Buffer.alloc(400 - 9)), invalid('hard reset with a non-zero key_id'));
  }
});

test('truncated, then garbage: an unwrapped reset (length < 38) whose ack array length is not 0', () => {
  const bytes = hex('000e 38 0123456789abcdef 05 00000000');
  assertSameForEveryDelivery(parseOpenVpnTcp, bytes, invalid('unwrapped hard reset acknowledges packets'));
  assert.equal(firstInvalidAt(parseOpenVpnTcp, bytes), 12);
  // at 38 and above the byte is HMAC material and is not looked at
  const wrapped = framed(0x38, Buffer.concat([hex('05'), Buffer.alloc(38 - 10)]));
  assertSameForEveryDelivery(parseOpenVpnTcp, wrapped, reset(V2, 38));
});

test('prefixes are incomplete, with needed', () => {
  // The length field and the opcode byte can each refuse the packet: no `needed` before they are in
  // (test/inspect/needed-promise.test.ts: an RDP request split after 03 00 waited for the deadline).
  assert.deepEqual(parseOpenVpnTcp(new Uint8Array(0)), incomplete());
  assert.deepEqual(parseOpenVpnTcp(hex('00')), incomplete());
  assert.deepEqual(parseOpenVpnTcp(hex('000e')), incomplete());
  // An unwrapped reset's ack byte can still refuse it.
  assert.deepEqual(parseOpenVpnTcp(hex('000e 38 0123456789abcdef')), incomplete());
  assert.deepEqual(parseOpenVpnTcp(hex('002a 38 0123')), incomplete(44));
  assert.deepEqual(parseOpenVpnTcp(hex('0161 50')), incomplete(355));
  assert.deepEqual(parseOpenVpnTcp(hex('000e 38 0123456789abcdef 00 000000')), incomplete(16));
});

test('fuzz: ~20k random and mutated inputs never throw and stay consistent', () => {
  const seeds = RECORDED.map(([name]) => fixture(name));
  const stats = fuzzParser(parseOpenVpnTcp, seeds, {
    iterations: 20000,
    seed: 0x0b3e,
    mutate: { interesting: [0x00, 0x01, 0x07, 0x0e, 0x38, 0x39, 0x50, 0xff], maxEdits: 3 },
    // half the random inputs get a plausible length and opcode in front
    shape: (input, { random, rng }) => {
      if (!random || rng() < 0.5) return input;
      const v3 = rng() < 0.3;
      const len = v3 ? 336 + Math.floor(rng() * 943) : 14 + Math.floor(rng() * 242);
      return Buffer.concat([Buffer.from([len >> 8, len & 0xff, v3 ? 0x50 : 0x38]), input]);
    },
    maxRandomLength: 400,
    check: (input, r) => {
      if (r.kind !== 'ok') return;
      const v = r.value;
      assert.equal(r.length, 2 + v.packetLength);
      assert.equal(v.keyId, 0);
      assert.match(v.sessionId, /^[0-9a-f]{16}$/);
      assert.equal(v.sessionId, input.subarray(3, 11).toString('hex'));
      if (v.opcode === V2) assert.ok(v.packetLength >= 14 && v.packetLength <= 255);
      else assert.ok(v.packetLength >= 336 && v.packetLength <= 1278);
    },
  });
  assert.ok(stats.ok > 0 && stats.incomplete > 0 && stats.invalid > 0, JSON.stringify(stats));
});

// --- UDP: one datagram = one packet, no length prefix (parseOpenVpnUdp) ---

function datagram(opByte: number, rest: Buffer, sid = SID): Buffer {
  return Buffer.concat([Buffer.from([opByte]), Buffer.from(sid, 'hex'), rest]);
}

function udpReset(opcode: OpenVpnResetOpcode, packetLength: number, sessionId = SID): ReturnType<typeof parseOpenVpnUdp> {
  return ok({ opcode, keyId: 0, sessionId, packetLength }, packetLength);
}

const RECORDED_UDP: readonly (readonly [string, OpenVpnResetOpcode, number])[] = [
  ['openvpn-udp-reset-v2.bin', V2, 14],
  ['openvpn-udp-tls-auth-reset-v2.bin', V2, 42],
  ['openvpn-udp-tls-crypt-reset-v2.bin', V2, 54],
  ['openvpn-udp-tls-crypt-v2-reset-v3.bin', V3, 353],
];

for (const [name, opcode, packetLength] of RECORDED_UDP) {
  test(`UDP recorded: ${name}`, () => {
    const bytes = fixture(name);
    assert.equal(bytes.length, packetLength);
    const sessionId = bytes.subarray(1, 9).toString('hex');
    assert.deepEqual(parseOpenVpnUdp(bytes), udpReset(opcode, packetLength, sessionId));
    // the same packet over TCP is the same reset, 2 bytes further on
    const tcp = Buffer.concat([Buffer.from([packetLength >> 8, packetLength & 0xff]), bytes]);
    assert.deepEqual(parseOpenVpnTcp(tcp), reset(opcode, packetLength, sessionId));
  });
}

test('UDP: the bounds of both opcodes are the TCP ones, on the datagram length', () => {
  for (const n of [14, 37, 38, 255]) assert.deepEqual(parseOpenVpnUdp(datagram(0x38, Buffer.alloc(n - 9))), udpReset(V2, n));
  for (const n of [336, 1278]) assert.deepEqual(parseOpenVpnUdp(datagram(0x50, Buffer.alloc(n - 9, 0xa5))), udpReset(V3, n));
  for (const n of [256, 335, 1279, 1500]) assert.deepEqual(parseOpenVpnUdp(datagram(0x38, Buffer.alloc(n - 9))), invalid('implausible OpenVPN packet length'));
  assert.deepEqual(parseOpenVpnUdp(datagram(0x38, Buffer.alloc(336 - 9))), invalid('packet length out of range for P_CONTROL_HARD_RESET_CLIENT_V2'));
  assert.deepEqual(parseOpenVpnUdp(datagram(0x50, Buffer.alloc(200 - 9))), invalid('packet length out of range for P_CONTROL_HARD_RESET_CLIENT_V3'));
});

test('UDP: the same invalid reasons as TCP (shared checks): opcodes, key_id, acks', () => {
  for (const op of [0, 1, 2, 3, 4, 5, 6, 8, 9, 11, 31]) {
    assert.deepEqual(parseOpenVpnUdp(datagram(op << 3, hex('00 00000000'))), invalid('not an OpenVPN client hard reset'));
  }
  for (const keyId of [1, 7]) assert.deepEqual(parseOpenVpnUdp(datagram(0x38 | keyId, hex('00 00000000'))), invalid('hard reset with a non-zero key_id'));
  assert.deepEqual(parseOpenVpnUdp(datagram(0x38, hex('05 00000000'))), invalid('unwrapped hard reset acknowledges packets'));
  // the P_DATA_V2 a connected client sends after the flow table forgot it
  assert.deepEqual(parseOpenVpnUdp(Buffer.concat([hex('48 000001'), Buffer.alloc(60)])), invalid('not an OpenVPN client hard reset'));
});

test('UDP: every truncation of the 14-byte reset is "truncated"; a cut wrapped reset is judged by its own length', () => {
  const plain = fixture('openvpn-udp-reset-v2.bin');
  for (let k = 0; k < plain.length; k++) {
    assert.deepEqual(parseOpenVpnUdp(plain.subarray(0, k)), invalid(`truncated: ${k} bytes, shorter than the smallest OpenVPN hard reset (14)`));
  }
  // Below 14: truncated. 14..37: unwrapped, so the ack length byte (HMAC material here) decides.
  // 38 and up: a wrapped reset of that length, indistinguishable from the real one cut short (V3: 336 up).
  for (const name of ['openvpn-udp-tls-auth-reset-v2.bin', 'openvpn-udp-tls-crypt-reset-v2.bin', 'openvpn-udp-tls-crypt-v2-reset-v3.bin']) {
    const b = fixture(name);
    for (let k = 0; k < b.length; k++) {
      const r = parseOpenVpnUdp(b.subarray(0, k));
      assert.notEqual(r.kind, 'incomplete');
      if (k < 14) assert.deepEqual(r, invalid(`truncated: ${k} bytes, shorter than the smallest OpenVPN hard reset (14)`));
      else if (r.kind === 'ok') assert.equal(r.length, k);
      if (k >= 38 && k <= 255 && b[0] === 0x38) assert.equal(r.kind, 'ok', `${name} cut at ${k}`);
      if (b[0] === 0x50 && k >= 14) assert.equal(r.kind, k >= 336 ? 'ok' : 'invalid', `${name} cut at ${k}`);
    }
  }
});

test('UDP fuzz: ~15k random and mutated datagrams never throw, never answer incomplete', () => {
  const seeds = RECORDED_UDP.map(([name]) => fixture(name));
  const stats = fuzzParser(parseOpenVpnUdp, seeds, {
    iterations: 15000,
    seed: 0x0b3f,
    datagram: true,
    prefixEvery: 25,
    mutate: { interesting: [0x00, 0x01, 0x07, 0x38, 0x39, 0x50, 0xff], maxEdits: 3 },
    shape: (input, { random, rng }) => (random && rng() < 0.5 ? Buffer.concat([Buffer.from([rng() < 0.3 ? 0x50 : 0x38]), input]) : input),
    maxRandomLength: 400,
    check: (input, r) => {
      if (r.kind !== 'ok') return;
      assert.equal(r.value.packetLength, input.length);
      assert.equal(r.value.sessionId, input.subarray(1, 9).toString('hex'));
    },
  });
  assert.ok(stats.ok > 100 && stats.invalid > 100 && stats.incomplete === 0, JSON.stringify(stats));
});
