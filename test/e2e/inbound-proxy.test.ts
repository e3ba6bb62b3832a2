/** Inbound PROXY over real sockets: the decoded client drives routing and the header sent on. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodeProxyV2, proxyAddresses } from '../../src/protocols/proxy/header.js';
import { exchange, recordingBackend, startFromYaml } from '../helpers/net.js';

const HELLO = readFileSync(new URL('../../../test/fixtures/chromium-156-pq-clienthello.bin', import.meta.url));

it('a trusted v2 header, delivered one byte per write with the ClientHello behind it, routes on the decoded client', async () => {
  const lan = await recordingBackend();
  const other = await recordingBackend();
  const px = await startFromYaml(`listeners:
  - bind: "127.0.0.1:0"
    proxy_protocol: { accept: required, trusted: ["127.0.0.0/8"] }
inspect: { timeout: 10s }
backends:
  lan: { send_proxy: v1, servers: ["127.0.0.1:${lan.port}"] }
  other: { servers: ["127.0.0.1:${other.port}"] }
routes:
  - name: lan-clients
    when: { src: 192.0.2.0/24, tls: { sni: a.test } }
    to: lan
default: other
`);
  try {
    const enc = encodeProxyV2(proxyAddresses({ address: '192.0.2.44', port: 50123 }, { address: '198.51.100.9', port: 443 }), [], { crc32c: true });
    assert.ok(enc.ok);
    const wire = Buffer.concat([enc.header, HELLO]);
    for (const chunks of [[wire], [...wire].map((b) => Uint8Array.of(b)), [wire.subarray(0, 10), wire.subarray(10, 40), wire.subarray(40)]]) {
      await exchange(px.port, chunks, { gapMs: 0 });
      const got = await lan.nextConnection();
      assert.deepEqual(got.received, Buffer.concat([Buffer.from('PROXY TCP4 192.0.2.44 198.51.100.9 50123 443\r\n'), HELLO]));
    }
    const line = await px.logs.waitFor((l) => l.msg === 'connection closed');
    assert.deepEqual(line.client, { address: '192.0.2.44', port: 50123 });
    assert.equal((line.peer as { address: string }).address, '127.0.0.1');
    assert.equal(line.proxy_header, 'v2');
    // A client outside 192.0.2.0/24 takes the default, with no header sent there.
    const enc2 = encodeProxyV2(proxyAddresses({ address: '203.0.113.1', port: 1 }, { address: '198.51.100.9', port: 443 }));
    assert.ok(enc2.ok);
    await exchange(px.port, [Buffer.concat([enc2.header, HELLO])]);
    assert.deepEqual((await other.nextConnection()).received, HELLO);
  } finally {
    await px.close();
    await lan.close();
    await other.close();
  }
});

it('a header from an untrusted peer is refused and nothing reaches a backend', async () => {
  const b = await recordingBackend();
  const px = await startFromYaml(`listeners:
  - bind: "127.0.0.1:0"
    proxy_protocol: { accept: optional, trusted: ["10.0.0.0/8"] }
backends:
  b: { send_proxy: v1, servers: ["127.0.0.1:${b.port}"] }
default: b
`);
  try {
    const answer = await exchange(px.port, [Buffer.from('PROXY TCP4 6.6.6.6 1.2.3.4 1111 443\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
    assert.equal(answer.length, 0);
    const line = await px.logs.waitFor((l) => l.msg === 'connection closed');
    assert.equal(line.reason, 'proxy-refused');
    assert.match(String(line.detail), /PORTPLEX_ERR_PROXY_UNTRUSTED/);
    assert.deepEqual(line.client, { address: '127.0.0.1', port: (line.client as { port: number }).port });
    // optional: the same peer without a header is an ordinary client.
    await exchange(px.port, [Buffer.from('hello')]);
    const rec = await b.nextConnection();
    assert.match(rec.received.toString(), /^PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+\r\nhello$/);
  } finally {
    await px.close();
    await b.close();
  }
});

it('a route that needs no bytes still never lets a forged header through: the first bytes are checked before any reaches the backend', async () => {
  const b = await recordingBackend();
  const px = await startFromYaml(`listeners:
  - bind: "127.0.0.1:0"
    proxy_protocol: { accept: required, trusted: ["127.0.0.1/32"] }
backends:
  b: { send_proxy: v1, servers: ["127.0.0.1:${b.port}"] }
default: b
`);
  try {
    const lb = Buffer.from('PROXY TCP4 198.51.100.7 203.0.113.1 40100 443\r\n');
    const forged = Buffer.from('PROXY TCP4 6.6.6.6 1.2.3.4 1111 443\r\nGET / HTTP/1.1\r\n\r\n');
    await exchange(px.port, [lb, forged.subarray(0, 3), forged.subarray(3)], { gapMs: 20 });
    const rec = await b.nextConnection();
    assert.equal(rec.received.toString(), 'PROXY TCP4 198.51.100.7 203.0.113.1 40100 443\r\n');
    const line = await px.logs.waitFor((l) => l.msg === 'connection closed');
    assert.equal(line.reason, 'proxy-refused');
    assert.match(String(line.detail), /PORTPLEX_ERR_PROXY_IN_DATA/);
    // An ordinary client behind the same load balancer flows through, bytes intact.
    await exchange(px.port, [lb, Buffer.from('PR'), Buffer.from('IVMSG hello')], { gapMs: 20 });
    assert.equal((await b.nextConnection()).received.toString(), 'PROXY TCP4 198.51.100.7 203.0.113.1 40100 443\r\nPRIVMSG hello');
  } finally {
    await px.close();
    await b.close();
  }
});
