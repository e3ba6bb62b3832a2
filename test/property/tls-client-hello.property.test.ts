/**
 * Property tests for parseClientHello / tlsSignature (src/protocols/tls-client-hello.ts).
 * Generic properties (support.ts) over the recorded hellos, built hellos, fragmented hellos and
 * SSLv2-compatible hellos; then round trips through the hello builder.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ParseResult } from '../../src/protocols/result.js';
import { parseClientHello, tlsSignature, type ClientHello } from '../../src/protocols/tls/client-hello.js';
import { buildClientHello, buildHandshake, type HelloOptions } from '../helpers/tls-hello-builder.js';
import { chromium, HTTP_CORPUS, node20, reframe, TLS_CORPUS } from './corpora.js';
import { check, checkByteByByte, fc, latin1, parserProperties } from './support.js';

const TLS_INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x04, 0x16, 0x2e, 0x41, 0x80, 0xfe, 0x0d, 0x2b, 0x10, 0xff];

parserProperties<ClientHello, number | undefined>({
  name: 'parseClientHello',
  parse: (b, cap) => parseClientHello(b, cap),
  options: fc.option(fc.oneof(fc.integer({ min: 0, max: 20000 }), fc.constantFrom(-1, 0, 16384, 1 << 20)), { nil: undefined, freq: 2 }),
  corpus: TLS_CORPUS,
  interesting: TLS_INTERESTING,
  poisons: [chromium.subarray(0, 64), node20, HTTP_CORPUS[0]!, latin1('\x16\x03\x01\x16\x03\x03'), Buffer.alloc(32, 0xff), Buffer.alloc(32, 0)],
  seed: 1100,
  runs: { random: 300, mutated: 500, poisoned: 150, strict: 100, chunked: 150, byteByByte: 25 },
});

// ---------------------------------------------------------------------------------------------
// Round trips through the builder

const GREASE_VALUES = new Set(Array.from({ length: 16 }, (_, k) => (k << 12) | 0x0a00 | (k << 4) | 0x0a));
const isGrease = (v: number): boolean => GREASE_VALUES.has(v);
const u16Arb = fc.integer({ min: 0, max: 0xffff });
const nonGrease = u16Arb.filter((v) => !isGrease(v));

const LABEL_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';
const labelArb = (first: string): fc.Arbitrary<string> =>
  fc
    .tuple(fc.constantFrom(...first), fc.string({ unit: fc.constantFrom(...LABEL_CHARS), maxLength: 62 }))
    .map(([a, b]) => a + b);
/** A usable host name: labels of 1..63 [A-Za-z0-9_-], last label not numeric, optional trailing dot, <= 255 bytes. */
export const hostNameArb: fc.Arbitrary<string> = fc
  .tuple(fc.array(labelArb(LABEL_CHARS), { maxLength: 4 }), labelArb('abcdefghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ_-'), fc.boolean())
  .map(([labels, last, dot]) => [...labels, last].join('.') + (dot ? '.' : ''))
  .filter((s) => s.length <= 255);

interface HelloSpec {
  readonly sni: string | undefined;
  readonly alpn: string[] | undefined;
  readonly versions: number[] | undefined;
  readonly ech: boolean;
  readonly grease: boolean;
  readonly legacyVersion: number;
  readonly recordVersion: number;
  readonly cipherSuites: number[];
  readonly sessionIdLength: number;
  readonly keyShares: { group: number; length: number }[] | undefined;
  readonly noExtensions: boolean;
  readonly extra: { type: number; data: Uint8Array }[];
}

const SPECIAL_EXT = new Set([0x0000, 0x000a, 0x000d, 0x0010, 0x002b, 0x0033, 0xfe0d, 0x3a3a, 0x4a4a]);

const helloSpecArb: fc.Arbitrary<HelloSpec> = fc.record({
  sni: fc.option(hostNameArb, { nil: undefined }),
  alpn: fc.option(fc.array(fc.uint8Array({ minLength: 1, maxLength: 32 }).map((b) => Buffer.from(b).toString('latin1')), { minLength: 1, maxLength: 8 }), { nil: undefined }),
  versions: fc.option(fc.array(nonGrease, { minLength: 1, maxLength: 20 }), { nil: undefined }),
  ech: fc.boolean(),
  grease: fc.boolean(),
  legacyVersion: fc.integer({ min: 0x0300, max: 0x03ff }),
  recordVersion: fc.integer({ min: 0x0300, max: 0x0304 }),
  cipherSuites: fc.array(u16Arb, { minLength: 1, maxLength: 40 }),
  sessionIdLength: fc.integer({ min: 0, max: 32 }),
  keyShares: fc.option(fc.array(fc.record({ group: nonGrease, length: fc.integer({ min: 0, max: 1300 }) }), { maxLength: 3 }), { nil: undefined }),
  noExtensions: fc.boolean(),
  extra: fc.uniqueArray(
    fc.record({ type: u16Arb.filter((t) => !SPECIAL_EXT.has(t)), data: fc.uint8Array({ maxLength: 40 }) }),
    { maxLength: 5, selector: (e) => e.type },
  ),
});

function optionsOf(s: HelloSpec): HelloOptions {
  return {
    ...(s.sni !== undefined ? { sni: s.sni } : {}),
    ...(s.alpn !== undefined ? { alpn: s.alpn } : {}),
    ...(s.versions !== undefined ? { versions: s.versions } : {}),
    ...(s.keyShares !== undefined ? { keyShares: s.keyShares } : {}),
    ech: s.ech,
    grease: s.grease,
    legacyVersion: s.legacyVersion,
    recordVersion: s.recordVersion,
    cipherSuites: s.cipherSuites,
    sessionIdLength: s.sessionIdLength,
    noExtensions: s.noExtensions,
    extraExtensions: s.extra,
  };
}

/** What the parser must report for a hello built from `s` (an independent model of the builder). */
function expectedHello(s: HelloSpec, records = 1): ClientHello {
  const suites = s.cipherSuites.length + (s.grease ? 1 : 0);
  if (s.noExtensions) {
    return { sslv2: false, recordVersion: s.recordVersion, legacyVersion: s.legacyVersion, version: s.legacyVersion, sni: undefined, sniStatus: 'absent', alpn: [], ech: false, supportedVersions: [], cipherSuites: suites, extensions: [], records };
  }
  const extensions: number[] = [];
  if (s.grease) extensions.push(0x3a3a);
  if (s.sni !== undefined) extensions.push(0x0000);
  extensions.push(0x000a, 0x000d);
  if (s.alpn !== undefined) extensions.push(0x0010);
  if (s.keyShares !== undefined) extensions.push(0x0033);
  if (s.versions !== undefined) extensions.push(0x002b);
  if (s.ech) extensions.push(0xfe0d);
  for (const e of s.extra) extensions.push(e.type);
  if (s.grease) extensions.push(0x4a4a);
  return {
    sslv2: false,
    recordVersion: s.recordVersion,
    legacyVersion: s.legacyVersion,
    version: s.versions !== undefined ? Math.max(...s.versions) : s.legacyVersion,
    sni: s.sni === undefined ? undefined : s.sni.replace(/\.$/, '').toLowerCase(),
    sniStatus: s.sni === undefined ? 'absent' : 'ok',
    alpn: s.alpn === undefined ? [] : s.grease ? [...s.alpn, 'zz'] : s.alpn,
    ech: s.ech,
    supportedVersions: s.versions ?? [],
    cipherSuites: suites,
    extensions,
    records,
  };
}

describe('parseClientHello: round trips', () => {
  it('a built hello (SNI, ALPN, versions, ECH, GREASE, key shares, extra extensions) parses back to its fields (seed 1110, 300 runs)', () => {
    check(
      fc.property(helloSpecArb, (s) => {
        const hello = buildClientHello(optionsOf(s));
        const r = parseClientHello(hello);
        assert.deepEqual(r, { kind: 'ok', value: expectedHello(s), length: hello.length });
      }),
      1110,
      300,
    );
  });

  it('`needed` is exact (the record end) from the 5th byte of a single-record hello, 9 before (seed 1113, 150 runs)', () => {
    check(
      fc.property(helloSpecArb, (s) => {
        const hello = buildClientHello(optionsOf(s));
        for (let n = 0; n < hello.length; n++) {
          const r = parseClientHello(hello.subarray(0, n));
          assert.deepEqual(r, n === 0 ? { kind: 'incomplete' } : { kind: 'incomplete', needed: n < 5 ? 9 : hello.length }, `prefix ${n}`);
        }
      }),
      1113,
      150,
    );
  });

  it('the same hello fragmented over random record sizes gives the same fields, records counted (seed 1111, 200 runs)', () => {
    check(
      fc.property(
        helloSpecArb,
        fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 0x0300, max: 0x0304 }), { minLength: 1, maxLength: 3 }),
        (s, sizes, versions) => {
          const hs = buildHandshake(optionsOf(s));
          const framed = reframe(hs, sizes, versions);
          const records = framed.length === 0 ? 0 : countRecords(framed);
          const want = { ...expectedHello(s, records), recordVersion: versions[0]! };
          assert.deepEqual(parseClientHello(framed), { kind: 'ok', value: want, length: framed.length });
        },
      ),
      1111,
      200,
    );
  });

  it('any host_name bytes leave the hello valid; a usable name is lowercase, dot-stripped and well-formed (seed 1112, 400 runs)', () => {
    const nameBytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      hostNameArb.map((h) => latin1(h)),
      fc.string({ unit: fc.constantFrom(...'aZ09.-_:[]% \x00\xff'), maxLength: 80 }).map((h) => latin1(h)),
    );
    check(
      fc.property(nameBytes, (name) => {
        const hello = buildClientHello({ sni: name, versions: [0x0304] });
        const r = parseClientHello(hello);
        assert.equal(r.kind, 'ok', `host_name ${Buffer.from(name).toString('hex')} made the hello ${r.kind}`);
        if (r.kind !== 'ok') return;
        const { sni, sniStatus } = r.value;
        if (name.length === 0) assert.equal(sniStatus, 'empty');
        if (sniStatus !== 'ok') {
          assert.equal(sni, undefined);
          assert.ok(sniStatus === 'empty' || sniStatus === 'invalid', sniStatus);
          return;
        }
        assert.ok(name.length <= 255);
        const text = Buffer.from(name).toString('latin1');
        assert.equal(sni, text.replace(/\.$/, '').toLowerCase());
        assert.match(sni!, /^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*$/);
        assert.doesNotMatch(sni!, /(^|\.)(\d+|0x[0-9a-f]*)$/, 'a numeric last label (IP literal) was accepted');
      }),
      1112,
      400,
    );
  });
});

function countRecords(b: Buffer): number {
  let n = 0;
  for (let p = 0; p + 5 <= b.length; p += 5 + b.readUInt16BE(p + 3)) n++;
  return n;
}

describe('tlsSignature', () => {
  const inputs = fc.oneof(
    fc.constantFrom(...TLS_CORPUS),
    fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
    fc.tuple(fc.constantFrom(0x16, 0x80, 0x81, 0xff), fc.uint8Array({ maxLength: 8 })).map(([a, rest]) => Buffer.from([a, ...rest])),
    fc.tuple(fc.constantFrom(0x16, 0x80), fc.constantFrom(0x03, 0x2e), fc.constantFrom(0x01, 0x03, 0x05), fc.constantFrom(0x00, 0x03, 0x04), fc.integer({ min: 0, max: 3 })).map((a) => Buffer.from(a)),
  );

  it("'yes' and 'no' are both final: a longer prefix never changes them (seed 1120, 400 runs)", () => {
    // fast-check found tlsSignature answering 'yes' on "16 03" and then 'no' on "16 03 05"
    // (seed 1120, counterexample test/fixtures/regressions/tls-signature-yes-then-no.bin); it now
    // says 'maybe' until every byte it judges is in.
    check(
      fc.property(inputs, (b) => {
        let prev = 'maybe';
        for (let n = 0; n <= Math.min(b.length, 16); n++) {
          const a = tlsSignature(b.subarray(0, n));
          if (prev !== 'maybe') assert.equal(a, prev, `prefix ${n} changed '${prev}' to '${a}'`);
          prev = a;
        }
      }),
      1120,
      400,
    );
  });

  it('the inspector\'s TLS decision (signature "no" => not TLS, else the parser) is the same for every delivery (seed 1122, 300 runs)', () => {
    // src/inspect/facts.ts: tls() = tlsSignature(bytes) === 'no' ? invalid : parseClientHello(bytes).
    const decide = (b: Uint8Array): ParseResult<ClientHello> => (tlsSignature(b) === 'no' ? { kind: 'invalid', reason: 'not TLS' } : parseClientHello(b));
    check(
      fc.property(fc.oneof(inputs, fc.constantFrom(...TLS_CORPUS).map((b) => Buffer.concat([b.subarray(0, 2), Buffer.from([5]), b.subarray(3)]))), (b) => {
        checkByteByByte((x: Uint8Array) => decide(x), Buffer.from(b.subarray(0, 600)), undefined);
      }),
      1122,
      300,
    );
  });

  it("agrees with the parser: ok => 'yes'; 'no' => invalid (except record minor > 4, see README) (seed 1121, 400 runs)", () => {
    const mutated = fc.tuple(fc.constantFrom(...TLS_CORPUS), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, at, v]) => {
      const out = Buffer.from(b);
      out[at % Math.min(out.length, 6)] = v;
      return out;
    });
    check(
      fc.property(fc.oneof(inputs, mutated), (b) => {
        const sig = tlsSignature(b);
        const r = parseClientHello(b);
        // tlsSignature refuses a record version minor above 4; the parser only checks the major.
        const minorAbove4 = b[0] === 0x16 && b[1] === 0x03 && b.length > 2 && b[2]! > 4;
        if (r.kind === 'ok' && !minorAbove4) assert.equal(sig, 'yes');
        if (sig === 'no' && !minorAbove4) assert.equal(r.kind, 'invalid');
      }),
      1121,
      400,
    );
  });
});
