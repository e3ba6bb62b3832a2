/** Replay exactness, both-direction integrity, half-close, PROXY headers on the wire, backups, silent clients. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { deadPort, exchange, recordingBackend, rulesFor, startFromYaml } from '../helpers/net.js';
import { recordClientHello } from '../helpers/tls.js';
import { skipUnlessCi } from '../helpers/interop.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const V2_SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

async function withPortplex<T>(yaml: string, fn: (port: number, logs: Awaited<ReturnType<typeof startFromYaml>>['logs']) => Promise<T>): Promise<T> {
  const px = await startFromYaml(yaml);
  try {
    return await fn(px.port, px.logs);
  } finally {
    await px.close();
  }
}

describe('proxying', () => {
  it('carries several MB of random bytes each way intact (sha256 compared)', async () => {
    const echo = await recordingBackend((s) => s.pipe(s));
    try {
      await withPortplex(rulesFor({ echo: { port: echo.port } }, '', 'default: echo\n'), async (port) => {
        const payload = randomBytes(4 * 1024 * 1024 + 17);
        const chunks: Buffer[] = [];
        for (let i = 0; i < payload.length; i += 65536) chunks.push(payload.subarray(i, i + 65536));
        const back = await exchange(port, chunks, { gapMs: 0 });
        assert.equal(back.length, payload.length);
        assert.equal(sha(back), sha(payload));
        const rec = await echo.nextConnection();
        assert.equal(sha(rec.received), sha(payload));
      });
    } finally {
      await echo.close();
    }
  });

  it('honours half-close: a client that shuts its write side still gets the whole response', async () => {
    const response = randomBytes(1024 * 1024);
    const server = await recordingBackend((s) => s.on('end', () => s.end(response)));
    try {
      await withPortplex(rulesFor({ srv: { port: server.port } }, '', 'default: srv\n'), async (port) => {
        const back = await exchange(port, [Buffer.from('request then FIN')], { end: true });
        assert.equal(sha(back), sha(response));
        assert.deepEqual((await server.nextConnection()).received, Buffer.from('request then FIN'));
      });
    } finally {
      await server.close();
    }
  });

  it('writes a PROXY v1 header once, before the replayed bytes, byte-exact', async () => {
    const b = await recordingBackend();
    try {
      await withPortplex(rulesFor({ b: { port: b.port, sendProxy: 'v1' } }, '', 'default: b\n'), async (port) => {
        const client = connect({ port, host: '127.0.0.1' });
        await once(client, 'connect');
        const cport = client.localPort!;
        client.end('hello\r\n');
        await once(client, 'close');
        const rec = await b.nextConnection();
        assert.equal(rec.received.toString('latin1'), `PROXY TCP4 127.0.0.1 127.0.0.1 ${cport} ${port}\r\nhello\r\n`);
      });
    } finally {
      await b.close();
    }
  });

  it('writes a PROXY v2 header with AUTHORITY (SNI) and ALPN TLVs, byte-exact, then the exact ClientHello', async () => {
    const b = await recordingBackend();
    try {
      await withPortplex(rulesFor({ b: { port: b.port, sendProxy: 'v2' } }, `  - name: tls\n    when: { protocol: tls }\n    to: b`), async (port) => {
        const hello = await recordClientHello({ servername: 'Www.Example.com', alpn: ['h2', 'http/1.1'] });
        const client = connect({ port, host: '127.0.0.1' });
        await once(client, 'connect');
        const cport = client.localPort!;
        client.end(hello);
        await once(client, 'close');
        const rec = await b.nextConnection();
        const tlvs = Buffer.concat([Buffer.from([0x02, 0x00, 15]), Buffer.from('www.example.com'), Buffer.from([0x01, 0x00, 0x02]), Buffer.from('h2')]);
        const addr = Buffer.alloc(12);
        addr.set([127, 0, 0, 1], 0);
        addr.set([127, 0, 0, 1], 4);
        addr.writeUInt16BE(cport, 8);
        addr.writeUInt16BE(port, 10);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(addr.length + tlvs.length);
        const expected = Buffer.concat([V2_SIG, Buffer.from([0x21, 0x11]), len, addr, tlvs, hello]);
        assert.deepEqual(rec.received, expected);
      });
    } finally {
      await b.close();
    }
  });

  it('sends PROXY v2 TCP6 for an IPv6 client on an IPv6 listener', async (t) => {
    const b = await recordingBackend();
    const yaml = `listeners:\n  - bind: "[::1]:0"\nbackends:\n  b: { send_proxy: v2, servers: ["127.0.0.1:${b.port}"] }\ndefault: b\n`;
    let px;
    try {
      px = await startFromYaml(yaml);
    } catch (e) {
      await b.close();
      skipUnlessCi(t, `no IPv6 loopback here: ${(e as Error).message}`);
      return;
    }
    try {
      const client = connect({ port: px.port, host: '::1' });
      await once(client, 'connect');
        const cport = client.localPort!;
      client.end('x');
      await once(client, 'close');
      const rec = await b.nextConnection();
      assert.deepEqual(rec.received.subarray(0, 16), Buffer.concat([V2_SIG, Buffer.from([0x21, 0x21, 0x00, 36])]));
      const loop6 = Buffer.alloc(16);
      loop6[15] = 1;
      assert.deepEqual(rec.received.subarray(16, 32), loop6);
      assert.deepEqual(rec.received.subarray(32, 48), loop6);
      assert.equal(rec.received.readUInt16BE(48), cport);
      assert.equal(rec.received.readUInt16BE(50), px.port);
      assert.deepEqual(rec.received.subarray(52), Buffer.from('x'));
    } finally {
      await px.close();
      await b.close();
    }
  });
});

describe('backends that refuse', () => {
  it('uses the backup server when the primary refuses, replaying the same bytes', async () => {
    const backup = await recordingBackend();
    const dead = await deadPort();
    try {
      await withPortplex(rulesFor({ t: { port: dead, backupPort: backup.port } }, '', 'default: t\n'), async (port, logs) => {
        await exchange(port, [Buffer.from('tunnel bytes')]);
        assert.deepEqual((await backup.nextConnection()).received, Buffer.from('tunnel bytes'));
        const line = await logs.waitFor((l) => l.msg === 'connection closed');
        assert.equal(line.server, `127.0.0.1:${backup.port}`);
        assert.match(String((line.failures as string[])[0]), /ECONNREFUSED/);
      });
    } finally {
      await backup.close();
    }
  });

  it('without a backup, closes the client and logs why', async () => {
    const dead = await deadPort();
    await withPortplex(rulesFor({ t: { port: dead } }, '', 'default: t\n'), async (port, logs) => {
      const answer = await exchange(port, [Buffer.from('x')]);
      assert.equal(answer.length, 0);
      const line = await logs.waitFor((l) => l.msg === 'connection closed');
      assert.equal(line.reason, 'backend-unreachable');
      assert.equal(line.detail, 'PORTPLEX_ERR_BACKEND_UNREACHABLE');
      assert.deepEqual(line.failures, [`127.0.0.1:${dead}: ECONNREFUSED`]);
      assert.equal(line.level, 40);
    });
  });

  it('with no route and no default, closes the client and logs no-route', async () => {
    const b = await recordingBackend();
    try {
      await withPortplex(rulesFor({ b: { port: b.port } }, `  - name: only-ssh\n    when: { protocol: ssh }\n    to: b`), async (port, logs) => {
        await exchange(port, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
        const line = await logs.waitFor((l) => l.msg === 'connection closed');
        assert.equal(line.reason, 'no-route');
      });
    } finally {
      await b.close();
    }
  });
});

describe('silent clients', () => {
  it('a silent: route takes a client that sends nothing, before the deadline, with nothing replayed', async () => {
    const smtp = await recordingBackend((s) => {
      s.write('220 smtp.example ESMTP\r\n');
      s.on('end', () => s.end());
    });
    const web = await recordingBackend();
    try {
      const yaml = rulesFor(
        { smtp: { port: smtp.port, sendProxy: 'v1' }, web: { port: web.port } },
        `  - name: tls\n    when: { protocol: tls }\n    to: web\n  - name: smtp\n    when: { silent: 150ms }\n    to: smtp`,
      );
      await withPortplex(yaml, async (port, logs) => {
        const client = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
        await once(client, 'connect');
        const cport = client.localPort!;
        const [banner] = (await once(client, 'data')) as [Buffer];
        assert.equal(banner.toString(), '220 smtp.example ESMTP\r\n');
        client.end();
        await once(client, 'close');
        const rec = await smtp.nextConnection();
        assert.equal(rec.received.toString(), `PROXY TCP4 127.0.0.1 127.0.0.1 ${cport} ${port}\r\n`);
        const line = await logs.waitFor((l) => l.msg === 'connection closed');
        assert.equal(line.route, 'smtp');
        const decide = (line.ms as { decide: number }).decide;
        assert.ok(decide >= 150 && decide < 10000, `decided after ${decide} ms`);
      });
    } finally {
      await smtp.close();
      await web.close();
    }
  });

  it('without a silent route, a silent client reaches the default at the inspect deadline', async () => {
    const b = await recordingBackend((s) => s.end('banner\r\n'));
    try {
      const yaml = rulesFor({ b: { port: b.port } }, `  - name: tls\n    when: { protocol: tls }\n    to: b`, 'default: b\n').replace('timeout: 10s', 'timeout: 200ms');
      await withPortplex(yaml, async (port, logs) => {
        const client = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
        await once(client, 'connect');
        const [answer] = (await once(client, 'data')) as [Buffer];
        assert.equal(answer.toString(), 'banner\r\n');
        client.end();
        await once(client, 'close');
        const line = await logs.waitFor((l) => l.msg === 'connection closed');
        assert.equal(line.route, 'default');
        assert.equal(line.peeked, 0);
      });
    } finally {
      await b.close();
    }
  });

  it('a client that leaves mid-inspection never reaches a backend', async () => {
    const b = await recordingBackend();
    try {
      await withPortplex(rulesFor({ b: { port: b.port } }, `  - name: tls\n    when: { protocol: tls }\n    to: b`), async (port, logs) => {
        const client = connect({ port, host: '127.0.0.1' });
        await once(client, 'connect');
        const cport = client.localPort!;
        client.write(Buffer.from([0x16, 0x03, 0x01, 0x02]));
        await new Promise((r) => setTimeout(r, 20));
        client.resetAndDestroy();
        const line = await logs.waitFor((l) => l.msg === 'connection closed');
        assert.match(String(line.reason), /client-(closed-during-inspect|error)/);
        assert.equal(line.backend, undefined);
      });
    } finally {
      await b.close();
    }
  });
});
