/**
 * Property tests for parseProxyV2 (src/protocols/proxy-v2.ts): the generic properties, and a
 * model-based check: random well-formed headers (every family/transport byte §2.2 lists, UNIX
 * paths, LOCAL, random TLVs, CRC32C) are built here without src/ and must decode to their parts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TextDecoder } from 'node:util';
import { parseProxyV2, type ProxyTlvEntry, type ProxyV2Header, type ProxyV2Limits } from '../../src/protocols/proxy/v2.js';
import { V2_CORPUS, V2_SIG } from './corpora.js';
import { canonicalIPv6, check, fc, ipv4Text, ipv6BytesArb, latin1, parserProperties, referenceCrc32c } from './support.js';

const SIG = V2_SIG;

const limitsArb: fc.Arbitrary<ProxyV2Limits | undefined> = fc.option(
  fc.record({ maxLength: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constantFrom(Number.NaN, 65551, 1e9)), maxTlvValue: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.constantFrom(Number.NaN, 65535)) }, { requiredKeys: [] }),
  { nil: undefined, freq: 2 },
);

parserProperties<ProxyV2Header, ProxyV2Limits | undefined>({
  name: 'parseProxyV2',
  parse: (b, limits) => parseProxyV2(b, limits),
  options: limitsArb,
  corpus: V2_CORPUS,
  interesting: [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x0d, 0x0a, 0x10, 0x11, 0x12, 0x20, 0x21, 0x22, 0x31, 0x32, 0xea, 0xff],
  poisons: [SIG, V2_CORPUS[1]!, Buffer.alloc(64, 0xff), Buffer.from('030004', 'hex')],
  maxRandom: 1024,
  seed: 5100,
  runs: { random: 300, mutated: 800, poisoned: 200, strict: 150, chunked: 250, byteByByte: 80 },
});

// ---------------------------------------------------------------------------------------------
// Model

interface Tlv {
  readonly type: number;
  readonly value: Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function decodesAsUtf8(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

const tlvArb: fc.Arbitrary<Tlv> = fc.oneof(
  // Any type but CRC32C (added by the model when wanted); UNIQUE_ID within its 128 bytes.
  fc.record({ type: fc.integer({ min: 0, max: 255 }).filter((t) => t !== 0x03 && t !== 0x05), value: fc.uint8Array({ maxLength: 48 }) }),
  fc.record({ type: fc.constant(0x05), value: fc.uint8Array({ maxLength: 128 }) }),
  fc.record({ type: fc.constant(0x01), value: fc.string({ maxLength: 20 }).map((s) => latin1(s)) }),
  fc.record({ type: fc.constant(0x02), value: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => Buffer.from(s, 'utf8')), fc.uint8Array({ maxLength: 8 })) }),
  fc.record({
    type: fc.constant(0xea),
    value: fc.oneof(
      fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 30 }).map((s) => latin1('\x01' + s)),
      fc.uint8Array({ maxLength: 12 }),
    ),
  }),
  fc.record({ type: fc.integer({ min: 0, max: 255 }).filter((t) => t !== 0x03), value: fc.uint8Array({ minLength: 200, maxLength: 600 }) }).filter((t) => t.type !== 0x05),
);

/** A UNIX path field (108 bytes) and what the decoder reports for it. */
const unixPathArb: fc.Arbitrary<{ bytes: Buffer; text: string }> = fc.oneof(
  fc
    .tuple(fc.string({ unit: fc.integer({ min: 0x01, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 108 }), fc.uint8Array({ maxLength: 108 }))
    .map(([name, garbage]) => {
      const b = Buffer.alloc(108);
      b.write(name, 'latin1');
      // Bytes after the terminating NUL are ignored (none after an empty name: that would be abstract).
      if (name.length > 0 && name.length < 107) b.set(garbage.subarray(0, 107 - name.length), name.length + 1);
      return { bytes: b, text: name };
    }),
  fc.string({ unit: fc.integer({ min: 0x01, max: 0x7f }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 107 }).map((name) => {
    const b = Buffer.alloc(108);
    b.write(name, 1, 'latin1');
    return { bytes: b, text: '@' + name };
  }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\0') && Buffer.byteLength(s) <= 108).map((s) => {
    const b = Buffer.alloc(108);
    b.write(s, 'utf8');
    return { bytes: b, text: s };
  }),
);

type Addr =
  | { kind: 'none' }
  | { kind: 'inet'; src: Uint8Array; dst: Uint8Array; sport: number; dport: number }
  | { kind: 'inet6'; src: Uint8Array; dst: Uint8Array; sport: number; dport: number }
  | { kind: 'unix'; src: { bytes: Buffer; text: string }; dst: { bytes: Buffer; text: string } };

interface V2Spec {
  readonly local: boolean;
  readonly fam: number;
  readonly addr: Addr;
  readonly tlvs: Tlv[];
  readonly crcAt: number | undefined;
  readonly after: Uint8Array;
}

const port = fc.integer({ min: 0, max: 65535 });
const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
const proxySpecArb: fc.Arbitrary<V2Spec> = fc
  .record({
    fam: fc.constantFrom(0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32),
    inet: fc.record({ src: v4, dst: v4, sport: port, dport: port }),
    inet6: fc.record({ src: ipv6BytesArb, dst: ipv6BytesArb, sport: port, dport: port }),
    unix: fc.record({ src: unixPathArb, dst: unixPathArb }),
    tlvs: fc.array(tlvArb, { maxLength: 6 }),
    crcAt: fc.option(fc.nat(), { nil: undefined }),
    after: fc.uint8Array({ maxLength: 32 }),
  })
  .map(({ fam, inet, inet6, unix, tlvs, crcAt, after }) => {
    const f = fam >> 4;
    const addr: Addr = f === 1 ? { kind: 'inet', ...inet } : f === 2 ? { kind: 'inet6', ...inet6 } : f === 3 ? { kind: 'unix', ...unix } : { kind: 'none' };
    return { local: false, fam, addr, tlvs, crcAt, after };
  });
const localSpecArb: fc.Arbitrary<V2Spec> = fc
  .record({
    fam: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 })).map(([a, b]) => (a << 4) | b),
    tlvs: fc.array(tlvArb, { maxLength: 6 }),
    crcAt: fc.option(fc.nat(), { nil: undefined }),
    after: fc.uint8Array({ maxLength: 32 }),
  })
  .map(({ fam, tlvs, crcAt, after }) => ({ local: true, fam, addr: { kind: 'none' as const }, tlvs, crcAt, after }));

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** Builds the header bytes for `s` (CRC32C TLV inserted at position crcAt % (n+1)) and the decoded value the spec implies. */
function build(s: V2Spec): { bytes: Buffer; length: number; expected: ProxyV2Header } {
  let addrBlock: Buffer = Buffer.alloc(0);
  const a = s.addr;
  if (a.kind === 'inet' || a.kind === 'inet6') addrBlock = Buffer.concat([a.src, a.dst, u16(a.sport), u16(a.dport)]);
  else if (a.kind === 'unix') addrBlock = Buffer.concat([a.src.bytes, a.dst.bytes]);
  const tlvs: Tlv[] = [...s.tlvs];
  const crcIndex = s.crcAt === undefined ? -1 : s.crcAt % (tlvs.length + 1);
  if (crcIndex >= 0) tlvs.splice(crcIndex, 0, { type: 0x03, value: Buffer.alloc(4) });
  const tlvBytes = Buffer.concat(tlvs.map((t) => Buffer.concat([Buffer.from([t.type]), u16(t.value.length), t.value])));
  const body = Buffer.concat([addrBlock, tlvBytes]);
  const head = Buffer.concat([SIG, Buffer.from([s.local ? 0x20 : 0x21, s.fam]), u16(body.length), body]);
  if (crcIndex >= 0) {
    let off = 16 + addrBlock.length;
    for (let k = 0; k < crcIndex; k++) off += 3 + tlvs[k]!.value.length;
    const crc = referenceCrc32c(head);
    head.writeUInt32BE(crc, off + 3);
    tlvs[crcIndex] = { type: 0x03, value: head.subarray(off + 3, off + 7) };
  }
  const expected: { -readonly [K in keyof ProxyV2Header]: ProxyV2Header[K] } = {
    version: 2,
    command: s.local ? 'local' : 'proxy',
    family: (['unspec', 'inet', 'inet6', 'unix'] as const)[s.fam >> 4]!,
    transport: (['unspec', 'stream', 'dgram'] as const)[s.fam & 0x0f]!,
    tlvs: tlvs.map((t): ProxyTlvEntry => ({ type: t.type, value: Buffer.from(t.value) })),
    crc32cVerified: crcIndex >= 0,
  };
  if (a.kind === 'inet') {
    expected.src = { address: ipv4Text(a.src), port: a.sport };
    expected.dst = { address: ipv4Text(a.dst), port: a.dport };
  } else if (a.kind === 'inet6') {
    expected.src = { address: canonicalIPv6(a.src), port: a.sport };
    expected.dst = { address: canonicalIPv6(a.dst), port: a.dport };
  } else if (a.kind === 'unix') {
    expected.srcPath = a.src.text;
    expected.dstPath = a.dst.text;
  }
  // Well-known TLVs: ALPN and UNIQUE_ID from the first of their type; AUTHORITY from the first
  // that is valid UTF-8; the AWS VPC endpoint id from the first 0xEA of subtype 0x01 with a
  // printable-ASCII id.
  const alpn = tlvs.find((t) => t.type === 0x01);
  if (alpn !== undefined) expected.alpn = Buffer.from(alpn.value).toString('latin1');
  for (const t of tlvs) {
    if (t.type !== 0x02) continue;
    const text = decodesAsUtf8(t.value);
    if (text !== undefined) {
      expected.authority = text;
      break;
    }
  }
  const uid = tlvs.find((t) => t.type === 0x05);
  if (uid !== undefined) expected.uniqueId = Buffer.from(uid.value);
  const aws = tlvs.find((t) => t.type === 0xea && t.value.length >= 2 && t.value[0] === 0x01 && t.value.subarray(1).every((c) => c >= 0x21 && c <= 0x7e));
  if (aws !== undefined) expected.awsVpceId = Buffer.from(aws.value.subarray(1)).toString('latin1');
  return { bytes: Buffer.concat([head, s.after]), length: head.length, expected };
}

/** Deep-equal modulo Buffer/Uint8Array class of TLV values (the parser returns views of its input). */
function normalise(h: ProxyV2Header): unknown {
  return { ...h, tlvs: h.tlvs.map((t) => ({ type: t.type, value: Buffer.from(t.value).toString('hex') })), ...(h.uniqueId ? { uniqueId: Buffer.from(h.uniqueId).toString('hex') } : {}) };
}

describe('parseProxyV2: model', () => {
  it('PROXY headers of every listed family/transport, with TLVs and CRC32C anywhere, decode to their parts (seed 5110, 500 runs)', () => {
    check(
      fc.property(proxySpecArb, (s) => {
        const { bytes, length, expected } = build(s);
        const r = parseProxyV2(bytes);
        assert.equal(r.kind, 'ok', JSON.stringify(r));
        if (r.kind !== 'ok') return;
        assert.equal(r.length, length);
        assert.deepEqual(normalise(r.value), normalise(expected));
      }),
      5110,
      500,
    );
  });

  it('LOCAL headers (any family byte, no address block) decode to their TLVs only (seed 5111, 300 runs)', () => {
    check(
      fc.property(localSpecArb, (s) => {
        const { bytes, length, expected } = build(s);
        const r = parseProxyV2(bytes);
        assert.equal(r.kind, 'ok', JSON.stringify(r));
        if (r.kind !== 'ok') return;
        assert.equal(r.length, length);
        assert.deepEqual(normalise(r.value), normalise(expected));
      }),
      5111,
      300,
    );
  });

  it('a single bit flip in a CRC32C-protected header never decodes as crc32cVerified (seed 5112, 500 runs)', () => {
    check(
      fc.property(
        fc.oneof(proxySpecArb, localSpecArb).map((s) => ({ ...s, crcAt: s.crcAt ?? 0 })),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (s, at, bit) => {
          const { bytes, length } = build(s);
          const flipped = Buffer.from(bytes.subarray(0, length));
          // Flip anywhere after the signature/version/length bytes (flips there change the framing).
          const p = 16 + (at % (length - 16));
          flipped[p] = flipped[p]! ^ (1 << bit);
          const r = parseProxyV2(flipped);
          if (r.kind === 'ok') assert.equal(r.value.crc32cVerified, false, `flip of bit ${bit} at ${p} still verified: ${flipped.toString('hex')}`);
        },
      ),
      5112,
      500,
    );
  });

  it('limits: a header over maxLength or a TLV over maxTlvValue is invalid, anything within them unchanged (seed 5113, 300 runs)', () => {
    check(
      fc.property(proxySpecArb, fc.integer({ min: -64, max: 64 }), fc.integer({ min: -8, max: 8 }), (s, dl, dv) => {
        const { bytes, length } = build(s);
        const unlimited = parseProxyV2(bytes);
        assert.equal(unlimited.kind, 'ok');
        if (unlimited.kind !== 'ok') return;
        const biggest = Math.max(0, ...unlimited.value.tlvs.map((t) => t.value.length));
        const maxLength = length + dl;
        const maxTlvValue = Math.max(0, biggest + dv);
        const r = parseProxyV2(bytes, { maxLength, maxTlvValue });
        if (length > maxLength || biggest > maxTlvValue) assert.equal(r.kind, 'invalid');
        else {
          assert.equal(r.kind, 'ok', JSON.stringify(r));
          if (r.kind === 'ok') assert.deepEqual(normalise(r.value), normalise(unlimited.value));
        }
      }),
      5113,
      300,
    );
  });
});
