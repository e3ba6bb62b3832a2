/**
 * Property tests for parseProxyHeader / proxySignature (src/protocols/proxy-decode.ts): the
 * generic properties over v1 and v2 inputs together, and the dispatch rule.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProxyHeader, proxySignature, type InboundProxyHeader } from '../../src/protocols/proxy/decode.js';
import { parseProxyV1 } from '../../src/protocols/proxy/v1.js';
import { parseProxyV2, type ProxyV2Limits } from '../../src/protocols/proxy/v2.js';
import { HTTP_CORPUS, TLS_CORPUS, V1_CORPUS, V2_CORPUS, V2_SIG } from './corpora.js';
import { check, fc, latin1, mutatedArb, parserProperties } from './support.js';

const CORPUS = [...V1_CORPUS, ...V2_CORPUS];

parserProperties<InboundProxyHeader, ProxyV2Limits | undefined>({
  name: 'parseProxyHeader',
  parse: (b, limits) => parseProxyHeader(b, limits),
  options: fc.option(fc.record({ maxLength: fc.integer({ min: 0, max: 400 }) }), { nil: undefined, freq: 2 }),
  corpus: CORPUS,
  interesting: [0x0d, 0x0a, 0x20, 0x00, 0x50, 0x21, 0x20, 0x11, 0x3a, 0x2e, 0x03],
  poisons: [V2_SIG, latin1('PROXY '), latin1('\r\n'), TLS_CORPUS[1]!],
  maxRandom: 1024,
  seed: 6100,
  runs: { random: 300, mutated: 800, poisoned: 200, strict: 150, chunked: 250, byteByByte: 80 },
});

const inputs = fc.oneof(
  fc.constantFrom(...CORPUS, ...HTTP_CORPUS),
  mutatedArb(CORPUS),
  fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)),
  fc.tuple(fc.constantFrom(V2_SIG, latin1('PROXY ')), fc.nat(), fc.uint8Array({ maxLength: 4 })).map(([sig, k, rest]) => Buffer.concat([sig.subarray(0, k % (sig.length + 1)), rest])),
);

describe('parseProxyHeader: dispatch', () => {
  it('answers like parseProxyV1 on "PROXY ", parseProxyV2 on the v2 signature, invalid on neither, incomplete on a common prefix (seed 6110, 1000 runs)', () => {
    check(
      fc.property(inputs, (b) => {
        const sig = proxySignature(b);
        const r = parseProxyHeader(b);
        if (sig === 'v1') assert.deepEqual(r, parseProxyV1(b));
        else if (sig === 'v2') assert.deepEqual(r, parseProxyV2(b));
        else if (sig === 'none') assert.equal(r.kind, 'invalid');
        else {
          assert.equal(r.kind, 'incomplete');
          // A proper prefix of one signature: that parser agrees it is incomplete.
          assert.equal((b[0] === 0x0d ? parseProxyV2(b) : parseProxyV1(b)).kind, 'incomplete');
        }
        // Neither parser accepts what the signature says belongs to the other.
        if (sig === 'v1') assert.equal(parseProxyV2(b).kind, 'invalid');
        if (sig === 'v2') assert.equal(parseProxyV1(b).kind, 'invalid');
      }),
      6110,
      1000,
    );
  });

  it("proxySignature answers maybe, then one decision that longer inputs never change; 'none' iff both parsers refuse (seed 6111, 600 runs)", () => {
    check(
      fc.property(inputs, (b) => {
        let decided: string | undefined;
        for (let n = 0; n <= Math.min(b.length, 16); n++) {
          const p = b.subarray(0, n);
          const a = proxySignature(p);
          if (decided === undefined) {
            if (a !== 'maybe') decided = a;
          } else assert.equal(a, decided, `prefix ${n} changed the answer`);
          const bothRefuse = parseProxyV1(p).kind === 'invalid' && parseProxyV2(p).kind === 'invalid';
          // The v1 parser can refuse "PROXY X..." that still starts with "PROXY ": only 'none' => both refuse.
          if (a === 'none') assert.ok(bothRefuse, `'none' but a parser does not refuse ${p.toString('hex')}`);
          if (a === 'maybe') assert.ok(!bothRefuse, `'maybe' but both parsers refuse ${p.toString('hex')}`);
        }
      }),
      6111,
      600,
    );
  });
});
