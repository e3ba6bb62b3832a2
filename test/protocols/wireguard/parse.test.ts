import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWireGuardInitiation, WIREGUARD_INITIATION_LENGTH, type WireGuardInitiation } from '../../../src/protocols/wireguard/parse.js';
import { invalid, ok } from '../../../src/protocols/result.js';
import { fuzzParser, mulberry32, randomBytes } from '../../helpers/fuzz.js';

// No WireGuard client can run here (a handshake needs an interface), so initiations are built from the
// whitepaper's §5.4.2 layout; see test/fixtures/README.md.

const rng = mulberry32(0x3c6ef372);

/** type 1, reserved 0 0 0, sender index (LE), ephemeral 32, static 48, timestamp 28, mac1 16, mac2 16. */
function initiation(senderIndex: number, mac2: Buffer = Buffer.alloc(16)): Buffer {
  const head = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
  head.writeUInt32LE(senderIndex, 4);
  const b = Buffer.concat([head, randomBytes(rng, 32), randomBytes(rng, 48), randomBytes(rng, 28), randomBytes(rng, 16), mac2]);
  assert.equal(b.length, 148);
  return b;
}

function accepted(v: WireGuardInitiation): ReturnType<typeof ok<WireGuardInitiation>> {
  return ok(v, WIREGUARD_INITIATION_LENGTH);
}

test('handshake initiation: 148 bytes, sender index little-endian, mac2 zero (no cookie)', () => {
  const b = initiation(0x78563412);
  assert.equal(b.subarray(4, 8).toString('hex'), '12345678');
  assert.deepEqual(parseWireGuardInitiation(b), accepted({ senderIndex: 0x78563412, hasCookie: false }));
  assert.deepEqual(parseWireGuardInitiation(initiation(0)), accepted({ senderIndex: 0, hasCookie: false }));
  assert.deepEqual(parseWireGuardInitiation(initiation(0xffffffff)), accepted({ senderIndex: 0xffffffff, hasCookie: false }));
});

test('an initiation retried with a cookie (§5.4.7): mac2 is not zero', () => {
  const mac2 = Buffer.alloc(16);
  mac2[15] = 1;
  assert.deepEqual(parseWireGuardInitiation(initiation(7, mac2)), accepted({ senderIndex: 7, hasCookie: true }));
  assert.deepEqual(parseWireGuardInitiation(initiation(7, randomBytes(rng, 16))), accepted({ senderIndex: 7, hasCookie: true }));
});

test('a datagram inside a larger receive buffer answers the same', () => {
  const b = initiation(42);
  const big = Buffer.concat([Buffer.from([1, 0, 0, 0]), b, Buffer.from([0xff])]);
  assert.deepEqual(parseWireGuardInitiation(big.subarray(4, 4 + 148)), accepted({ senderIndex: 42, hasCookie: false }));
});

test('every truncation (0..147 bytes) is invalid, "truncated"', () => {
  const b = initiation(1);
  for (let k = 0; k < 148; k++) {
    assert.deepEqual(parseWireGuardInitiation(b.subarray(0, k)), invalid(`truncated: ${k} of the 148 bytes of a WireGuard handshake initiation`));
  }
});

test('longer than 148 bytes is invalid', () => {
  const b = Buffer.concat([initiation(1), Buffer.alloc(1)]);
  assert.deepEqual(parseWireGuardInitiation(b), invalid('149 bytes: a WireGuard handshake initiation is exactly 148'));
});

test('response (2, 92 bytes), cookie reply (3, 64 bytes), transport data (4) are not first datagrams', () => {
  const msg = (type: number, n: number): Buffer => Buffer.concat([Buffer.from([type, 0, 0, 0]), randomBytes(rng, n - 4)]);
  assert.deepEqual(parseWireGuardInitiation(msg(2, 92)), invalid("a WireGuard handshake response (type 2), sent by the responder: never an initiator's first datagram"));
  assert.deepEqual(parseWireGuardInitiation(msg(3, 64)), invalid("a WireGuard cookie reply (type 3), sent by the responder: never an initiator's first datagram"));
  assert.deepEqual(parseWireGuardInitiation(msg(4, 32)), invalid('WireGuard transport data (type 4) of an existing session: not a first datagram'));
  assert.deepEqual(parseWireGuardInitiation(msg(4, 148)), invalid('WireGuard transport data (type 4) of an existing session: not a first datagram'));
  for (const type of [0, 5, 0x16, 0xff]) assert.deepEqual(parseWireGuardInitiation(msg(type, 148)), invalid(`not a WireGuard message (type byte ${type})`));
});

test('reserved bytes must be zero, each one', () => {
  for (const at of [1, 2, 3]) {
    const b = initiation(1);
    b[at] = 0x01;
    assert.deepEqual(parseWireGuardInitiation(b), invalid('WireGuard reserved bytes are not zero'));
    assert.deepEqual(parseWireGuardInitiation(b.subarray(0, at + 1)), invalid('WireGuard reserved bytes are not zero'));
  }
});

test('fuzz: ~10k random and mutated datagrams never throw, never answer incomplete', () => {
  const seeds = [initiation(1), initiation(0xdeadbeef, randomBytes(rng, 16))];
  const stats = fuzzParser(parseWireGuardInitiation, seeds, {
    iterations: 10000,
    seed: 0x3d6,
    datagram: true,
    maxRandomLength: 200,
    mutate: { interesting: [0x00, 0x01, 0x02, 0x03, 0x04, 0xff], maxEdits: 2 },
    check: (input, r) => {
      if (r.kind !== 'ok') return;
      assert.equal(input.length, 148);
      assert.equal(r.value.senderIndex, input.readUInt32LE(4));
      assert.equal(r.value.hasCookie, !input.subarray(132).equals(Buffer.alloc(16)));
    },
  });
  assert.ok(stats.ok > 100 && stats.invalid > 1000 && stats.incomplete === 0, JSON.stringify(stats));
});
