/**
 * `portplex doctor` on loopback against small node servers: a TLS server that expects no PROXY
 * header, servers that require one (built on parseProxyHeader), a fake sshd, a server that
 * answers everything identically, and a dead port. Also runs the CLI itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TLSSocket, createSecureContext, createServer as createTlsServer } from 'node:tls';
import { compileRulesText } from '../../../src/config/load.js';
import type { RulesConfig } from '../../../src/config/types.js';
import { diagnoseBackend, runDoctor, type BackendDiagnosis } from '../../../src/tools/doctor/diagnose.js';
import { buildClientHello } from '../../../src/tools/client-hello.js';
import { probe } from '../../../src/tools/doctor/probe.js';
import { parseProxyHeader, proxySignature, type InboundProxyHeader } from '../../../src/protocols/proxy/decode.js';
import { parseClientHello } from '../../../src/protocols/tls/client-hello.js';
import { deadPort } from '../../helpers/net.js';
import { DEMO_CERT, DEMO_KEY, defer, makeTempDir, type Scope } from '../../helpers/interop.js';

const CLI = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const CERT = { cert: readFileSync(DEMO_CERT), key: readFileSync(DEMO_KEY) };
const secureContext = createSecureContext(CERT);
const FAST = { timeoutMs: 1500, bannerWaitMs: 60 };

async function listen(t: Scope, server: Server): Promise<number> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(t, () => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

/** A TLS server that knows nothing of PROXY: it answers a ClientHello, and fails on anything else. */
function plainTlsServer(t: Scope): Promise<number> {
  const server = createTlsServer(CERT, (s) => {
    s.on('error', () => undefined);
    s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  });
  server.on('tlsClientError', () => undefined);
  return listen(t, server);
}

/** An HTTP server that knows nothing of PROXY: a header line makes its request line invalid (400). */
function plainHttpServer(t: Scope): Promise<number> {
  return listen(
    t,
    createServer((s) => {
      let acc = '';
      s.on('data', (c: Buffer) => {
        acc += c.toString('latin1');
        if (!acc.includes('\r\n\r\n')) return;
        const ok = /^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(acc);
        s.end(ok ? 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      });
    }),
  );
}

/**
 * A server that requires a PROXY header (v1 or v2), like nginx `listen ... proxy_protocol`:
 * without one it answers 400 (http) or just closes (tls); with one it serves the rest.
 */
function proxyRequiringServer(t: Scope, kind: 'http' | 'tls', seen?: (h: InboundProxyHeader) => void): Promise<number> {
  return listen(
    t,
    createServer((s) => {
      let acc: Buffer = Buffer.alloc(0);
      const reject = (): void => {
        s.removeAllListeners('data');
        if (kind === 'http') s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        else s.destroy();
      };
      const onData = (c: Buffer): void => {
        acc = Buffer.concat([acc, c]);
        if (proxySignature(acc) === 'none') return reject();
        const r = parseProxyHeader(acc);
        if (r.kind === 'incomplete') return;
        if (r.kind === 'invalid') return reject();
        seen?.(r.value);
        s.removeListener('data', onData);
        const rest = acc.subarray(r.length);
        if (kind === 'http') {
          let req = rest.toString('latin1');
          const answer = (): void => {
            if (req.includes('\r\n\r\n')) s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
          };
          s.on('data', (more: Buffer) => ((req += more.toString('latin1')), answer()));
          answer();
          return;
        }
        s.pause();
        if (rest.length > 0) s.unshift(rest);
        const tls = new TLSSocket(s, { isServer: true, secureContext });
        tls.on('error', () => tls.destroy());
        tls.on('secure', () => tls.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
      };
      s.on('data', onData);
    }),
  );
}

/** Like OpenSSH: banner first; an identification line that is not SSH- gets "Invalid SSH identification string." */
function fakeSshd(t: Scope): Promise<number> {
  return listen(
    t,
    createServer((s) => {
      s.write('SSH-2.0-FakeSSH_1.0\r\n');
      let acc = '';
      s.on('data', (c: Buffer) => {
        acc += c.toString('latin1');
        const nl = acc.indexOf('\n');
        if (nl < 0) return;
        if (acc.startsWith('SSH-2.0-')) s.write(Buffer.from('000001bc0a14' + '00'.repeat(16), 'hex'));
        else s.end('Invalid SSH identification string.\r\n');
      });
    }),
  );
}

/** Answers every first chunk with the same HTTP 200, header or not. */
function sameAnswerServer(t: Scope): Promise<number> {
  return listen(
    t,
    createServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
    }),
  );
}

function compile(yaml: string): RulesConfig {
  const r = compileRulesText(yaml, 'doctor-test.yaml');
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  return r.rules;
}

function byName(ds: readonly BackendDiagnosis[], name: string): BackendDiagnosis {
  const d = ds.find((x) => x.backend === name);
  assert.ok(d, `no result for ${name}`);
  return d;
}

test('buildClientHello: a real ClientHello from node:tls, with the SNI and ALPN asked for', async () => {
  const withSni = await buildClientHello({ servername: 'www.example.com', alpn: ['h2', 'http/1.1'] });
  assert.ok(withSni.ok);
  const p = parseClientHello(withSni.hello);
  assert.equal(p.kind, 'ok');
  if (p.kind === 'ok') {
    assert.equal(p.value.sni, 'www.example.com');
    assert.deepEqual(p.value.alpn, ['h2', 'http/1.1']);
    assert.equal(p.length, withSni.hello.length);
  }
  const bare = await buildClientHello();
  assert.ok(bare.ok);
  const q = parseClientHello(bare.hello);
  assert.ok(q.kind === 'ok' && q.value.sni === undefined && q.value.alpn.length === 0);
});

test('probe: the header is built from the probe socket\'s own addresses, and sent before the payload', async (t) => {
  const headers: InboundProxyHeader[] = [];
  const port = await proxyRequiringServer(t, 'http', (h) => headers.push(h));
  const v2 = { authority: true, alpn: true, uniqueId: false, crc32c: false, passTlvs: [], datagrams: 'first' as const };
  const r = await probe({ host: '127.0.0.1', port, connectTimeoutMs: 1000, readTimeoutMs: 1000, bannerWaitMs: 20, header: 'v2', proxyV2: v2, payload: { kind: 'http', host: 'x.test' } });
  assert.equal(r.answer.kind, 'http');
  assert.equal(r.answer.status, 200);
  assert.equal(r.answer.end, 'open', 'stopped as soon as the status line was in');
  assert.equal(headers.length, 1);
  const h = headers[0]!;
  assert.equal(h.version, 2);
  assert.deepEqual(h.src, { address: r.local!.address, port: r.local!.port });
  assert.deepEqual(h.dst, { address: '127.0.0.1', port });
  assert.ok(r.headerBytes > 16);

  const dead = await deadPort();
  const refused = await probe({ host: '127.0.0.1', port: dead, connectTimeoutMs: 1000, readTimeoutMs: 1000, header: 'off', proxyV2: v2, payload: { kind: 'none' } });
  assert.equal(refused.answer.kind, 'refused');
  assert.match(refused.answer.summary, /ECONNREFUSED/);
});

test('doctor against node servers: mismatch both ways, ok both ways, down, unknown', async (t) => {
  const tlsPlain = await plainTlsServer(t);
  const tlsProxy = await proxyRequiringServer(t, 'tls');
  const httpPlain = await plainHttpServer(t);
  const httpProxy = await proxyRequiringServer(t, 'http');
  const sshd = await fakeSshd(t);
  const same = await sameAnswerServer(t);
  const dead = await deadPort();
  const rules = compile(`listeners: ["127.0.0.1:0"]
backends:
  tls-plain-v2: { send_proxy: v2, servers: ["127.0.0.1:${tlsPlain}"] }
  tls-plain-off: { send_proxy: off, servers: ["127.0.0.1:${tlsPlain}"] }
  tls-proxy-off: { send_proxy: off, servers: ["127.0.0.1:${tlsProxy}"] }
  tls-proxy-v2: { send_proxy: v2, servers: ["127.0.0.1:${tlsProxy}", "127.0.0.1:${dead}", { address: "127.0.0.1:${dead}", backup: true }] }
  http-plain-v1: { send_proxy: v1, servers: ["127.0.0.1:${httpPlain}"] }
  http-proxy-off: { send_proxy: off, servers: ["127.0.0.1:${httpProxy}"] }
  http-proxy-v1: { send_proxy: v1, servers: ["127.0.0.1:${httpProxy}"] }
  sshd-v2: { send_proxy: v2, servers: ["127.0.0.1:${sshd}"] }
  sshd-off: { servers: ["127.0.0.1:${sshd}"] }
  same: { send_proxy: v2, servers: ["127.0.0.1:${same}"] }
  dead: { send_proxy: v2, servers: ["127.0.0.1:${dead}"] }
routes:
  - { name: a, when: { tls: { sni: [a.test] } }, to: tls-plain-v2 }
  - { name: b, when: { tls: { sni: [b.test] } }, to: tls-plain-off }
  - { name: c, when: { protocol: tls }, to: tls-proxy-off }
  - { name: d, when: { protocol: tls }, to: tls-proxy-v2 }
  - { name: e, when: { http: { host: [e.test] } }, to: http-plain-v1 }
  - { name: f, when: { protocol: http }, to: http-proxy-off }
  - { name: g, when: { protocol: http }, to: http-proxy-v1 }
  - { name: h, when: { protocol: ssh }, to: sshd-v2 }
  - { name: i, when: { silent: 1s }, to: sshd-off }
  - { name: j, when: { protocol: http }, to: same }
default: dead
`);
  const started = Date.now();
  const ds = await runDoctor(rules, FAST);
  assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`);
  assert.deepEqual(
    ds.map((d) => d.backend),
    [...rules.backends.keys()],
    'one result per backend, in file order',
  );
  const show = ds.map((d) => `${d.backend}: ${d.verdict}: ${d.explanation}`).join('\n');

  // (a) TLS server without PROXY, configured v2.
  const a = byName(ds, 'tls-plain-v2');
  assert.equal(a.verdict, 'mismatch', show);
  assert.equal(a.hint, 'server answers without a PROXY header: set send_proxy: off');
  assert.equal(a.suggested, 'off');
  assert.match(a.explanation, /without a header: a TLS handshake \(ServerHello\)/);
  assert.equal(a.payload, 'tls');

  // (b) servers requiring a header, configured off.
  for (const name of ['tls-proxy-off', 'http-proxy-off']) {
    const b = byName(ds, name);
    assert.equal(b.verdict, 'mismatch', show);
    assert.match(b.explanation, /send_proxy off, but the server expects a PROXY header/);
    assert.equal(b.hint, 'server expects a PROXY header (it answered with it): set send_proxy: v2 (or v1)');
  }
  assert.match(byName(ds, 'http-proxy-off').explanation, /without a header: HTTP 400 Bad Request; with a PROXY v2 header: HTTP 200 OK/);

  // (c) configured correctly, both ways.
  for (const name of ['tls-plain-off', 'tls-proxy-v2', 'http-proxy-v1', 'sshd-off']) assert.equal(byName(ds, name).verdict, 'ok', `${name}\n${show}`);
  assert.match(byName(ds, 'tls-plain-off').explanation, /^does not expect a header, as configured/);
  assert.match(byName(ds, 'tls-proxy-v2').explanation, /^expects the PROXY header as configured \(send_proxy v2\)/);
  assert.equal(byName(ds, 'tls-proxy-v2').serverNote, 'probed the first primary server; 1 other primary and 1 backup not probed');
  assert.equal(byName(ds, 'http-plain-v1').verdict, 'mismatch');

  // A server-speaks-first backend that answers a PROXY header with "Invalid SSH identification string".
  const s = byName(ds, 'sshd-v2');
  assert.equal(s.verdict, 'mismatch', show);
  assert.match(s.explanation, /Invalid SSH identification string/);
  assert.equal(s.hint, 'server answers without a PROXY header: set send_proxy: off');
  // A silent-client route still probes sshd in SSH once it has shown its banner.
  assert.match(byName(ds, 'sshd-off').explanation, /the server sent an SSH banner first/);

  // (d) nothing listening.
  const d = byName(ds, 'dead');
  assert.equal(d.verdict, 'down');
  assert.match(d.explanation, /ECONNREFUSED/);
  assert.equal(d.probes.length, 1, 'a refused connection is not probed again');

  // (e) the same answer either way.
  const e = byName(ds, 'same');
  assert.equal(e.verdict, 'unknown', show);
  assert.match(e.explanation, /answered normally both with and without a PROXY header/);

  // Every probe is bounded: one that ignored its timeout would run on to the test's own. The
  // bound is loose on purpose (a loaded machine stretches every timer), three times the longest a
  // probe is allowed, so it tells a probe without a deadline from a slow machine.
  const probeBound = 3 * (FAST.timeoutMs + 2 * FAST.bannerWaitMs);
  for (const x of ds) for (const p of x.probes) assert.ok(p.ms < probeBound, `${x.backend}: probe took ${p.ms} ms`);
});

test('a default-only backend: TLS first, then HTTP when TLS tells nothing', async (t) => {
  const httpPlain = await plainHttpServer(t);
  const rules = compile(`listeners: ["127.0.0.1:0"]\nbackends:\n  web: { send_proxy: v2, servers: ["127.0.0.1:${httpPlain}"] }\ndefault: web\n`);
  const d = await diagnoseBackend(rules, 'web', { ...FAST, timeoutMs: 600 });
  // The TLS hello gets a 400 from the plain HTTP server both ways (unknown); the HTTP probe decides.
  assert.equal(d.verdict, 'mismatch', d.explanation);
  assert.equal(d.payload, 'http');
  assert.deepEqual(
    d.probes.map((p) => `${p.sent}/${p.header}`),
    ['tls/v2', 'tls/off', 'tls/v1', 'http/v2', 'http/off'],
  );
});

test('a UDP backend is not probed: unknown, with what to check instead', async () => {
  const rules = compile(`listeners: [{ bind: "127.0.0.1:0", transport: udp }]\nbackends:\n  h3: { transport: udp, servers: ["127.0.0.1:9"] }\nudp: { default: h3 }\n`);
  const d = await diagnoseBackend(rules, 'h3', FAST);
  assert.equal(d.verdict, 'unknown');
  assert.match(d.explanation, /UDP backend/);
  assert.deepEqual(d.probes, []);
});

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
      resolve({ code, stdout, stderr });
    });
  });
}

test('the CLI: `portplex doctor --rules FILE` prints one line per backend and exits 1 on a mismatch; --json; exit 0 when all ok', async (t) => {
  const tlsPlain = await plainTlsServer(t);
  const dead = await deadPort();
  const dir = makeTempDir(t, 'portplex-doctor-');
  const bad = join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    `listeners: ["127.0.0.1:0"]
backends:
  web: { send_proxy: v2, servers: ["127.0.0.1:${tlsPlain}"] }
  gone: { servers: ["127.0.0.1:${dead}"] }
routes:
  - { name: web, when: { protocol: tls }, to: web }
default: gone
`,
  );
  const r = await runCli(['doctor', '--rules', bad, '--timeout', '1500']);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2, r.stdout);
  assert.match(lines[0]!, new RegExp(`^web 127\\.0\\.0\\.1:${tlsPlain} mismatch: send_proxy v2, but the server does not expect a PROXY header: .*; hint: server answers without a PROXY header: set send_proxy: off$`));
  assert.match(lines[1]!, new RegExp(`^gone 127\\.0\\.0\\.1:${dead} down: connection failed: ECONNREFUSED; hint: `));
  assert.match(r.stderr, /2 backend\(s\): 0 ok, 1 mismatch, 1 down, 0 unknown/);

  const j = await runCli(['doctor', '-r', bad, '--timeout', '1s', '--json']);
  assert.equal(j.code, 1);
  const doc = JSON.parse(j.stdout) as { exitCode: number; results: BackendDiagnosis[] };
  assert.equal(doc.exitCode, 1);
  assert.deepEqual(
    doc.results.map((x) => [x.backend, x.verdict, x.suggested]),
    [
      ['web', 'mismatch', 'off'],
      ['gone', 'down', undefined],
    ],
  );
  assert.equal(doc.results[0]!.probes[0]!.header, 'v2');

  const good = join(dir, 'good.yaml');
  writeFileSync(good, `listeners: ["127.0.0.1:0"]\nbackends:\n  web: { servers: ["127.0.0.1:${tlsPlain}"] }\ndefault: web\n`);
  const g = await runCli(['doctor', '--rules', good]);
  assert.equal(g.code, 0, g.stdout + g.stderr);
  assert.match(g.stdout, /^web 127\.0\.0\.1:\d+ ok: does not expect a header, as configured/);

  const missing = await runCli(['doctor', '--rules', join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /PORTPLEX_ERR_RULES_READ/);
  const badTimeout = await runCli(['doctor', '--rules', good, '--timeout', 'soon']);
  assert.equal(badTimeout.code, 2);
});
