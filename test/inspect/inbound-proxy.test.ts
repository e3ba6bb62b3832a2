/** Trust rules for inbound PROXY headers, decided over bytes alone, for every way the bytes can arrive. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InboundProxyConfig } from '../../src/config/types.js';
import { inboundStep, isLocalHeader, headerEndpoints, type InboundStep } from '../../src/inspect/inbound-proxy.js';
import { encodeProxyV2, proxyAddresses } from '../../src/protocols/proxy/header.js';
import { deliveries } from '../helpers/feed.js';

const cfg = (accept: InboundProxyConfig['accept'], maxBytes = 4096): InboundProxyConfig => ({ accept, trusted: [], timeoutMs: 5000, maxBytes });
const V1 = Buffer.from('PROXY TCP4 192.0.2.10 198.51.100.1 51000 443\r\n');
const DATA = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
const v2 = (): Buffer => {
  const r = encodeProxyV2(proxyAddresses({ address: '2001:db8::7', port: 4000 }, { address: '2001:db8::1', port: 443 }));
  assert.ok(r.ok);
  return r.header;
};

/** Feeds `bytes` in every delivery pattern and returns the first non-wait step of each (all must agree). */
function stepFor(bytes: Buffer, c: InboundProxyConfig, trusted: boolean): InboundStep {
  let agreed: InboundStep | undefined;
  for (const { name, chunks } of deliveries(bytes)) {
    let acc = Buffer.alloc(0);
    let got: InboundStep = { kind: 'wait' };
    for (const ch of chunks) {
      acc = Buffer.concat([acc, ch]);
      got = inboundStep(acc, c, trusted, false);
      if (got.kind !== 'wait') break;
    }
    if (got.kind === 'wait') got = inboundStep(acc, c, trusted, true);
    if (agreed === undefined) agreed = got;
    else assert.deepEqual(got, agreed, name);
  }
  return agreed!;
}

describe('inbound PROXY trust', () => {
  it('a trusted peer: v1 and v2 headers are honoured, the data after them is untouched', () => {
    const s1 = stepFor(Buffer.concat([V1, DATA]), cfg('optional'), true);
    assert.equal(s1.kind, 'header');
    if (s1.kind === 'header') {
      assert.equal(s1.length, V1.length);
      assert.deepEqual(headerEndpoints(s1.header), { src: { address: '192.0.2.10', port: 51000 }, dst: { address: '198.51.100.1', port: 443 } });
    }
    const h2 = v2();
    const s2 = stepFor(Buffer.concat([h2, DATA]), cfg('required'), true);
    assert.equal(s2.kind, 'header');
    if (s2.kind === 'header') {
      assert.equal(s2.length, h2.length);
      assert.equal(headerEndpoints(s2.header)?.src.address, '2001:db8::7');
    }
  });

  it('an untrusted peer that sends a header is refused, whatever the listener says', () => {
    for (const accept of ['optional', 'required'] as const) {
      const s = stepFor(Buffer.concat([V1, DATA]), cfg(accept), false);
      assert.deepEqual([s.kind, s.kind === 'refuse' && s.code], ['refuse', 'PORTPLEX_ERR_PROXY_UNTRUSTED']);
    }
    const off = stepFor(Buffer.concat([v2(), DATA]), cfg('off'), false);
    assert.deepEqual([off.kind, off.kind === 'refuse' && off.code], ['refuse', 'PORTPLEX_ERR_PROXY_NOT_ACCEPTED']);
  });

  it('required: a trusted peer without a header is refused; an untrusted peer is refused before any byte', () => {
    const s = stepFor(DATA, cfg('required'), true);
    assert.deepEqual([s.kind, s.kind === 'refuse' && s.code], ['refuse', 'PORTPLEX_ERR_PROXY_REQUIRED']);
    const u = inboundStep(Buffer.alloc(0), cfg('required'), false, false);
    assert.deepEqual([u.kind, u.kind === 'refuse' && u.code], ['refuse', 'PORTPLEX_ERR_PROXY_UNTRUSTED']);
  });

  it('optional: no header is fine, from anyone; a silent client is no header once final', () => {
    assert.equal(stepFor(DATA, cfg('optional'), true).kind, 'none');
    assert.equal(stepFor(DATA, cfg('optional'), false).kind, 'none');
    assert.equal(inboundStep(Buffer.alloc(0), cfg('optional'), true, false).kind, 'wait');
    assert.equal(inboundStep(Buffer.alloc(0), cfg('optional'), true, true).kind, 'none');
    // Part of a signature and then nothing: a broken header from a trusted peer, plain data from others.
    const cut = inboundStep(Buffer.from('PRO'), cfg('optional'), true, true);
    assert.deepEqual([cut.kind, cut.kind === 'refuse' && cut.code], ['refuse', 'PORTPLEX_ERR_PROXY_INVALID']);
    assert.equal(inboundStep(Buffer.from('PRO'), cfg('optional'), false, true).kind, 'none');
  });

  it('a malformed or truncated header from a trusted peer is refused, never passed on as data', () => {
    const bad = stepFor(Buffer.from('PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'), cfg('optional'), true);
    assert.deepEqual([bad.kind, bad.kind === 'refuse' && bad.code], ['refuse', 'PORTPLEX_ERR_PROXY_INVALID']);
    const cut = inboundStep(V1.subarray(0, 20), cfg('optional'), true, true);
    assert.deepEqual([cut.kind, cut.kind === 'refuse' && cut.code], ['refuse', 'PORTPLEX_ERR_PROXY_INVALID']);
  });

  it('a v2 length beyond max_bytes is refused on the first 16 bytes', () => {
    const h = Buffer.from('0d0a0d0a000d0a515549540a2111ffff', 'hex');
    const s = inboundStep(h, cfg('optional', 4096), true, false);
    assert.deepEqual([s.kind, s.kind === 'refuse' && s.code], ['refuse', 'PORTPLEX_ERR_PROXY_INVALID']);
  });

  it('LOCAL headers (load balancer health checks) carry no client: the socket addresses stay', () => {
    const local = encodeProxyV2(proxyAddresses({ address: '10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 }), [{ type: 0x04, value: Buffer.alloc(10) }], { local: true, crc32c: true });
    assert.ok(local.ok);
    const s = stepFor(Buffer.concat([local.header, DATA]), cfg('required'), true);
    assert.equal(s.kind, 'header');
    if (s.kind === 'header') {
      assert.equal(isLocalHeader(s.header), true);
      assert.equal(headerEndpoints(s.header), undefined);
    }
    const unknown = stepFor(Buffer.from('PROXY UNKNOWN\r\n'), cfg('optional'), true);
    assert.ok(unknown.kind === 'header' && isLocalHeader(unknown.header));
  });
});
