/** End to end on loopback: real sockets in, routing decision, exact replay into a recording backend. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { exchange, recordingBackend, rulesFor, startFromYaml, type RecordingBackend, type TestPortplex } from '../helpers/net.js';
import { recordClientHello } from '../helpers/tls.js';

const CHROMIUM_PQ = readFileSync(new URL('../../../test/fixtures/chromium-156-pq-clienthello.bin', import.meta.url));

describe('routing end to end', () => {
  let a: RecordingBackend, b: RecordingBackend, web: RecordingBackend, ssh: RecordingBackend, other: RecordingBackend;
  let px: TestPortplex;
  before(async () => {
    [a, b, web, ssh, other] = await Promise.all([recordingBackend(), recordingBackend(), recordingBackend(), recordingBackend(), recordingBackend()]);
    px = await startFromYaml(
      rulesFor(
        { a: { port: a.port }, b: { port: b.port }, web: { port: web.port }, ssh: { port: ssh.port }, other: { port: other.port } },
        `  - name: site-a
    when: { tls: { sni: [a.example] } }
    to: a
  - name: site-b
    when: { tls: { sni: ["*.b.example", "~^chromium\\\\.test$", "a.test"], alpn: [h2] } }
    to: b
  - name: old-tls
    when: { tls: { version: "1.0..1.2" } }
    to: web
  - name: http-connect
    when: { http: { method: CONNECT } }
    to: web
  - name: http-host
    when: { http: { host: "*.web.example" } }
    to: web
  - name: ssh
    when: { protocol: ssh }
    to: ssh`,
        'default: other\n',
      ),
    );
  });
  after(async () => {
    await px.close();
    await Promise.all([a, b, web, ssh, other].map((x) => x.close()));
  });

  it('routes a real Node ClientHello by exact SNI and replays it byte for byte', async () => {
    const hello = await recordClientHello({ servername: 'a.example', alpn: ['http/1.1'] });
    await exchange(px.port, [hello]);
    const got = await a.nextConnection();
    assert.deepEqual(got.received, hello);
  });

  it('routes by *.suffix SNI plus ALPN, and the post-quantum Chromium hello delivered one byte per write', async () => {
    const hello = await recordClientHello({ servername: 'x.y.b.example', alpn: ['h2'] });
    await exchange(px.port, [hello]);
    assert.deepEqual((await b.nextConnection()).received, hello);
    const bytes = [...CHROMIUM_PQ].map((x) => Uint8Array.of(x));
    await exchange(px.port, bytes, { gapMs: 0 });
    assert.deepEqual((await b.nextConnection()).received, CHROMIUM_PQ);
  });

  it('routes by supported_versions: a TLS 1.2-only client to old-tls, a client without SNI to the default', async () => {
    const tls12 = await recordClientHello({ servername: 'nomatch.example', maxVersion: 'TLSv1.2' });
    await exchange(px.port, [tls12]);
    assert.deepEqual((await web.nextConnection()).received, tls12);
    const noSni = await recordClientHello({});
    await exchange(px.port, [noSni]);
    assert.deepEqual((await other.nextConnection()).received, noSni);
  });

  it('routes HTTP by method and by Host, SSH by its identification line, garbage to the default', async () => {
    const connectReq = Buffer.from('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    await exchange(px.port, [connectReq]);
    assert.deepEqual((await web.nextConnection()).received, connectReq);
    const get = Buffer.from('GET / HTTP/1.1\r\nHost: WWW.web.example:8080\r\nAccept: */*\r\n\r\n');
    await exchange(px.port, [get.subarray(0, 20), get.subarray(20)]);
    assert.deepEqual((await web.nextConnection()).received, get);
    const banner = Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');
    await exchange(px.port, [banner]);
    assert.deepEqual((await ssh.nextConnection()).received, banner);
    const junk = Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a]);
    await exchange(px.port, [junk]);
    assert.deepEqual((await other.nextConnection()).received, junk);
  });

  it('writes one close log line per connection with route, backend, SNI and byte counts', async () => {
    const hello = await recordClientHello({ servername: 'a.example' });
    await exchange(px.port, [hello]);
    await a.nextConnection();
    const line = await px.logs.waitFor(
      (l) => l.msg === 'connection closed' && l.sni === 'a.example' && (l.bytes as { from_client: number }).from_client === hello.length,
    );
    assert.equal(line.route, 'site-a');
    assert.equal(line.backend, 'a');
    assert.equal(line.reason, 'done');
    assert.equal((line.client as { address: string }).address, '127.0.0.1');
    assert.equal((line.bytes as { from_client: number }).from_client, hello.length);
    assert.equal(typeof (line.ms as { decide: number }).decide, 'number');
  });
});

describe('tri-state ordering', () => {
  it('an earlier route that still needs bytes holds back a later one that already matches, however the bytes are split', async () => {
    const first = await recordingBackend();
    const second = await recordingBackend();
    const px = await startFromYaml(
      rulesFor(
        { first: { port: first.port }, second: { port: second.port } },
        `  - name: by-sni
    when: { tls: { sni: [a.test] } }
    to: first
  - name: any-tls-record
    when: { bytes: { prefix: "16 03" } }
    to: second`,
      ),
    );
    try {
      // Whole, split at a few offsets, and one byte per write: always the first route.
      const splits = [CHROMIUM_PQ.length, 1, 2, 5, 6, 9, 100, 1500, 1945];
      for (const k of splits) {
        await exchange(px.port, k === CHROMIUM_PQ.length ? [CHROMIUM_PQ] : [CHROMIUM_PQ.subarray(0, k), CHROMIUM_PQ.subarray(k)]);
        assert.deepEqual((await first.nextConnection()).received, CHROMIUM_PQ, `split at ${k}`);
      }
      const other = await recordClientHello({ servername: 'b.test' });
      await exchange(px.port, [...other].map((x) => Uint8Array.of(x)), { gapMs: 0 });
      assert.deepEqual((await second.nextConnection()).received, other);
    } finally {
      await px.close();
      await first.close();
      await second.close();
    }
  });
});
