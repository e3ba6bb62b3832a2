/**
 * Property tests for parseQuicClientHello / parseQuicLongHeader (src/protocols/quic-initial.ts).
 *
 * These parsers have datagram semantics (a datagram never grows; a flow grows by whole datagrams),
 * so the byte-stream properties of support.ts's parserProperties do not apply as they are. The
 * contract checked here instead, on random, mutated and re-encrypted inputs:
 *  - never throws; answers ok / incomplete / invalid;
 *  - parseQuicClientHello: ok length is the number of datagrams consumed (1..n), those alone give
 *    the same ok, and more datagrams never change an ok or an invalid; incomplete has no `needed`;
 *    along the prefixes of the datagram list the answer is incomplete until one final answer;
 *  - oracle: a (mutated) TLS message wrapped in correctly protected Initials answers what
 *    parseClientHelloMessage answers on the message, whatever the fragmentation and order;
 *  - parseQuicLongHeader: ok length = packetLength within the datagram, connection IDs within their
 *    bounds and copies; both parsers read nothing outside their view and never write their input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseQuicClientHello, parseQuicLongHeader, QUIC_VERSION_1, QUIC_VERSION_2, type QuicClientHello } from '../../src/protocols/quic/initial.js';
import type { ParseResult } from '../../src/protocols/result.js';
import { parseClientHelloMessage } from '../../src/protocols/tls/client-hello.js';
import { ackFrame, clientInitialDatagrams, cryptoFrame, handshakeOfRecord, initialDatagram, type QuicConn } from '../helpers/quic-initial-builder.js';
import { chromium, node20 } from './corpora.js';
import { applyMutations, check, checkPoisoned, checkStrictReads, fc, hexOf, mutatedArb, mutationArb } from './support.js';
import { readFileSync } from 'node:fs';

const hexFixture = (name: string): Buffer =>
  Buffer.from(readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url), 'latin1').replace(/\s+/g, ''), 'hex');

const RFC_V1 = hexFixture('quic-rfc9001-a2-client-initial.hex');
const RFC_V2 = hexFixture('quic-rfc9369-a2-client-initial.hex');
const RFC_SERVER = hexFixture('quic-rfc9001-a3-server-initial.hex');
const CHROMIUM = handshakeOfRecord(chromium);
/** RFC 9001 A.2 / RFC 9369 A.2: the ClientHello message carried by the client Initial's CRYPTO frame. */
const RFC_MESSAGE = Buffer.from(
  `010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c000004130113020100
  00c000000010000e00000b6578616d706c652e636f6dff01000100000a00080006001d0017001800100007000504616c
  706e000500050100000000003300260024001d00209370b2c9caa47fbabaf4559fedba753de171fa71f50f1ce15d43e9
  94ec74d748002b0003020304000d0010000e0403050306030203080408050806002d00020101001c0002400100390032
  0408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e51570806048000ffff`.replace(/\s+/g, ''),
  'hex',
);
const NODE20 = handshakeOfRecord(node20);

const CONN: QuicConn = { version: QUIC_VERSION_1, dcid: Buffer.from('0011223344556677', 'hex'), scid: Buffer.from('a1a2a3a4', 'hex') };
const CONN_V2: QuicConn = { version: QUIC_VERSION_2, dcid: Buffer.from('f0e1d2c3b4a5968778695a4b3c2d1e0f', 'hex'), scid: new Uint8Array(0), token: Buffer.from('tok') };

/** Valid flows (each answers ok): RFC packets, one- and multi-datagram builder output. */
const FLOWS: readonly (readonly Buffer[])[] = [
  [RFC_V1],
  [RFC_V2],
  clientInitialDatagrams(CONN, NODE20),
  clientInitialDatagrams(CONN, CHROMIUM, { cuts: [1100] }),
  clientInitialDatagrams(CONN_V2, CHROMIUM, { cuts: [600, 1300] }),
  clientInitialDatagrams(CONN_V2, CHROMIUM, { cuts: [900], coalesce: 2 }),
];

const QUIC_INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x06, 0x08, 0x14, 0x15, 0x1c, 0x40, 0x44, 0x80, 0xc0, 0xc3, 0xd3, 0xff];
const MAX = 16384;

type Flow = readonly Uint8Array[];

function call(datagrams: Flow, cap: number): ParseResult<QuicClientHello> {
  try {
    return parseQuicClientHello(datagrams, cap);
  } catch (e) {
    assert.fail(`parseQuicClientHello threw ${String(e)} on ${datagrams.map((d) => hexOf(d).slice(0, 200)).join(' | ')}`);
  }
}

/** The flow contract (see the top of this file); returns the answer on the whole flow. */
function checkFlow(datagrams: Flow, cap: number, extra: Flow): ParseResult<QuicClientHello> {
  const r = call(datagrams, cap);
  const more = call([...datagrams, ...extra], cap);
  switch (r.kind) {
    case 'ok':
      assert.ok(Number.isInteger(r.length) && r.length >= 1 && r.length <= datagrams.length, `ok length ${r.length} of ${datagrams.length}`);
      assert.equal(r.value.datagrams, r.length);
      assert.ok(r.value.dcid.length >= 8 && r.value.dcid.length <= 20 && r.value.scid.length <= 20);
      assert.ok(r.value.version === QUIC_VERSION_1 || r.value.version === QUIC_VERSION_2);
      assert.deepEqual(call(datagrams.slice(0, r.length), cap), r, 'the consumed datagrams alone answer differently');
      assert.deepEqual(more, r, 'more datagrams changed an ok');
      break;
    case 'incomplete':
      assert.equal(r.needed, undefined);
      break;
    case 'invalid':
      assert.ok(r.reason.length > 0);
      assert.deepEqual(more, r, 'more datagrams changed an invalid');
      break;
    default:
      assert.fail(`unknown answer ${JSON.stringify(r)}`);
  }
  // Along the prefixes: incomplete, then one final answer that never changes.
  let final: ParseResult<QuicClientHello> | undefined;
  for (let k = 0; k <= datagrams.length; k++) {
    const a = k === datagrams.length ? r : call(datagrams.slice(0, k), cap);
    if (final !== undefined) assert.deepEqual(a, final, `prefix of ${k} datagrams moved from a final answer`);
    else if (a.kind !== 'incomplete') final = a;
  }
  return r;
}

const capArb = fc.oneof(fc.constant(MAX), fc.integer({ min: 0, max: 4000 }), fc.constant(-1));
const extraArb = fc.array(fc.oneof(fc.constantFrom(...FLOWS.flat()), fc.uint8Array({ maxLength: 1300 }).map((b) => Buffer.from(b))), { minLength: 1, maxLength: 2 });

/** A flow edited at the datagram level: reordered, duplicated, dropped, with one datagram mutated. */
const mutatedFlowArb: fc.Arbitrary<Buffer[]> = fc
  .tuple(
    fc.constantFrom(...FLOWS),
    fc.array(fc.nat(), { maxLength: 5 }),
    fc.nat(),
    fc.array(mutationArb(QUIC_INTERESTING), { minLength: 0, maxLength: 4 }),
  )
  .map(([flow, picks, which, muts]) => {
    // `picks` chooses datagrams of the flow (any order, repeats); empty keeps the flow as is.
    const chosen = picks.length === 0 ? flow.slice() : picks.map((p) => flow[p % flow.length]!);
    const out: Buffer[] = chosen.map((d) => Buffer.from(d));
    if (out.length > 0 && muts.length > 0) {
      const i = which % out.length;
      out[i] = applyMutations(out[i]!, muts);
    }
    return out;
  });

describe('parseQuicClientHello: properties', () => {
  it('every corpus flow is accepted (the corpus is not stale)', () => {
    for (const f of FLOWS) assert.equal(call(f, MAX).kind, 'ok');
  });

  it('never throws on arbitrary datagrams and keeps the flow contract (seed 4100)', () => {
    // Half of them start like a v1/v2 Initial so the decryption paths are reached.
    const header = fc.constantFrom(RFC_V1.subarray(0, 18), RFC_V2.subarray(0, 18), Buffer.alloc(0));
    const datagram = fc.tuple(header, fc.uint8Array({ maxLength: 1400 })).map(([h, b]) => Buffer.concat([h, b]));
    check(
      fc.property(fc.array(datagram, { maxLength: 4 }), capArb, extraArb, (flow, cap, extra) => {
        checkFlow(flow, cap, extra);
      }),
      4100,
      150,
    );
  });

  it('never throws on mutated, reordered, duplicated flows and keeps the flow contract (seed 4101)', () => {
    check(
      fc.property(mutatedFlowArb, capArb, extraArb, (flow, cap, extra) => {
        checkFlow(flow, cap, extra);
      }),
      4101,
      300,
    );
  });

  it('a mutated TLS message in correctly protected Initials answers what parseClientHelloMessage answers (seed 4102)', () => {
    const messageArb = fc.oneof(
      fc.constantFrom(NODE20, CHROMIUM, RFC_MESSAGE),
      mutatedArb([NODE20, CHROMIUM, RFC_MESSAGE], [0x00, 0x01, 0x02, 0x03, 0x04, 0x10, 0x2b, 0xfe, 0xff], 4),
    );
    check(
      fc.property(
        messageArb,
        fc.constantFrom(CONN, CONN_V2),
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.boolean(),
        fc.integer({ min: 0, max: MAX }),
        (message, conn, rawCuts, reverse, cap) => {
          const cuts = [...new Set(rawCuts.map((c) => c % (message.length + 1)))].sort((a, b) => a - b);
          const datagrams = clientInitialDatagrams(conn, message, { cuts });
          if (reverse) datagrams.reverse();
          const r = checkFlow(datagrams, cap, [datagrams[0]!]);
          if (message.length > 4 + cap) return; // CRYPTO data beyond the cap: invalid on the QUIC side only
          const tls = parseClientHelloMessage(message, cap);
          if (tls.kind === 'ok') {
            assert.equal(r.kind, 'ok', JSON.stringify(r));
            assert.deepEqual((r as { value: QuicClientHello }).value.hello, tls.value);
          } else if (tls.kind === 'invalid') {
            assert.deepEqual(r, tls);
          } else {
            assert.deepEqual(r, { kind: 'incomplete' });
          }
        },
      ),
      4102,
      250,
    );
  });

  it('random frames around the CRYPTO data, correctly protected: never throws, keeps the contract (seed 4103)', () => {
    const frameBytes = fc.array(fc.oneof(fc.constantFrom(...QUIC_INTERESTING), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }).map((a) => Buffer.from(a));
    check(
      fc.property(frameBytes, frameBytes, fc.boolean(), (before, after, ack) => {
        const frames = Buffer.concat([ack ? ackFrame(1, true) : Buffer.alloc(0), before, cryptoFrame(0, NODE20), after]);
        checkFlow([initialDatagram(CONN, [{ pn: 0, frames }])], MAX, [RFC_V1]);
      }),
      4103,
      300,
    );
  });

  it('reads nothing outside its view and never writes its input (seed 4104)', () => {
    const parseOne = (b: Uint8Array): ParseResult<QuicClientHello> => parseQuicClientHello([b], MAX);
    const one = mutatedFlowArb.map((f) => f[0] ?? Buffer.alloc(0));
    check(
      fc.property(one, fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.integer({ min: 0, max: 64 }), fc.boolean(), (d, poison, before, asBuffer) => {
        checkPoisoned(parseOne, d, undefined, poison, before, asBuffer);
        checkStrictReads(parseOne, d, undefined);
      }),
      4104,
      100,
    );
  });
});

const LONG_HEADER_CORPUS: readonly Buffer[] = [
  RFC_V1,
  RFC_V2,
  RFC_SERVER,
  Buffer.from('ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba', 'hex'),
  Buffer.from('80000000000401020304080011223344556677000000016b3343cf', 'hex'),
  Buffer.concat([RFC_SERVER, Buffer.from('e00000000100 08 f067a5502a4262b5 14'.replace(/\s+/g, ''), 'hex'), Buffer.alloc(20, 9)]),
];

describe('parseQuicLongHeader: properties', () => {
  it('every corpus datagram is accepted', () => {
    for (const d of LONG_HEADER_CORPUS) assert.equal(parseQuicLongHeader(d).kind, 'ok', hexOf(d).slice(0, 60));
  });

  it('random and mutated datagrams: never throws, ok within bounds, copies (seed 4110)', () => {
    const input = fc.oneof(mutatedArb(LONG_HEADER_CORPUS, QUIC_INTERESTING), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)));
    check(
      fc.property(input, (d) => {
        let r: ReturnType<typeof parseQuicLongHeader>;
        try {
          r = parseQuicLongHeader(d);
        } catch (e) {
          assert.fail(`threw ${String(e)} on ${hexOf(d)}`);
        }
        if (r.kind === 'incomplete') assert.fail('a datagram is never incomplete');
        if (r.kind === 'invalid') {
          assert.ok(r.reason.length > 0);
          return;
        }
        const h = r.value;
        assert.equal(r.length, h.packetLength);
        assert.ok(h.packetLength >= 7 && h.packetLength <= d.length);
        const limit = h.version === QUIC_VERSION_1 || h.version === QUIC_VERSION_2 ? 20 : 255;
        assert.ok(h.dcid.length <= limit && h.scid.length <= limit);
        assert.equal(Buffer.from(h.dcid).toString('hex'), h.dcidHex);
        assert.equal(h.dcidHex, d.subarray(6, 6 + h.dcid.length).toString('hex'));
        assert.notEqual(h.dcid.buffer, d.buffer);
        // The accepted packet alone answers the same.
        assert.deepEqual(parseQuicLongHeader(d.subarray(0, r.length)), r);
      }),
      4110,
      1500,
    );
  });

  it('reads nothing outside its view and never writes its input (seed 4111)', () => {
    const parseOne = (b: Uint8Array): ReturnType<typeof parseQuicLongHeader> => parseQuicLongHeader(b);
    check(
      fc.property(mutatedArb(LONG_HEADER_CORPUS, QUIC_INTERESTING), fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.integer({ min: 0, max: 64 }), fc.boolean(), (d, poison, before, asBuffer) => {
        checkPoisoned(parseOne, d, undefined, poison, before, asBuffer);
        checkStrictReads(parseOne, d, undefined);
      }),
      4111,
      300,
    );
  });
});
