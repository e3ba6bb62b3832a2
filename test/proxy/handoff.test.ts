/** The handover: the PROXY header and the replay in one write, or the replay held by the signature guard. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxyV2Options } from '../../src/config/types.js';
import { handoff, signatureGuard, type HandoffInput } from '../../src/proxy/handoff.js';

const V2: ProxyV2Options = { authority: false, alpn: false, uniqueId: false, crc32c: false, passTlvs: [], datagrams: 'first' };
const input = (o: Partial<HandoffInput>): HandoffInput => ({
  sendProxy: 'v1',
  proxyV2: V2,
  endpoints: { srcAddress: '192.0.2.1', srcPort: 1000, dstAddress: '198.51.100.2', dstPort: 443 },
  hello: undefined,
  inbound: undefined,
  uniqueId: undefined,
  replay: Buffer.from('hello'),
  signatureUndecided: false,
  ...o,
});

describe('handoff', () => {
  it('header then replay, in one head; no header: the replay alone', () => {
    const h = handoff(input({}));
    assert.ok(h.ok);
    assert.equal(h.head?.toString(), 'PROXY TCP4 192.0.2.1 198.51.100.2 1000 443\r\nhello');
    assert.equal(h.guard, undefined);
    const plain = handoff(input({ sendProxy: 'off' }));
    assert.ok(plain.ok);
    assert.equal(plain.head?.toString(), 'hello');
  });

  it('an undecided signature: only the header goes out, the replay waits in the guard', () => {
    const h = handoff(input({ replay: Buffer.from('PR'), signatureUndecided: true }));
    assert.ok(h.ok);
    assert.equal(h.head?.toString(), 'PROXY TCP4 192.0.2.1 198.51.100.2 1000 443\r\n');
    assert.equal(h.guard?.held.toString(), 'PR');
    assert.equal(h.guard?.check(Buffer.from('PRO')), 'wait');
    assert.equal(h.guard?.check(Buffer.from('PRIVMSG')), 'ok');
    const v = h.guard?.check(Buffer.from('PROXY TCP4'));
    assert.ok(typeof v === 'object');
    assert.match(v.refuse, /^PORTPLEX_ERR_PROXY_NOT_ACCEPTED: a PROXY v1 header/);
  });

  it('behind an inbound header, a signature in the data is a second header', () => {
    const v = signatureGuard(Buffer.alloc(0), true).check(Buffer.from('\r\n\r\n\0\r\nQUIT\n!'));
    assert.ok(typeof v === 'object');
    assert.match(v.refuse, /^PORTPLEX_ERR_PROXY_IN_DATA: a second PROXY v2 header/);
  });
});
