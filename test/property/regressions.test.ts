/**
 * Plain regression tests for inputs the property suites found (test/fixtures/regressions/, see
 * test/fixtures/README.md for how each was found). Each test loads the saved bytes and checks the
 * property that failed, or the invariant callers rely on when the finding was left as documented
 * behaviour.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ParseResult } from '../../src/protocols/result.js';
import { parseClientHello, tlsSignature, type ClientHello } from '../../src/protocols/tls/client-hello.js';
import { checkByteByByte, fixture } from './support.js';

describe('regressions found by the property suites', () => {
  it('tls-signature-yes-then-no.bin (16 03 05): the inspector\'s TLS decision is the same for every delivery', () => {
    const b = fixture('regressions/tls-signature-yes-then-no.bin');
    assert.equal(b.toString('hex'), '160305');
    // A record version minor above 4 is not TLS for tlsSignature; the parser alone only needs more bytes.
    assert.equal(tlsSignature(b), 'no');
    assert.equal(tlsSignature(Buffer.concat([b, Buffer.alloc(64, 0x01)])), 'no');
    assert.equal(parseClientHello(b).kind, 'incomplete');
    // Every prefix: 'maybe' until the third byte, then 'no' — never 'yes' first.
    assert.deepEqual([1, 2, 3].map((n) => tlsSignature(b.subarray(0, n))), ['maybe', 'maybe', 'no']);
    // src/inspect/facts.ts combines the two; that combination must not depend on chunking.
    const decide = (x: Uint8Array): ParseResult<ClientHello> => (tlsSignature(x) === 'no' ? { kind: 'invalid', reason: 'not TLS' } : parseClientHello(x));
    checkByteByByte(decide, b, undefined);
    assert.equal(decide(b).kind, 'invalid');
  });
});
