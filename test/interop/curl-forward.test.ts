/**
 * Forward-proxy interop with real curl as the client: `curl -p -x http://127.0.0.1:<portplex>
 * https://localhost:<port>/` through a `connect:` route to a real HTTPS server (node https with
 * the demo certificate, which covers localhost), verified with --cacert; a port outside the
 * allowlist gets curl's "CONNECT tunnel failed, response 403"; Basic proxy auth with -U.
 * curl missing: skipped locally, failed under CI=true.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { DEMO_CERT, DEMO_KEY, requireTool, runTool, withTimeout } from '../helpers/interop.js';
import { startFromYaml, type TestPortplex } from '../helpers/net.js';

/** curl without any proxy settings from the environment or a .curlrc: only what the test passes. */
function curlEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(https?|all|no|ftp)_proxy$/i.test(k)) delete env[k];
  return env;
}

interface HttpsTarget {
  readonly server: HttpsServer;
  readonly port: number;
  readonly requests: string[];
}

async function httpsTarget(name: string): Promise<HttpsTarget> {
  const requests: string[] = [];
  const server = createHttpsServer({ cert: readFileSync(DEMO_CERT), key: readFileSync(DEMO_KEY) }, (req, res) => {
    requests.push(`${req.method} ${req.url} ${req.headers.host}`);
    res.setHeader('content-type', 'text/plain');
    res.end(`hello from ${name} over TLS\n`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, requests };
}

function closeHttps(t: HttpsTarget): Promise<void> {
  t.server.closeAllConnections();
  return new Promise((r) => t.server.close(() => r()));
}

describe('curl -p -x through a connect: route', () => {
  let allowed: HttpsTarget;
  let other: HttpsTarget;
  let px: TestPortplex;
  let authed: TestPortplex;
  const PASSWORD = 'curl-' + Math.random().toString(36).slice(2);

  before(async () => {
    [allowed, other] = await Promise.all([httpsTarget('allowed'), httpsTarget('other')]);
    const rules = (name: string, auth: string): string => `listeners:
  - bind: "127.0.0.1:0"
routes:
  - name: ${name}
    when: { http: { method: CONNECT } }
    connect:
      ports: [443, ${allowed.port}]
      hosts: [localhost]
      connect_timeout: 2s${auth}
`;
    [px, authed] = await Promise.all([startFromYaml(rules('proxy', '')), startFromYaml(rules('proxy-auth', `\n      auth: [{ user: alice, password: "${PASSWORD}" }]`))]);
  });
  after(async () => {
    await Promise.all([px?.close(), authed?.close()]);
    await Promise.all([allowed && closeHttps(allowed), other && closeHttps(other)]);
  });

  it('fetches https://localhost:<allowed port>/ through the tunnel, certificate verified end to end', { timeout: 20_000 }, async (t) => {
    const curl = requireTool(t, 'curl');
    if (curl === undefined) return;
    const r = await runTool(t, curl, ['-q', '-sS', '-p', '-x', `http://127.0.0.1:${px.port}`, `https://localhost:${allowed.port}/via-portplex`, '--cacert', DEMO_CERT, '--max-time', '10'], {
      env: curlEnv(),
      timeoutMs: 15_000,
    });
    assert.equal(r.code, 0, `curl failed: ${r.stderr}`);
    assert.equal(r.stdout, 'hello from allowed over TLS\n');
    assert.deepEqual(allowed.requests, [`GET /via-portplex localhost:${allowed.port}`]);
    // curl may close with a reset rather than a FIN once it has its answer (unread TLS close_notify
    // bytes): the tunnel then ends as client-error/backend-error ECONNRESET, which is curl's doing.
    const line = await withTimeout(
      px.logs.waitFor((l) => l.msg === 'connection closed' && l.route === 'proxy' && l.target === `localhost:${allowed.port}` && (l.reason === 'done' || /ECONNRESET|EPIPE/.test(String(l.detail)))),
      12_000,
      'the tunnel log line',
    );
    assert.equal(line.target, `localhost:${allowed.port}`);
    assert.equal(line.server, '127.0.0.1');
  });

  it('a port outside the allowlist: curl fails with the proxy\'s 403 and the server sees nothing', { timeout: 20_000 }, async (t) => {
    const curl = requireTool(t, 'curl');
    if (curl === undefined) return;
    const r = await runTool(t, curl, ['-q', '-v', '-sS', '-p', '-x', `http://127.0.0.1:${px.port}`, `https://localhost:${other.port}/`, '--cacert', DEMO_CERT, '--max-time', '10'], {
      env: curlEnv(),
      timeoutMs: 15_000,
    });
    assert.notEqual(r.code, 0);
    assert.equal(r.code, 56, `curl's "failure receiving network data" (CONNECT refused); stderr:\n${r.stderr}`);
    assert.match(r.stderr, /CONNECT tunnel failed, response 403/);
    assert.match(r.stderr, /< HTTP\/1\.1 403 Forbidden/);
    assert.equal(r.stdout, '');
    assert.deepEqual(other.requests, []);
    assert.equal(px.running.runtime().denials.get('proxy/port-not-allowed'), 1);
  });

  it(
    'logs the denial curl got as tunnel-denied, with the target and the detail',
    { timeout: 20_000 },
    async (t) => {
      const curl = requireTool(t, 'curl');
      if (curl === undefined) return;
      await runTool(t, curl, ['-q', '-sS', '-p', '-x', `http://127.0.0.1:${px.port}`, `https://localhost:${other.port}/logged`, '--max-time', '10'], { env: curlEnv(), timeoutMs: 15_000 });
      const line = await withTimeout(
        px.logs.waitFor((l) => l.msg === 'connection closed' && l.target === `localhost:${other.port}`),
        5000,
        'the denial log line',
      );
      assert.equal(line.reason, 'tunnel-denied');
      assert.equal(line.detail, '403 port-not-allowed');
    },
  );

  it('Basic proxy auth: without -U curl gets 407, with -U alice:<password> the body', { timeout: 20_000 }, async (t) => {
    const curl = requireTool(t, 'curl');
    if (curl === undefined) return;
    const base = ['-q', '-sS', '-p', '-x', `http://127.0.0.1:${authed.port}`, `https://localhost:${allowed.port}/authed`, '--cacert', DEMO_CERT, '--max-time', '10'];
    const without = await runTool(t, curl, ['-v', ...base], { env: curlEnv(), timeoutMs: 15_000 });
    assert.notEqual(without.code, 0);
    assert.match(without.stderr, /CONNECT tunnel failed, response 407/);
    assert.match(without.stderr, /< Proxy-Authenticate: Basic realm="portplex"/i);
    const wrong = await runTool(t, curl, [...base, '-U', 'alice:wrong'], { env: curlEnv(), timeoutMs: 15_000 });
    assert.match(wrong.stderr, /CONNECT tunnel failed, response 407/);
    const right = await runTool(t, curl, [...base, '--proxy-user', `alice:${PASSWORD}`], { env: curlEnv(), timeoutMs: 15_000 });
    assert.equal(right.code, 0, right.stderr);
    assert.equal(right.stdout, 'hello from allowed over TLS\n');
    assert.equal(authed.running.runtime().denials.get('proxy-auth/auth-required'), 2);
    assert.ok(!JSON.stringify(authed.logs.lines).includes(PASSWORD), 'the proxy password is in the logs');
  });
});
