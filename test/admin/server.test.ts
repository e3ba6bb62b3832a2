/** The admin HTTP endpoint on a real loopback socket: every route, HEAD, 404/405, readiness, errors, listen failure, close. */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { startAdminServer, type AdminSource, type AdminState, type RunningAdmin } from '../../src/admin/server.js';
import { PortplexError } from '../../src/errors.js';
import { LogCapture } from '../helpers/net.js';
import { withTimeout } from '../helpers/interop.js';
import { ADMIN_RULES, adminState, compileOrFail, metricsSource, standardScene } from '../helpers/admin.js';

const rules = compileOrFail(ADMIN_RULES);

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function fetchRaw(admin: RunningAdmin, path: string, method = 'GET', agent?: Agent): Promise<Answer> {
  return withTimeout(
    new Promise<Answer>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: admin.address.port, path, method, agent: agent ?? false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end();
    }),
    10_000,
    `${method} ${path}`,
  );
}

async function start(t: TestContext, source: AdminSource, logs = new LogCapture()): Promise<RunningAdmin> {
  const admin = await startAdminServer({ host: '127.0.0.1', port: 0 }, source, logs.logger);
  t.after(() => admin.close());
  return admin;
}

function sceneSource(state: () => AdminState): AdminSource {
  return metricsSource(standardScene(rules), state);
}

describe('admin endpoint', () => {
  it('GET /metrics: Prometheus text with the connection metrics and the primary-level ones', async (t) => {
    const admin = await start(t, sceneSource(() => adminState(rules, { reloads: { ok: 2, failed: 1, lastError: undefined, lastAt: new Date() }, workers: { wanted: 4, listening: 3, restarts: 5 } })));
    const r = await fetchRaw(admin, '/metrics?from=prometheus');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(r.body, /^# TYPE portplex_connections_closed_total counter$/m);
    assert.match(r.body, /^portplex_connections_closed_total\{listener="main",route="https",backend="web",outcome="done"\} 3$/m);
    assert.match(r.body, /^portplex_server_up\{backend="web",server="127.0.0.1:4444",backup="true"\} 0$/m);
    assert.match(r.body, /^portplex_rule_reloads_total\{result="ok"\} 2$/m);
    assert.match(r.body, /^portplex_rule_reloads_total\{result="failed"\} 1$/m);
    assert.match(r.body, new RegExp(`^portplex_rules_loaded_timestamp_seconds ${Date.parse('2026-11-22T20:00:00Z') / 1000}$`, 'm'));
    assert.match(r.body, /^portplex_workers_wanted 4$/m);
    assert.match(r.body, /^portplex_workers_listening 3$/m);
    assert.match(r.body, /^portplex_worker_restarts_total 5$/m);
    assert.match(r.body, /^portplex_ready 1$/m);
  });

  it('GET /healthz answers ok; /readyz 200 when ready, else 503 with one reason per line (and portplex_ready 0)', async (t) => {
    let state = adminState(rules);
    const admin = await start(t, sceneSource(() => state));
    assert.deepEqual(await fetchRaw(admin, '/healthz').then((r) => [r.status, r.body, r.headers['content-type']]), [200, 'ok\n', 'text/plain; charset=utf-8']);
    assert.deepEqual(await fetchRaw(admin, '/readyz').then((r) => [r.status, r.body]), [200, 'ready\n']);
    state = adminState(rules, { draining: true, workers: { wanted: 2, listening: 0, restarts: 0 } });
    const r = await fetchRaw(admin, '/readyz');
    assert.equal(r.status, 503);
    assert.equal(r.body, 'draining: shutting down, not accepting new connections\nno worker is listening (0 of 2 wanted)\n');
    assert.match((await fetchRaw(admin, '/metrics')).body, /^portplex_ready 0$/m);
    assert.equal((await fetchRaw(admin, '/healthz')).status, 200, 'alive while not ready');
  });

  it('GET / is the status page (no scripts allowed by its CSP); /status.json is the same view', async (t) => {
    const admin = await start(t, sceneSource(() => adminState(rules)));
    const page = await fetchRaw(admin, '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(page.body, /<meta http-equiv="refresh" content="7">/);
    assert.match(page.body, /<td>https<\/td>.*<td class="n">3<\/td>/);
    const json = await fetchRaw(admin, '/status.json');
    assert.equal(json.headers['content-type'], 'application/json; charset=utf-8');
    const view = JSON.parse(json.body) as { routes: { name: string; hits: number }[]; backends: { servers: { address: string; state: string }[] }[] };
    assert.deepEqual(view.routes.map((r) => [r.name, r.hits]), [['https', 3], ['ssh', 1], ['tunnel', 0]]);
    assert.deepEqual(view.backends[0]!.servers.map((s) => [s.address, s.state]), [['127.0.0.1:4443', 'up'], ['127.0.0.1:4444', 'down']]);
  });

  it('HEAD is GET without a body; other methods 405 with Allow; other paths 404', async (t) => {
    const admin = await start(t, sceneSource(() => adminState(rules)));
    const get = await fetchRaw(admin, '/status.json');
    const head = await fetchRaw(admin, '/status.json', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-type'], 'application/json; charset=utf-8');
    assert.ok(Number(head.headers['content-length']) > 100);
    assert.equal(Number(get.headers['content-length']), Buffer.byteLength(get.body));
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await fetchRaw(admin, '/metrics', method);
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
    for (const path of ['/nope', '/metrics/', '/status', '/healthz/x']) assert.equal((await fetchRaw(admin, path)).status, 404, path);
  });

  it('a failing metrics source is a 500 and a log line, while /healthz and /readyz still answer', async (t) => {
    const logs = new LogCapture();
    const admin = await start(t, { metrics: () => Promise.reject(new Error('workers gone')), state: () => adminState(rules) }, logs);
    for (const path of ['/metrics', '/', '/status.json']) assert.equal((await fetchRaw(admin, path)).status, 500, path);
    assert.equal((await fetchRaw(admin, '/healthz')).status, 200);
    assert.equal((await fetchRaw(admin, '/readyz')).status, 200);
    const line = await logs.waitFor((l) => l.msg === 'admin endpoint: request failed');
    assert.deepEqual([line.code, line.stage, line.err], ['PORTPLEX_ERR_ADMIN_INTERNAL', 'route', 'workers gone']);
  });

  it('a port already in use is PORTPLEX_ERR_LISTEN', async (t) => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    t.after(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as AddressInfo).port;
    await assert.rejects(startAdminServer({ host: '127.0.0.1', port }, sceneSource(() => adminState(rules)), new LogCapture().logger), (e: unknown) => {
      assert.ok(e instanceof PortplexError);
      assert.equal(e.code, 'PORTPLEX_ERR_LISTEN');
      assert.match(e.message, new RegExp(`admin endpoint: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
      return true;
    });
  });

  it('logs where it listens, and close() also ends keep-alive connections and requests in flight', async (t) => {
    const logs = new LogCapture();
    // A scrape that never completes (a stuck source): its connection is busy, so server.close() alone would wait forever.
    let scrapeStarted!: () => void;
    const started = new Promise<void>((r) => (scrapeStarted = r));
    const stuck: AdminSource = {
      metrics: () => {
        scrapeStarted();
        return new Promise(() => undefined);
      },
      state: () => adminState(rules),
    };
    const admin = await startAdminServer({ host: '127.0.0.1', port: 0 }, stuck, logs.logger);
    const line = await logs.waitFor((l) => l.msg === 'admin endpoint listening');
    assert.equal(line.admin, `http://127.0.0.1:${admin.address.port}/`);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await fetchRaw(admin, '/healthz', 'GET', agent);
    assert.equal(first.headers.connection, 'keep-alive');
    const sockets = Object.values(agent.freeSockets).flat() as Socket[];
    assert.equal(sockets.length, 1, 'the client holds an idle keep-alive connection');
    // Closed or reset: either way the server let go (events.once would reject on a reset).
    const closedEvent = (s: Socket): Promise<void> => new Promise((r) => s.once('close', () => r()));
    const idleClosed = closedEvent(sockets[0]!);
    const busy = connect({ host: '127.0.0.1', port: admin.address.port });
    busy.on('error', () => undefined);
    // If close() failed to cut them, the clients let go here so a failure cannot hang the run.
    t.after(() => {
      busy.destroy();
      agent.destroy();
    });
    const busyClosed = closedEvent(busy);
    busy.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await withTimeout(started, 10_000, 'the scrape to reach the source');
    await withTimeout(admin.close(), 10_000, 'admin.close() with a keep-alive client and a scrape in flight');
    await withTimeout(idleClosed, 10_000, 'the keep-alive connection to close');
    await withTimeout(busyClosed, 10_000, 'the connection of the stuck scrape to be cut');
    agent.destroy();
  });
});
