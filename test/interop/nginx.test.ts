/**
 * Interop with real PROXY-protocol consumers: nginx (`listen ... proxy_protocol`, plain and TLS,
 * with and without the realip module) and HAProxy (`bind ... accept-proxy`). Each answers with
 * the client address it parsed out of portplex's header, which must be the real client's
 * address and source port, not portplex's own outgoing socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startFromYaml, type TestPortplex } from '../helpers/net.js';
import { DEMO_CERT, defer, httpGet, httpsGet, reEscape, requireTool, startHaproxy, startNginx, withTimeout, type Scope } from '../helpers/interop.js';

const DEMO_CERT_PEM = readFileSync(DEMO_CERT);

async function portplexFor(t: Scope, backends: Record<string, { mode: 'v1' | 'v2'; port: number }>, routes: string): Promise<TestPortplex> {
  const b = Object.entries(backends)
    .map(([name, v]) => `  ${name}: { send_proxy: ${v.mode}, connect_timeout: 2s, servers: ["127.0.0.1:${v.port}"] }`)
    .join('\n');
  const px = await startFromYaml(`listeners:\n  - bind: "127.0.0.1:0"\ninspect: { timeout: 5s }\nbackends:\n${b}\nroutes:\n${routes}\n`);
  defer(t, () => withTimeout(px.close(), 5000, 'portplex to close'));
  return px;
}

test('nginx parses the PROXY v1 and v2 headers portplex sends, plain HTTP and TLS', async (t) => {
  const nginxPath = requireTool(t, 'nginx');
  if (nginxPath === undefined) return;
  const nginx = await startNginx(t, nginxPath);
  const px = await portplexFor(
    t,
    {
      'nginx-v1': { mode: 'v1', port: nginx.plainPort },
      'nginx-v2': { mode: 'v2', port: nginx.plainPort },
      'nginx-realip-v1': { mode: 'v1', port: nginx.realIpPort },
      'nginx-realip-v2': { mode: 'v2', port: nginx.realIpPort },
      'nginx-tls': { mode: 'v2', port: nginx.tlsPort },
    },
    `  - { name: v1, when: { http: { host: v1.nginx.test } }, to: nginx-v1 }
  - { name: v2, when: { http: { host: v2.nginx.test } }, to: nginx-v2 }
  - { name: realip-v1, when: { http: { host: realip-v1.nginx.test } }, to: nginx-realip-v1 }
  - { name: realip-v2, when: { http: { host: realip-v2.nginx.test } }, to: nginx-realip-v2 }
  - { name: tls, when: { tls: { sni: ["*.demo.test"] } }, to: nginx-tls }`,
  );

  const closeLine = (route: string, port: number) =>
    withTimeout(
      px.logs.waitFor((l) => l.msg === 'connection closed' && l.route === route && (l.client as { port: number }).port === port),
      5000,
      `close log line of route ${route}`,
    );

  for (const v of ['v1', 'v2'] as const) {
    await t.test(`PROXY ${v}: $proxy_protocol_addr/_port are the client's address and source port`, async () => {
      const a = await httpGet(px.port, `${v}.nginx.test`);
      assert.match(a.head, /^HTTP\/1\.1 200 /, `nginx answered: ${a.head}\n${nginx.errorLog()}`);
      assert.match(a.body, /^server=plain /);
      assert.match(a.body, new RegExp(`addr=${reEscape(a.localAddress)} port=${a.localPort} `));
      // Without realip, $remote_addr is the TCP peer: portplex itself, connecting from 127.0.0.1 (not the client's port).
      assert.match(a.body, /remote=127\.0\.0\.1:(\d+)/);
      assert.notEqual(Number(/remote=127\.0\.0\.1:(\d+)/.exec(a.body)![1]), a.localPort);
      const line = await closeLine(v, a.localPort);
      assert.equal(line.reason, 'done');
    });

    await t.test(`PROXY ${v} with set_real_ip_from/real_ip_header proxy_protocol: $remote_addr:$remote_port become the client's`, async () => {
      const a = await httpGet(px.port, `realip-${v}.nginx.test`);
      assert.match(a.head, /^HTTP\/1\.1 200 /);
      const esc = reEscape(a.localAddress);
      assert.match(a.body, new RegExp(`^server=realip addr=${esc} port=${a.localPort} remote=${esc}:${a.localPort}\\n$`));
    });
  }

  await t.test('TLS: nginx `listen ... ssl proxy_protocol` behind an SNI route with PROXY v2, replayed ClientHello intact', async () => {
    const a = await httpsGet(px.port, 'nginx.demo.test', { ca: DEMO_CERT_PEM });
    assert.equal(a.alpn, 'http/1.1');
    assert.match(a.head, /^HTTP\/1\.1 200 /);
    const esc = reEscape(a.localAddress);
    assert.match(a.body, new RegExp(`^server=tls addr=${esc} port=${a.localPort} remote=${esc}:${a.localPort} sni=nginx\\.demo\\.test tls=TLSv1\\.[23]\\n$`));
    const line = await closeLine('tls', a.localPort);
    assert.equal(line.sni, 'nginx.demo.test');
    assert.equal(line.backend, 'nginx-tls');
  });
});

test('HAProxy accept-proxy parses the PROXY v1 and v2 headers portplex sends, including the v2 authority TLV', async (t) => {
  const haproxyPath = requireTool(t, 'haproxy');
  if (haproxyPath === undefined) return;
  const haproxy = await startHaproxy(t, haproxyPath);
  const px = await portplexFor(
    t,
    {
      'haproxy-v1': { mode: 'v1', port: haproxy.httpPort },
      'haproxy-v2': { mode: 'v2', port: haproxy.httpPort },
      'haproxy-tls': { mode: 'v2', port: haproxy.tlsPort },
    },
    `  - { name: v1, when: { http: { host: v1.haproxy.test } }, to: haproxy-v1 }
  - { name: v2, when: { http: { host: v2.haproxy.test } }, to: haproxy-v2 }
  - { name: tls, when: { tls: { sni: ["*.demo.test"] } }, to: haproxy-tls }`,
  );

  for (const v of ['v1', 'v2'] as const) {
    await t.test(`PROXY ${v}: %[src] and %[src_port] are the client's`, async () => {
      const a = await httpGet(px.port, `${v}.haproxy.test`);
      assert.match(a.head, /^HTTP\/1\.1 200 /, `haproxy answered: ${a.head}\n${haproxy.proc.stderr()}`);
      assert.equal(a.body, `server=haproxy src=${a.localAddress} port=${a.localPort}\n`);
    });
  }

  await t.test('PROXY v2 over TLS: HAProxy reads the authority TLV (the SNI portplex saw) and terminates the replayed handshake', async () => {
    const a = await httpsGet(px.port, 'haproxy.demo.test', { ca: DEMO_CERT_PEM });
    assert.match(a.head, /^HTTP\/1\.1 200 /);
    assert.equal(a.body, `server=haproxy-tls src=${a.localAddress} port=${a.localPort} authority=haproxy.demo.test sni=haproxy.demo.test\n`);
  });
});
