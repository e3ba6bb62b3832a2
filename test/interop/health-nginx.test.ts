/**
 * TLS health checks against a real nginx `listen ... ssl proxy_protocol`: up when the check sends
 * the PROXY header first (HAProxy's check-send-proxy; v2 as LOCAL, v1 with the check's own
 * addresses), down when it does not.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { startFromYaml } from '../helpers/net.js';
import { requireTool, startNginx, withTimeout } from '../helpers/interop.js';

async function waitForStatus(px: Awaited<ReturnType<typeof startFromYaml>>, backend: string, status: 'up' | 'down'): Promise<void> {
  const read = (): string | undefined => px.running.snapshot().find((b) => b.name === backend)?.servers[0]?.status;
  await withTimeout(
    (async () => {
      while (read() !== status) await new Promise((r) => setTimeout(r, 25));
    })(),
    20_000,
    `${backend} ${status}`,
  );
}

it('nginx ssl proxy_protocol: a tls check with the PROXY header says up, one without says down', async (t) => {
  const nginx = requireTool(t, 'nginx');
  if (nginx === undefined) return;
  const ng = await startNginx(t, nginx);
  const port = ng.tlsPort;
  // A handshake gets 2 s: on a loaded machine (CI beside another test run) 140 ms timed out a
  // healthy nginx. Each "up" is waited for, so one slow check is retried, never a failure.
  const check = 'type: tls, sni: demo.test, alpn: [http/1.1], interval: 2s, timeout: 2s, rise: 1, fall: 1';
  const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
backends:
  with-v2: { send_proxy: v2, servers: ["127.0.0.1:${port}"], health: { ${check} } }
  with-v1: { send_proxy: v1, servers: ["127.0.0.1:${port}"], health: { ${check} } }
  without: { send_proxy: off, servers: ["127.0.0.1:${port}"], health: { ${check} } }
  header-off-in-check: { send_proxy: v2, servers: ["127.0.0.1:${port}"], health: { ${check}, send_proxy: false } }
  http-answer:
    send_proxy: v2
    servers: ["127.0.0.1:${port}"]
    health: { ${check}, send: "GET / HTTP/1.1\\r\\nHost: demo.test\\r\\nConnection: close\\r\\n\\r\\n", expect: "HTTP/1.1 200" }
default: with-v2
`);
  try {
    await waitForStatus(px, 'without', 'down');
    await waitForStatus(px, 'header-off-in-check', 'down');
    await withTimeout(
      (async () => {
        while (!px.running.snapshot().every((b) => b.servers[0]!.lastCheck !== undefined)) await new Promise((r) => setTimeout(r, 25));
      })(),
      10_000,
      'a check result for every backend',
    );
    for (const name of ['with-v2', 'with-v1', 'http-answer']) await waitForStatus(px, name, 'up');
    const snap = new Map(px.running.snapshot().map((b) => [b.name, b.servers[0]!]));
    for (const name of ['with-v2', 'with-v1', 'http-answer']) {
      assert.equal(snap.get(name)!.status, 'up', `${name}: ${JSON.stringify(snap.get(name))}`);
      assert.equal(snap.get(name)!.lastCheck?.ok, true, name);
    }
    assert.match(String(snap.get('with-v2')!.lastCheck?.detail), /tls handshake ok \(TLSv1\.[23], http\/1\.1\)/);
    assert.match(String(snap.get('http-answer')!.lastCheck?.detail), /expected answer seen/);
    assert.match(String(snap.get('without')!.reason), /check failed 1x: (tls|timeout)/);
  } finally {
    await px.close();
  }
});
