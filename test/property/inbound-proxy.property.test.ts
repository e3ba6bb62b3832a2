/**
 * Property tests for inboundStep (src/inspect/inbound-proxy.ts), the pure decision over the bytes
 * received so far on a listener that may receive a PROXY header.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InboundProxyConfig } from '../../src/config/types.js';
import { inboundStep, type InboundStep } from '../../src/inspect/inbound-proxy.js';
import { PeekBuffer } from '../../src/inspect/peek-buffer.js';
import { parseProxyHeader } from '../../src/protocols/proxy/decode.js';
import { HTTP_CORPUS, SSH_CORPUS, TLS_CORPUS, V1_CORPUS, V2_CORPUS, V2_SIG } from './corpora.js';
import { check, fc, latin1, mutatedArb } from './support.js';

const HEADERS = [...V1_CORPUS, ...V2_CORPUS];

/** max_bytes as the rule compiler allows it (src/config/compile.ts: 232..65551). */
const cfgArb: fc.Arbitrary<InboundProxyConfig> = fc.record({
  accept: fc.constantFrom('off' as const, 'optional' as const, 'required' as const),
  trusted: fc.constant([]),
  timeoutMs: fc.constant(1000),
  maxBytes: fc.oneof(fc.integer({ min: 232, max: 65551 }), fc.constantFrom(232, 1024, 65551)),
});

const inputs = fc.oneof(
  fc.tuple(fc.constantFrom(...HEADERS), fc.constantFrom(Buffer.alloc(0), ...HTTP_CORPUS, ...TLS_CORPUS.slice(0, 2))).map(([h, d]) => Buffer.concat([h, d])),
  mutatedArb(HEADERS),
  fc.constantFrom(...HTTP_CORPUS, ...TLS_CORPUS, ...SSH_CORPUS),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.tuple(fc.constantFrom(V2_SIG, latin1('PROXY ')), fc.nat(), fc.uint8Array({ maxLength: 4 })).map(([sig, k, rest]) => Buffer.concat([sig.subarray(0, k % (sig.length + 1)), rest])),
);

/** The decision, without the free-text reason (which may name a different limit for the same outcome). */
function decision(s: InboundStep): unknown {
  switch (s.kind) {
    case 'refuse':
      return { kind: 'refuse', code: s.code };
    case 'header':
      return { kind: 'header', header: s.header, length: s.length };
    default:
      return { kind: s.kind };
  }
}

describe('inboundStep', () => {
  it('never throws; a header only from a trusted peer on a listener that accepts one, and it is the parser\'s (seed 8100, 800 runs)', () => {
    check(
      fc.property(inputs, cfgArb, fc.boolean(), fc.boolean(), (b, cfg, trusted, final) => {
        let s: InboundStep;
        try {
          s = inboundStep(b, cfg, trusted, final);
        } catch (e) {
          assert.fail(`threw ${String(e)} on ${b.toString('hex')}`);
        }
        assert.ok(['wait', 'none', 'header', 'refuse'].includes(s.kind));
        if (final) assert.notEqual(s.kind, 'wait', 'waited although no more bytes will come');
        if (cfg.accept === 'required' && !trusted) assert.deepEqual(decision(s), { kind: 'refuse', code: 'PORTPLEX_ERR_PROXY_UNTRUSTED' });
        if (cfg.accept === 'required') assert.notEqual(s.kind, 'none');
        if (s.kind === 'header') {
          assert.ok(trusted && cfg.accept !== 'off');
          const r = parseProxyHeader(b, { maxLength: cfg.maxBytes });
          assert.deepEqual(r, { kind: 'ok', value: s.header, length: s.length });
        }
        if (s.kind === 'refuse') assert.ok(s.reason.length > 0);
      }),
      8100,
      800,
    );
  });

  it('the decision does not depend on how the bytes arrive: random chunks through a PeekBuffer settle on the whole input\'s decision and keep it (seed 8101, 500 runs)', () => {
    check(
      fc.property(inputs, cfgArb, fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (b, cfg, trusted, raw) => {
        const whole = decision(inboundStep(Buffer.from(b), cfg, trusted, false));
        const cuts = [...new Set(raw.map((c) => c % (b.length + 1)))].filter((c) => c > 0).sort((x, y) => x - y);
        const peek = new PeekBuffer();
        let prev = 0;
        let settled: unknown;
        for (const at of [...cuts, b.length]) {
          if (at <= prev && at !== b.length) continue;
          peek.append(Buffer.from(b.subarray(prev, at)));
          prev = at;
          const d = decision(inboundStep(peek.bytes, cfg, trusted, false));
          if (settled === undefined) {
            if ((d as { kind: string }).kind !== 'wait') settled = d;
          } else assert.deepEqual(d, settled, `the decision changed at ${at} bytes`);
          // With no more bytes coming, a decided prefix keeps its decision.
          const fin = decision(inboundStep(peek.bytes, cfg, trusted, true));
          if ((d as { kind: string }).kind !== 'wait') assert.deepEqual(fin, d);
        }
        assert.deepEqual(settled ?? { kind: 'wait' }, whole);
      }),
      8101,
      500,
    );
  });
});
