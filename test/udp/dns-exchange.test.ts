/** A DNS flow is done once each query ID it relayed has come back in a response. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { DnsExchange, dnsMessageId } from '../../src/udp/dns-exchange.js';

/** A 12-byte DNS header (RFC 1035 §4.1.1): ID, then QR as the top bit of byte 2. */
const message = (id: number, response: boolean): Buffer => {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b[2] = response ? 0x81 : 0x01;
  return b;
};

it('reads the ID and QR bit; shorter than a header is nothing', () => {
  assert.deepEqual(dnsMessageId(message(0xbeef, true)), { id: 0xbeef, response: true });
  assert.deepEqual(dnsMessageId(message(1, false)), { id: 1, response: false });
  assert.equal(dnsMessageId(Buffer.alloc(11)), undefined);
});

it('one query, one answer; two queries (A and AAAA) wait for both; a retry reuses its ID', () => {
  const one = new DnsExchange();
  one.query(message(7, false));
  assert.equal(one.answered(message(8, true)), false, 'another ID');
  assert.equal(one.answered(message(7, false)), false, 'not a response');
  assert.equal(one.answered(message(7, true)), true);
  const two = new DnsExchange();
  two.query(message(1, false));
  two.query(message(2, false));
  two.query(message(1, false));
  assert.equal(two.answered(message(1, true)), false);
  assert.equal(two.answered(message(2, true)), true);
});

it('a client that sends responses, junk or too many queries is never ended early', () => {
  const odd = new DnsExchange();
  odd.query(message(1, true));
  odd.query(message(2, false));
  assert.equal(odd.answered(message(2, true)), false);
  const junk = new DnsExchange();
  junk.query(Buffer.from('hi'));
  junk.query(message(3, false));
  assert.equal(junk.answered(message(3, true)), false);
  const many = new DnsExchange();
  for (let id = 0; id <= 16; id++) many.query(message(id, false));
  let done = false;
  for (let id = 0; id <= 16; id++) done = many.answered(message(id, true)) || done;
  assert.equal(done, false);
});
