/** The header portplex writes: options, LOCAL re-emission, pass-through TLVs, and fail-closed sizes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxyV2Options } from '../../src/config/types.js';
import { outgoingHeader, type HeaderFacts } from '../../src/proxy/outgoing-header.js';
import { parseProxyV2 } from '../../src/protocols/proxy/v2.js';

const EP = { srcAddress: '203.0.113.5', srcPort: 40000, dstAddress: '198.51.100.1', dstPort: 443 };
const V2: ProxyV2Options = { authority: true, alpn: true, uniqueId: false, crc32c: false, passTlvs: [], datagrams: 'first' };
const FACTS: HeaderFacts = { sni: 'example.com', alpn: 'h2', local: false, uniqueId: undefined, inboundTlvs: [] };

function decode(h: Buffer | undefined) {
  assert.ok(h);
  const r = parseProxyV2(h);
  assert.equal(r.kind, 'ok');
  return r.kind === 'ok' ? r.value : assert.fail();
}

describe('outgoing PROXY header', () => {
  it('off writes nothing; v1 is the text line', () => {
    assert.deepEqual(outgoingHeader('off', EP, FACTS, V2), { ok: true, header: undefined });
    const v1 = outgoingHeader('v1', EP, FACTS, V2);
    assert.ok(v1.ok);
    assert.equal(v1.header?.toString(), 'PROXY TCP4 203.0.113.5 198.51.100.1 40000 443\r\n');
  });

  it('v2 carries AUTHORITY and ALPN by default, and not when switched off', () => {
    const on = outgoingHeader('v2', EP, FACTS, V2);
    assert.ok(on.ok);
    const d = decode(on.header);
    assert.equal(d.authority, 'example.com');
    assert.equal(d.alpn, 'h2');
    assert.deepEqual(d.src, { address: '203.0.113.5', port: 40000 });
    const off = outgoingHeader('v2', EP, FACTS, { ...V2, authority: false, alpn: false });
    assert.ok(off.ok);
    assert.deepEqual(decode(off.header).tlvs, []);
  });

  it('unique_id, crc32c and pass_tlvs', () => {
    const id = Buffer.alloc(16, 7);
    const vpce = Buffer.concat([Buffer.from([0x01]), Buffer.from('vpce-0abc')]);
    const r = outgoingHeader('v2', EP, { ...FACTS, uniqueId: id, inboundTlvs: [{ type: 0xea, value: vpce }, { type: 0xe1, value: Buffer.from('x') }] }, { ...V2, uniqueId: true, crc32c: true, passTlvs: [0xea] });
    assert.ok(r.ok);
    const d = decode(r.header);
    assert.deepEqual(Buffer.from(d.uniqueId!), id);
    assert.equal(d.crc32cVerified, true);
    assert.equal(d.awsVpceId, 'vpce-0abc');
    assert.equal(d.tlvs.some((t) => t.type === 0xe1), false);
  });

  it('an inbound LOCAL is re-emitted as LOCAL (v2) or UNKNOWN (v1), never with invented addresses', () => {
    const v2 = outgoingHeader('v2', EP, { ...FACTS, local: true }, V2);
    assert.ok(v2.ok);
    assert.equal(v2.header![12], 0x20);
    assert.equal(decode(v2.header).src, undefined);
    const v1 = outgoingHeader('v1', EP, { ...FACTS, local: true }, V2);
    assert.ok(v1.ok);
    assert.equal(v1.header!.toString(), 'PROXY UNKNOWN\r\n');
  });

  it('IPv6 and mixed endpoints', () => {
    const r = outgoingHeader('v1', { ...EP, srcAddress: '2001:db8::5' }, FACTS, V2);
    assert.ok(r.ok);
    assert.equal(r.header!.toString(), 'PROXY TCP6 2001:db8::5 ::ffff:198.51.100.1 40000 443\r\n');
  });

  it('a header over 65535 bytes fails closed instead of writing a wrong length', () => {
    const big = { type: 0xea, value: Buffer.alloc(65530) };
    const r = outgoingHeader('v2', EP, { ...FACTS, inboundTlvs: [big] }, { ...V2, passTlvs: [0xea] });
    assert.equal(r.ok, false);
  });
});
