/**
 * Forward-proxy routes end to end on loopback: `connect:` (HTTP CONNECT tunnels: 200 then pipe,
 * 400/403/405/407/502/504, pipelined bytes, the SSRF guard, Basic auth, denial logs and counts)
 * and `sni_forward:` (the ClientHello's SNI as the target, fallback and no-SNI handling).
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, Socket, type AddressInfo } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Worker } from 'node:worker_threads';
import { DEMO_CERT, DEMO_KEY, skipUnlessCi, withTimeout } from '../helpers/interop.js';
import { deadPort, exchange, recordingBackend, startFromYaml, type RecordingBackend, type TestPortplex } from '../helpers/net.js';
import { recordClientHello } from '../helpers/tls.js';

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';
const CA = readFileSync(DEMO_CERT);

type LogLine = Record<string, unknown> & { client?: { address: string; port: number } };

/** Every client socket a test opened: destroyed after each test, so a failed assertion never leaves portplex's close() waiting. */
const clientSockets = new Set<Socket>();
function track<T extends Socket>(s: T): T {
  clientSockets.add(s);
  return s;
}
afterEach(() => {
  for (const s of clientSockets) s.destroy();
  clientSockets.clear();
});

/** A raw client connection that collects what it receives and notes when. */
class Client {
  readonly socket: Socket;
  private data = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  readonly closed: Promise<void>;
  /** performance.now() when the end of the proxy's response head had arrived. */
  headAt: number | undefined;
  /** The client's source port (kept: a closed socket no longer reports it), to find its log line. */
  readonly localPort: number;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.localPort = socket.localPort!;
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    // Like most clients, answer the proxy's FIN with ours (the socket is half-open capable so that
    // a test can half-close first).
    socket.on('end', () => socket.end());
    socket.on('data', (c: Buffer) => {
      this.data = Buffer.concat([this.data, c]);
      if (this.headAt === undefined && this.data.includes('\r\n\r\n')) this.headAt = performance.now();
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((r) => socket.once('close', () => (r(), this.waiters.splice(0).forEach((w) => w()))));
  }

  static async open(port: number): Promise<Client> {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    clientSockets.add(socket);
    await withTimeout(once(socket, 'connect'), 5000, `connect to 127.0.0.1:${port}`);
    return new Client(socket);
  }


  received(): Buffer {
    return this.data;
  }

  /** Resolves once the bytes received so far satisfy `pred` (rejects if the peer closes first, or on timeout). */
  async waitFor(pred: (b: Buffer) => boolean, what: string, ms = 5000): Promise<Buffer> {
    const p = new Promise<Buffer>((resolve, reject) => {
      const check = (): void => {
        if (pred(this.data)) resolve(this.data);
        else if (this.socket.destroyed) reject(new Error(`closed before ${what}; got ${JSON.stringify(this.data.toString('latin1'))}`));
        else this.waiters.push(check);
      };
      check();
    });
    return withTimeout(p, ms, what);
  }

  async untilClosed(ms = 5000): Promise<Buffer> {
    await withTimeout(this.closed, ms, 'the proxy to close the connection');
    return this.data;
  }
}

/** Sends one request (one write) and returns the whole answer and the client's port (to find its log line). */
async function request(port: number, text: string | Buffer): Promise<{ response: string; status: number; localPort: number }> {
  const c = await Client.open(port);
  c.socket.write(text);
  const raw = await c.untilClosed();
  const response = raw.toString('utf8');
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(response);
  return { response, status: m ? Number(m[1]) : 0, localPort: c.localPort };
}

const connectHead = (target: string, extra = ''): string => `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nUser-Agent: portplex-test\r\n${extra}\r\n`;

function closeLine(px: TestPortplex, clientPort: number): Promise<LogLine> {
  return withTimeout(
    px.logs.waitFor((l) => l.msg === 'connection closed' && (l as LogLine).client?.port === clientPort) as Promise<LogLine>,
    5000,
    `the close log line of client port ${clientPort}`,
  );
}

function denials(px: TestPortplex): Map<string, number> {
  return new Map(px.running.runtime().denials);
}

/** How much each "route/denial" counter grew since `before`. */
function grown(px: TestPortplex, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of px.running.runtime().denials) if (v !== (before.get(k) ?? 0)) out[k] = v - (before.get(k) ?? 0);
  return out;
}

/** A recording backend that echoes, and ends its side when the client does. */
const echoBackend = (): Promise<RecordingBackend> =>
  recordingBackend((s) => {
    s.on('data', (d: Buffer) => s.write(d));
    s.on('end', () => s.end());
  });

/** A backend that counts the connections it accepts (it must get none when a tunnel is denied). */
async function countingBackend(): Promise<RecordingBackend & { accepted: () => number }> {
  let n = 0;
  const b = await recordingBackend((s) => {
    n++;
    s.on('end', () => s.end());
  });
  return Object.assign(b, { accepted: () => n });
}

/**
 * A loopback port whose connects neither succeed nor fail (the 504 case): a listener with backlog 1
 * in a worker thread whose event loop is blocked, so nothing is ever accepted; once its accept
 * queue is full, Linux drops further SYNs and a connect just waits. Null where that cannot be set up.
 */
async function blackholePort(): Promise<{ port: number; close: () => Promise<void> } | null> {
  const shared = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const server = require('node:net').createServer();
     server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(workerData, 0, 0); // block this thread's event loop: nothing is accepted
       server.close();
       process.exit(0);
     });`,
    { eval: true, workerData: shared },
  );
  const port = await withTimeout(once(worker, 'message').then(([p]) => p as number), 5000, 'the blackhole listener');
  const fillers: Socket[] = [];
  const close = async (): Promise<void> => {
    for (const s of fillers) s.destroy();
    Atomics.store(shared, 0, 1);
    Atomics.notify(shared, 0);
    await withTimeout(once(worker, 'exit'), 5000, 'the blackhole worker to exit').catch(() => worker.terminate());
  };
  // Fill the accept queue: connect until one connect stalls.
  for (let i = 0; i < 16; i++) {
    const s = connect({ port, host: '127.0.0.1' });
    s.on('error', () => undefined);
    fillers.push(s);
    const connected = await Promise.race([once(s, 'connect').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 250))]);
    if (!connected) return { port, close };
  }
  await close();
  return null;
}

describe('connect: routes', () => {
  let px: TestPortplex;
  let echo: RecordingBackend;
  let forbidden: Awaited<ReturnType<typeof countingBackend>>;
  let dead: number;
  let hole: Awaited<ReturnType<typeof blackholePort>>;

  before(async () => {
    [echo, forbidden, dead, hole] = await Promise.all([echoBackend(), countingBackend(), deadPort(), blackholePort()]);
    const ports = [`"${echo.port}-${echo.port}"`, dead, ...(hole ? [hole.port] : [])];
    px = await startFromYaml(`listeners:
  - bind: "127.0.0.1:0"
inspect: { timeout: 5s }
routes:
  - name: tunnel
    when: { protocol: http }
    connect:
      ports: [${ports.join(', ')}]
      hosts: ["127.0.0.1/32", localhost]
      connect_timeout: 400ms
`);
  });
  after(async () => {
    await px.close();
    await Promise.all([echo.close(), forbidden.close(), hole?.close()]);
  });

  it('answers an allowed CONNECT with exactly "200 Connection Established", then carries bytes both ways', { timeout: 10_000 }, async () => {
    const c = await Client.open(px.port);
    c.socket.write(connectHead(`127.0.0.1:${echo.port}`));
    await c.waitFor((b) => b.includes('\r\n\r\n'), 'the 200');
    assert.equal(c.received().toString('latin1'), ESTABLISHED);
    c.socket.write('ping through the tunnel');
    await c.waitFor((b) => b.length >= ESTABLISHED.length + 23, 'the echo');
    assert.equal(c.received().toString('latin1'), ESTABLISHED + 'ping through the tunnel');
    c.socket.end();
    await c.untilClosed();
    const rec = await echo.nextConnection();
    assert.equal(rec.received.toString('latin1'), 'ping through the tunnel', 'the target never sees the CONNECT head');
    const line = await closeLine(px, c.localPort);
    assert.equal(line.route, 'tunnel');
    assert.equal(line.reason, 'done');
    assert.equal(line.target, `127.0.0.1:${echo.port}`);
    assert.equal(line.server, '127.0.0.1');
  });

  it('tunnels to a host the allowlist names exactly, after resolving it (localhost on loopback)', { timeout: 10_000 }, async () => {
    const c = await Client.open(px.port);
    c.socket.write(connectHead(`localhost:${echo.port}`));
    await c.waitFor((b) => b.includes('\r\n\r\n'), 'the 200');
    assert.equal(c.received().toString('latin1'), ESTABLISHED);
    c.socket.end('x');
    await c.untilClosed();
    assert.equal((await echo.nextConnection()).received.toString(), 'x');
    const line = await closeLine(px, c.localPort);
    assert.equal(line.target, `localhost:${echo.port}`);
  });

  it('forwards bytes pipelined after the CONNECT head (same write) exactly once, and only after the 200 was sent', { timeout: 10_000 }, async () => {
    const target = await recordingBackend((s) => {
      s.once('data', () => (firstByteAt = performance.now()));
      s.on('end', () => s.end());
    });
    let firstByteAt: number | undefined;
    try {
      const connectTo = connectHead(`127.0.0.1:${target.port}`);
      const px2 = await startFromYaml(`listeners:\n  - bind: "127.0.0.1:0"\nroutes:\n  - name: tunnel\n    when: { protocol: http }\n    connect: { ports: [${target.port}], hosts: ["127.0.0.1/32"] }\n`);
      try {
        const c = await Client.open(px2.port);
        // portplex runs in this process: note the order of its writes towards the client and
        // towards the target. The arrival times below cannot see a reordering within one tick
        // (the target's socket is accepted only after portplex has written both), this can.
        const writes: string[] = [];
        const write = Socket.prototype.write;
        Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>): boolean {
          if (this.remotePort === c.localPort) writes.push('to-client');
          else if (this.remotePort === target.port) writes.push('to-target');
          return write.apply(this, args);
        } as Socket['write'];
        try {
          // One write: the request head and the first bytes of the tunnelled protocol (as a client
          // that does not wait for the 200 sends them), then more bytes at once, before any answer.
          c.socket.write(Buffer.from(connectTo + 'PIPELINED-1|', 'latin1'));
          c.socket.write('PIPELINED-2|');
          await c.waitFor((b) => b.includes('\r\n\r\n'), 'the 200');
        } finally {
          Socket.prototype.write = write;
        }
        // On node:net the order of portplex's writes is seen here; the native data plane's writes are
        // not JS calls, and its order (answer first) is proven in test/native/relay.test.ts.
        if (px2.running.dataplane === 'js') assert.equal(writes[0], 'to-client', `portplex wrote to the target before the 200: ${writes.join(', ')}`);
        c.socket.write('LATER');
        c.socket.end();
        const got = await c.untilClosed();
        assert.equal(got.toString('latin1'), ESTABLISHED, 'the client gets the 200 and nothing else');
        const rec = await withTimeout(target.nextConnection(), 5000, 'the target connection');
        assert.equal(rec.received.toString('latin1'), 'PIPELINED-1|PIPELINED-2|LATER', 'each byte once, in order, without the CONNECT head');
        assert.ok(firstByteAt !== undefined && c.headAt !== undefined);
        assert.ok(c.headAt <= firstByteAt, `the target's first byte (${firstByteAt.toFixed(3)} ms) arrived before the client had the 200 (${c.headAt.toFixed(3)} ms)`);
      } finally {
        for (const s of clientSockets) s.destroy();
        await px2.close();
      }
    } finally {
      await target.close();
    }
  });

  it('answers 403 "Tunnel Forbidden" naming the route for a port outside the allowlist; the target gets no connection', { timeout: 10_000 }, async () => {
    const before = denials(px);
    const r = await request(px.port, connectHead(`127.0.0.1:${forbidden.port}`));
    assert.match(r.response, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(r.response, /\r\nConnection: close\r\n/);
    const body = r.response.slice(r.response.indexOf('\r\n\r\n') + 4);
    assert.match(body, /Tunnel Forbidden/);
    assert.match(body, /"tunnel"/);
    assert.match(body, new RegExp(`port ${forbidden.port}`));
    assert.deepEqual(grown(px, before), { 'tunnel/port-not-allowed': 1 });
    const line = await closeLine(px, r.localPort);
    assert.equal(line.route, 'tunnel');
    assert.equal(line.reason, 'tunnel-denied');
    assert.equal(line.detail, '403 port-not-allowed');
    assert.equal(line.target, `127.0.0.1:${forbidden.port}`);
    assert.deepEqual(line.client, { address: '127.0.0.1', port: r.localPort });
    assert.equal(line.level, 40, 'a denial is a warning');
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(forbidden.accepted(), 0);
  });

  it(
    'logs the denial as tunnel-denied even when the client resets the connection after reading the 403 (as curl does)',
    { timeout: 10_000 },
    async () => {
      const c = await Client.open(px.port);
      c.socket.write(connectHead(`127.0.0.1:${forbidden.port}`));
      await c.waitFor((b) => b.includes('\r\n\r\n'), 'the 403 head');
      c.socket.resetAndDestroy();
      const line = await closeLine(px, c.localPort);
      assert.equal(line.reason, 'tunnel-denied');
      assert.equal(line.detail, '403 port-not-allowed');
    },
  );

  it('answers 403 for a host outside the allowlist (another loopback address, a name), without resolving or connecting', { timeout: 10_000 }, async () => {
    for (const host of ['127.0.0.2', 'example.com', '[::1]']) {
      const before = denials(px);
      const r = await request(px.port, connectHead(`${host}:${echo.port}`));
      assert.equal(r.status, 403, `${host}: ${r.response}`);
      assert.match(r.response, /Tunnel Forbidden: .* is not allowed by route "tunnel"/);
      assert.deepEqual(grown(px, before), { 'tunnel/host-not-allowed': 1 }, host);
      const line = await closeLine(px, r.localPort);
      assert.equal(line.detail, '403 host-not-allowed');
      assert.equal(line.target, `${host}:${echo.port}`);
    }
  });

  it('answers 400 for a CONNECT target with port 0 (the HTTP parser lets it through; the tunnel refuses it)', { timeout: 10_000 }, async () => {
    const before = denials(px);
    const r = await request(px.port, connectHead('127.0.0.1:0'));
    assert.equal(r.status, 400, r.response);
    assert.match(r.response, /bad CONNECT target: the port must be from 1 to 65535/);
    assert.deepEqual(grown(px, before), { 'tunnel/bad-request': 1 });
    const line = await closeLine(px, r.localPort);
    assert.equal(line.reason, 'tunnel-denied');
    assert.equal(line.detail, '400 bad-request');
    assert.equal(line.target, '127.0.0.1:0');
  });

  it('answers 405 with Allow: CONNECT to another method on a connect route', { timeout: 10_000 }, async () => {
    const r = await request(px.port, 'GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');
    assert.match(r.response, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    assert.match(r.response, /\r\nAllow: CONNECT\r\n/);
    const line = await closeLine(px, r.localPort);
    assert.equal(line.reason, 'tunnel-denied');
    assert.equal(line.detail, '405 bad-request');
  });

  it('answers 502 when nothing listens on the target port, logged as tunnel-failed and counted', { timeout: 10_000 }, async () => {
    const before = denials(px);
    const r = await request(px.port, connectHead(`127.0.0.1:${dead}`));
    assert.match(r.response, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.match(r.response, /ECONNREFUSED/);
    assert.deepEqual(grown(px, before), { 'tunnel/unreachable': 1 });
    const line = await closeLine(px, r.localPort);
    assert.equal(line.reason, 'tunnel-failed');
    assert.equal(line.detail, '502 unreachable');
    assert.equal(line.target, `127.0.0.1:${dead}`);
  });

  it('answers 504 when the connect times out (a loopback listener whose accept queue is full)', { timeout: 10_000 }, async (t) => {
    if (hole === null) return skipUnlessCi(t, 'could not fill a loopback accept queue here, so no connect hangs deterministically');
    const before = denials(px);
    const started = performance.now();
    const r = await request(px.port, connectHead(`127.0.0.1:${hole.port}`));
    assert.match(r.response, /^HTTP\/1\.1 504 Gateway Timeout\r\n/);
    assert.match(r.response, /connect timeout after 400ms/);
    assert.ok(performance.now() - started >= 350, 'answered only once connect_timeout passed');
    assert.deepEqual(grown(px, before), { 'tunnel/timeout': 1 });
    const line = await closeLine(px, r.localPort);
    assert.equal(line.reason, 'tunnel-failed');
    assert.equal(line.detail, '504 timeout');
  });

  it('logs a client that leaves while the target is still connecting exactly once, within connect_timeout', { timeout: 10_000 }, async (t) => {
    if (hole === null) return skipUnlessCi(t, 'could not fill a loopback accept queue here, so no connect hangs deterministically');
    const c = await Client.open(px.port);
    c.socket.write(connectHead(`127.0.0.1:${hole.port}`));
    await new Promise((r) => setTimeout(r, 50));
    c.socket.destroy();
    // The client socket is paused while the target connects, so its FIN is only noticed when the
    // connect gives up: then the 504 cannot be delivered and the line is written.
    const line = await closeLine(px, c.localPort);
    assert.match(String(line.reason), /^(client-closed-during-connect|tunnel-failed)$/);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(px.logs.closeLines().filter((l) => (l as LogLine).client?.port === c.localPort).length, 1);
  });
});

describe('connect: the SSRF guard', () => {
  let px: TestPortplex;
  let target: Awaited<ReturnType<typeof countingBackend>>;
  before(async () => {
    target = await countingBackend();
    // No hosts: allowlist: any public host, but no loopback, private or link-local address.
    px = await startFromYaml(`listeners:\n  - bind: "127.0.0.1:0"\nroutes:\n  - name: open\n    when: { protocol: http }\n    connect: { ports: [${target.port}] }\n`);
  });
  after(async () => {
    await px.close();
    await target.close();
  });

  it('answers 403 for loopback targets the allowlist does not name, however they are spelled, and never connects', { timeout: 10_000 }, async () => {
    const spellings = [
      '127.0.0.1', 'localhost', '0.0.0.0', '[::1]',
      '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[0:0:0:0:0:ffff:7f00:0001]', // IPv4-mapped
      '[::127.0.0.1]', '[::7f00:1]', // IPv4-compatible
      '[::ffff:0:7f00:1]', // IPv4-translated
      '[64:ff9b::7f00:1]', '[64:ff9b::127.0.0.1]', '[64:ff9b:1::7f00:1]', // NAT64, well-known and local-use
      '[2002:7f00:1::1]', // 6to4
      '[2001:0:4136:e378:8000:63bf:80ff:fffe]', // Teredo, client 127.0.0.1 (bits inverted)
      '[64:ff9b::a9fe:a9fe]', '[::ffff:a9fe:a9fe]', // 169.254.169.254, the cloud metadata address
    ];
    for (const host of spellings) {
      const before = denials(px);
      const r = await request(px.port, connectHead(`${host}:${target.port}`));
      assert.equal(r.status, 403, `${host}: ${r.response}`);
      assert.match(r.response, /Tunnel Forbidden: .* a private or special address not named by route "open"/, host);
      assert.deepEqual(grown(px, before), { 'open/address-not-allowed': 1 }, host);
      const line = await closeLine(px, r.localPort);
      assert.equal(line.detail, '403 address-not-allowed');
      assert.equal(line.route, 'open');
    }
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(target.accepted(), 0);
  });

  it('answers 400 for a target that ends in a number but is not four decimal octets (getaddrinfo would read 127.1 as 127.0.0.1)', { timeout: 10_000 }, async () => {
    for (const host of ['127.1', '2130706433', '0177.0.0.1', '0x7f.1', '0x7f000001', '127.0.0.01']) {
      const before = denials(px);
      const r = await request(px.port, connectHead(`${host}:${target.port}`));
      assert.equal(r.status, 400, `${host}: ${r.response}`);
      assert.match(r.response, /neither a host name nor an IPv4 address in dotted-decimal form/, host);
      assert.deepEqual(grown(px, before), { 'open/bad-request': 1 }, host);
    }
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(target.accepted(), 0);
  });
});

describe('connect: the target decides, not the Host header', () => {
  let px: TestPortplex;
  let target: Awaited<ReturnType<typeof countingBackend>>;
  let decoy: RecordingBackend;
  before(async () => {
    [target, decoy] = await Promise.all([countingBackend(), recordingBackend()]);
    // A route on http.host: localhost sends CONNECTs to localhost to a backend; any other CONNECT
    // is tunnelled by the connect: route, which allows 127.0.0.1 and the target's port.
    px = await startFromYaml(`listeners:
  - bind: "127.0.0.1:0"
backends:
  decoy: { servers: ["127.0.0.1:${decoy.port}"] }
routes:
  - name: by-host
    when: { http: { method: CONNECT, host: [localhost] } }
    to: decoy
  - name: tunnel
    when: { protocol: http }
    connect: { ports: [${target.port}], hosts: ["127.0.0.1/32"] }
`);
  });
  after(async () => {
    await px.close();
    await Promise.all([target.close(), decoy.close()]);
  });

  it('refuses with 400 a CONNECT to an allowed target whose Host names another host or port, and dials nothing', { timeout: 10_000 }, async () => {
    const t = `127.0.0.1:${target.port}`;
    for (const host of ['localhost', `localhost:${target.port}`, 'evil.example:443', `127.0.0.1:${target.port + 1}`, '127.0.0.2', '[::1]', '']) {
      const before = denials(px);
      const r = await request(px.port, `CONNECT ${t} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.equal(r.status, 400, `Host: ${host}: ${r.response}`);
      assert.match(r.response, /the Host header disagrees with the CONNECT target: Host (names|is empty)/, host);
      assert.match(r.response, new RegExp(`send Host: 127\\.0\\.0\\.1:${target.port}, or none`), host);
      assert.deepEqual(grown(px, before), { 'tunnel/bad-request': 1 }, host);
      const line = await closeLine(px, r.localPort);
      assert.equal(line.route, 'tunnel', `Host: ${host} must not pick the route`);
      assert.equal(line.detail, '400 bad-request');
      assert.equal(line.target, t);
    }
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(target.accepted(), 0, 'the target was dialled');
  });

  it('tunnels when Host agrees with the target: the same host and port, the host alone, a trailing dot, or no Host', { timeout: 10_000 }, async () => {
    for (const host of [`127.0.0.1:${target.port}`, '127.0.0.1', `127.0.0.1.:${target.port}`, undefined]) {
      const c = await Client.open(px.port);
      c.socket.write(`CONNECT 127.0.0.1:${target.port} HTTP/1.1\r\n${host === undefined ? '' : `Host: ${host}\r\n`}\r\n`);
      await c.waitFor((b) => b.includes('\r\n\r\n'), `the 200 (Host: ${String(host)})`);
      assert.equal(c.received().toString('latin1'), ESTABLISHED, String(host));
      c.socket.destroy();
    }
  });

  it('matches http.host on the CONNECT target: a CONNECT to localhost reaches the http.host route whatever its Host says', { timeout: 10_000 }, async () => {
    const head = `CONNECT localhost:${target.port} HTTP/1.1\r\nHost: evil.example:443\r\n\r\n`;
    const c = await Client.open(px.port);
    c.socket.end(head);
    const rec = await withTimeout(decoy.nextConnection(), 5000, 'the by-host backend to get the CONNECT');
    assert.equal(rec.received.toString('latin1'), head, 'the backend sees the request unchanged');
    const line = await closeLine(px, c.localPort);
    assert.equal(line.route, 'by-host');
    assert.equal(line.http_host, 'localhost');
  });
});

describe('connect: Proxy-Authorization', () => {
  const PASSWORD = 'pw-' + Math.random().toString(36).slice(2) + '-never-logged';
  let px: TestPortplex;
  let echo: RecordingBackend;
  before(async () => {
    echo = await echoBackend();
    px = await startFromYaml(`listeners:
  - bind: "127.0.0.1:0"
routes:
  - name: authed
    when: { protocol: http }
    connect: { ports: [${echo.port}], hosts: ["127.0.0.1/32"], auth: [{ user: alice, password: "${PASSWORD}" }] }
`);
  });
  after(async () => {
    await px.close();
    await echo.close();
  });

  const basic = (userPass: string): string => `Proxy-Authorization: Basic ${Buffer.from(userPass).toString('base64')}\r\n`;

  it('answers 407 with Proxy-Authenticate: Basic without credentials and with wrong ones', { timeout: 10_000 }, async () => {
    for (const extra of ['', basic('alice:wrong'), basic(`bob:${PASSWORD}`), `Proxy-Authorization: Bearer ${PASSWORD}\r\n`]) {
      const before = denials(px);
      const r = await request(px.port, connectHead(`127.0.0.1:${echo.port}`, extra));
      assert.match(r.response, /^HTTP\/1\.1 407 Proxy Authentication Required\r\n/, extra);
      assert.match(r.response, /\r\nProxy-Authenticate: Basic realm="portplex"/);
      assert.deepEqual(grown(px, before), { 'authed/auth-required': 1 });
      const line = await closeLine(px, r.localPort);
      assert.equal(line.detail, '407 auth-required');
      assert.equal(line.target, `127.0.0.1:${echo.port}`);
    }
  });

  it('tunnels with the right credentials', { timeout: 10_000 }, async () => {
    const c = await Client.open(px.port);
    c.socket.write(connectHead(`127.0.0.1:${echo.port}`, basic(`alice:${PASSWORD}`)));
    await c.waitFor((b) => b.includes('\r\n\r\n'), 'the 200');
    assert.equal(c.received().toString('latin1'), ESTABLISHED);
    c.socket.end('authed bytes');
    await c.untilClosed();
    assert.equal((await echo.nextConnection()).received.toString(), 'authed bytes');
  });

  it('never logs the password nor the Authorization token', { timeout: 10_000 }, async () => {
    await request(px.port, connectHead(`127.0.0.1:${echo.port}`, basic(`alice:${PASSWORD}x`)));
    const text = JSON.stringify(px.logs.lines);
    assert.ok(px.logs.closeLines().length >= 2);
    assert.ok(!text.includes(PASSWORD), 'the password is in the logs');
    for (const secret of [`alice:${PASSWORD}`, `alice:${PASSWORD}x`]) assert.ok(!text.includes(Buffer.from(secret).toString('base64').slice(0, 16)), 'a Basic token is in the logs');
  });
});

describe('connect: route without when (the plain `connect:` route)', () => {
  let px: TestPortplex;
  let echo: RecordingBackend;
  before(async () => {
    echo = await echoBackend();
    px = await startFromYaml(`listeners:\n  - bind: "127.0.0.1:0"\nroutes:\n  - name: plain\n    connect: { ports: [${echo.port}], hosts: ["127.0.0.1/32"] }\n`);
  });
  after(async () => {
    await px.close();
    await echo.close();
  });

  const MALFORMED = ['CONNECT 127.0.0.1:0 HTTP/1.1', 'CONNECT 127.0.0.1:99999 HTTP/1.1', 'CONNECT 127.0.0.1:65536 HTTP/1.1', 'CONNECT 127.0.0.1:abc HTTP/1.1', 'CONNECT 127.0.0.1 HTTP/1.1', 'CONNECT 127.0.0.1: HTTP/1.1', 'CONNECT :443 HTTP/1.1', 'CONNECT [::1 HTTP/1.1', 'CONNECT [fe80::1%25eth0]:443 HTTP/1.1', 'CONNECT  HTTP/1.1', 'NOT HTTP AT ALL'];

  it('answers each malformed CONNECT line with 400 and closes, logged as tunnel-denied', { timeout: 10_000 }, async () => {
    for (const line of MALFORMED) {
      const r = await request(px.port, `${line}\r\nHost: x\r\n\r\n`);
      assert.match(r.response, /^HTTP\/1\.1 400 Bad Request\r\n/, line);
      const log = await closeLine(px, r.localPort);
      assert.equal(log.route, 'plain');
      assert.equal(log.reason, 'tunnel-denied', line);
      assert.match(String(log.detail), /^400 bad-request/, line);
    }
  });

  it(
    'counts each 400 in runtime().denials',
    { timeout: 10_000 },
    async () => {
      const before = denials(px);
      for (const line of MALFORMED) await request(px.port, `${line}\r\nHost: x\r\n\r\n`);
      assert.deepEqual(grown(px, before), { 'plain/bad-request': MALFORMED.length });
    },
  );

  it(
    'tunnels a valid CONNECT',
    { timeout: 10_000 },
    async () => {
      const c = await Client.open(px.port);
      c.socket.write(connectHead(`127.0.0.1:${echo.port}`));
      await c.waitFor((b) => b.includes('\r\n\r\n'), 'the 200');
      assert.equal(c.received().toString('latin1'), ESTABLISHED);
      c.socket.destroy();
    },
  );
});

describe('sni_forward: routes', () => {
  let tlsServer: TlsServer;
  let tlsPort: number;
  let fallback: RecordingBackend;
  let withFallback: TestPortplex;
  let noFallback: TestPortplex;

  before(async () => {
    tlsServer = createTlsServer({ cert: readFileSync(DEMO_CERT), key: readFileSync(DEMO_KEY) }, (s) => {
      s.on('error', () => undefined);
      s.on('data', (d: Buffer) => s.write(`tls server got "${d.toString()}" for SNI ${String((s as unknown as { servername?: string }).servername)}`));
      s.on('end', () => s.end());
    });
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    tlsPort = (tlsServer.address() as AddressInfo).port;
    fallback = await recordingBackend();
    const route = (fb: boolean): string => `listeners:
  - bind: "127.0.0.1:0"
backends:
  fb: { servers: ["127.0.0.1:${fallback.port}"] }
routes:
  - name: by-sni
    when: { protocol: tls }
    sni_forward: { port: ${tlsPort}, hosts: [localhost]${fb ? ', fallback: fb' : ''}, connect_timeout: 1s }
`;
    [withFallback, noFallback] = await Promise.all([startFromYaml(route(true)), startFromYaml(route(false))]);
  });
  after(async () => {
    await Promise.all([withFallback.close(), noFallback.close()]);
    await fallback.close();
    await new Promise<void>((r) => tlsServer.close(() => r()));
  });

  it('forwards a real TLS client by its SNI to the loopback server the allowlist names exactly; the handshake completes end to end', { timeout: 10_000 }, async () => {
    const socket = track(tlsConnect({ host: '127.0.0.1', port: noFallback.port, servername: 'localhost', ca: CA }));
    socket.on('error', () => undefined);
    await withTimeout(once(socket, 'secureConnect'), 5000, 'the TLS handshake through portplex');
    assert.equal(socket.authorized, true, String(socket.authorizationError));
    const localPort = socket.localPort!;
    socket.write('hello');
    const [answer] = (await withTimeout(once(socket, 'data'), 5000, 'the TLS server answer')) as [Buffer];
    assert.equal(answer.toString(), 'tls server got "hello" for SNI localhost');
    socket.end();
    await withTimeout(once(socket, 'close'), 5000, 'close');
    const line = await closeLine(noFallback, localPort);
    assert.equal(line.route, 'by-sni');
    assert.equal(line.reason, 'done');
    assert.equal(line.sni, 'localhost');
    assert.equal(line.target, `localhost:${tlsPort}`);
    assert.equal(line.server, '127.0.0.1');
  });

  it('closes a hello whose SNI is not in the allowlist, logged as tunnel-denied and counted', { timeout: 10_000 }, async () => {
    const before = denials(noFallback);
    const socket = track(tlsConnect({ host: '127.0.0.1', port: noFallback.port, servername: 'demo.test', ca: CA }));
    let localPort = -1;
    socket.once('connect', () => (localPort = socket.localPort!));
    const err = await withTimeout(once(socket, 'error').then(([e]) => e as NodeJS.ErrnoException), 5000, 'the TLS client to fail');
    assert.match(String(err.code ?? err.message), /ECONNRESET|socket hang up|EPIPE/);
    const line = await closeLine(noFallback, localPort);
    assert.equal(line.reason, 'tunnel-denied');
    assert.equal(line.route, 'by-sni');
    assert.equal(line.target, `demo.test:${tlsPort}`);
    assert.match(String(line.detail), /^403 host-not-allowed: Tunnel Forbidden/);
    assert.deepEqual(grown(noFallback, before), { 'by-sni/host-not-allowed': 1 });
  });

  it('sends a hello without SNI to the fallback backend, replayed byte for byte', { timeout: 10_000 }, async () => {
    const hello = await recordClientHello({}); // Node's own hello to an IP address: no SNI
    await withTimeout(exchange(withFallback.port, [hello]), 5000, "the exchange with the fallback");
    const rec = await withTimeout(fallback.nextConnection(), 5000, 'the fallback connection');
    assert.deepEqual(rec.received, hello);
    const line = await withTimeout(withFallback.logs.waitFor((l) => l.msg === 'connection closed' && l.backend === 'fb') as Promise<LogLine>, 5000, 'the fallback log line');
    assert.equal(line.route, 'by-sni');
    assert.equal(line.sni, undefined);
  });

  it(
    'forwards by SNI on a route without when',
    { timeout: 10_000 },
    async () => {
      const px = await startFromYaml(`listeners:\n  - bind: "127.0.0.1:0"\nroutes:\n  - name: plain-sni\n    sni_forward: { port: ${tlsPort}, hosts: [localhost] }\n`);
      try {
        const socket = track(tlsConnect({ host: '127.0.0.1', port: px.port, servername: 'localhost', ca: CA }));
        socket.on('error', () => undefined);
        await withTimeout(once(socket, 'secureConnect'), 5000, 'the TLS handshake through portplex');
      } finally {
        for (const s of clientSockets) s.destroy();
        await px.close();
      }
    },
  );

  it('closes a real TLS client that sends no SNI when the route has no fallback (reason no-sni)', { timeout: 10_000 }, async () => {
    const socket = track(tlsConnect({ host: '127.0.0.1', port: noFallback.port, ca: CA })); // an IP address: Node sends no SNI
    const err = await withTimeout(once(socket, 'error').then(([e]) => e as NodeJS.ErrnoException), 5000, 'the TLS client to fail');
    assert.ok(err);
    const line = await withTimeout(noFallback.logs.waitFor((l) => l.msg === 'connection closed' && l.reason === 'no-sni') as Promise<LogLine>, 5000, 'the no-sni log line');
    assert.equal(line.route, 'by-sni');
    assert.equal(line.level, 40);
    assert.match(String(line.detail), /no \(valid\) SNI/);
  });
});
