/**
 * `portplex run` as a child process, with the admin endpoint in this process (--workers 0) and in
 * the primary of a worker (--workers 1): the request lines that used to end the whole process,
 * and a batch of other malformed ones, are answered with 4xx; the process stays up, a long-lived
 * connection opened before them keeps flowing, and new connections keep routing to the backend.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, freePort, makeTempDir, spawnBounded } from '../helpers/interop.js';
import { longTransfer, namedEchoServer, whoServes } from '../helpers/echo.js';
import { firstStatus, rawExchange } from '../helpers/admin.js';

/** Each ended the process before: new URL() threw inside the request handler. */
const KILLERS = ['GET //[ HTTP/1.1', 'GET http://a:99999/ HTTP/1.1', 'GET http://[::1/ HTTP/1.1', 'HEAD //%/ HTTP/1.1', 'GET https://%zz/ HTTP/1.1', 'GET http://a%20b/ HTTP/1.1'];
const OTHERS = ['GET /%zz HTTP/1.1', 'OPTIONS * HTTP/1.1', 'CONNECT 127.0.0.1:22 HTTP/1.1', 'get / HTTP/1.1', 'GET /a#b HTTP/1.1', 'PRI * HTTP/2.0'];

for (const workers of [0, 1]) {
  it(`--workers ${workers}: malformed admin requests get 4xx, the process stays up and traffic keeps routing`, async (t) => {
    const backend = await namedEchoServer(t, 'a');
    const [listen, admin] = [await freePort(), await freePort()];
    const dir = makeTempDir(t, 'portplex-admin-');
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, `admin: { listen: "127.0.0.1:${admin}" }\nlisteners: ["127.0.0.1:${listen}"]\nbackends:\n  a: { servers: ["127.0.0.1:${backend.port}"] }\ndefault: a\n`);
    const px = spawnBounded(t, process.execPath, [join(REPO_ROOT, 'dist/src/cli.js'), 'run', '--rules', file, '--workers', String(workers), '--allow-root', '--log-format', 'json'], { name: 'portplex', lifetimeMs: 60_000 });
    await px.waitForOutput(/portplex running/, 20_000);
    assert.equal(await whoServes(listen), 'a');
    let stop!: () => void;
    const held = longTransfer(listen, { until: new Promise<void>((r) => (stop = r)) });
    assert.equal(await held.started, 'a');

    for (const line of [...KILLERS, ...OTHERS]) {
      const answer = await rawExchange(admin, `${line}\r\nHost: 127.0.0.1\r\n\r\n`);
      const status = firstStatus(answer);
      assert.ok(status !== undefined && status >= 400 && status < 500, `${line} -> ${JSON.stringify(answer.slice(0, 60))}`);
      assert.equal(px.exit(), undefined, `portplex exited after ${line}:\n${px.stderr()}`);
    }

    assert.equal(firstStatus(await rawExchange(admin, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')), 200);
    assert.equal(firstStatus(await rawExchange(admin, 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')), 200);
    for (let i = 0; i < 3; i++) assert.equal(await whoServes(listen), 'a');
    stop();
    const done = await held.done;
    assert.equal(done.echoed, done.sent, 'the connection held across the requests came back whole');
    assert.equal(px.exit(), undefined);
    assert.doesNotMatch(px.stdout() + px.stderr(), /uncaught|Unhandled|TypeError/i);
  });
}
