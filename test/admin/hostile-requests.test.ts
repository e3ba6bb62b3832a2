/**
 * The admin endpoint against hostile requests on a real loopback socket: the request line that
 * ended the process (`GET //[`), odd targets and headers, what node:http itself refuses
 * (clientError), CONNECT, pipelining garbage behind a request; a fault in any handler is a 500
 * (or a close) and a PORTPLEX_ERR_ADMIN_INTERNAL log line, never a crash; the token and the Host
 * check over the wire, and both changed on a live endpoint.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startAdminServer, type AdminAccess, type RunningAdmin } from '../../src/admin/server.js';
import { OPEN_ACCESS } from '../../src/admin/gate.js';
import { tokenDigest } from '../../src/config/admin-token.js';
import { hostPolicy } from '../../src/admin/host-check.js';
import type { Logger } from '../../src/observe/logger.js';
import { LogCapture } from '../helpers/net.js';
import { ADMIN_RULES, adminState, compileOrFail, firstStatus, metricsSource, rawExchange, standardScene } from '../helpers/admin.js';

const rules = compileOrFail(ADMIN_RULES);
const source = metricsSource(standardScene(rules), () => adminState(rules));

async function start(t: TestContext, access: AdminAccess = OPEN_ACCESS, logger?: Logger): Promise<{ admin: RunningAdmin; logs: LogCapture }> {
  const logs = new LogCapture('debug');
  const admin = await startAdminServer({ host: '127.0.0.1', port: 0 }, source, logger ?? logs.logger, access);
  t.after(() => admin.close());
  return { admin, logs };
}

const get = (path: string, headers = 'Host: 127.0.0.1\r\n', method = 'GET', version = 'HTTP/1.1'): string => `${method} ${path} ${version}\r\n${headers}\r\n`;
const internalErrors = (logs: LogCapture): Record<string, unknown>[] => logs.lines.filter((l) => l.code === 'PORTPLEX_ERR_ADMIN_INTERNAL');

describe('admin endpoint: hostile requests', () => {
  it('GET //[ (which made new URL() throw and ended the process) is a 400, and the endpoint keeps answering', async (t) => {
    const { admin } = await start(t);
    const answer = await rawExchange(admin.address.port, get('//['));
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    assert.match(answer, /bad request: character 0x5b at offset 2 is not allowed in a path/);
    assert.equal(firstStatus(await rawExchange(admin.address.port, get('/healthz'))), 200);
  });

  it('every odd target, Host and method gets its 4xx; a valid one its 200', async (t) => {
    const { admin, logs } = await start(t);
    const cases: [string, number][] = [
      [get('http://a:99999/'), 400],
      [get('http://[::1/'), 400],
      [get('http://u@127.0.0.1/metrics'), 400],
      [get('https://%zz/'), 400],
      [get('//a:b/'), 404],
      [get('//a:99999'), 404],
      [get('/%zz'), 400],
      [get('/%'), 400],
      [get('/a#frag'), 400],
      [get('*'), 400],
      [get('OPTIONS', undefined, 'GET'), 400],
      [get('*', undefined, 'OPTIONS'), 405],
      [get('/metrics', undefined, 'POST'), 405],
      [get('/metrics', 'Host: 127.0.0.1\r\nHost: 127.0.0.1\r\n'), 400],
      [get('/metrics', 'Host: [::1\r\n'), 400],
      [get('/metrics', 'Host: 127.0.0.1:99999\r\n'), 400],
      [get('/metrics', 'Host:\r\n'), 400],
      [get('/metrics', 'Host: attacker.example:9900\r\n'), 421],
      [get('http://attacker.example/metrics'), 421],
      [get('/metrics', ''), 400],
      [get('/healthz', '', 'GET', 'HTTP/1.0'), 200],
      [get('/%68ealthz?probe=1'), 200],
      [get('http://127.0.0.1/readyz', 'Host: attacker.example\r\n'), 200],
      [get('/healthz', 'Host: localhost:1\r\n'), 200],
      [get('/healthz', 'Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'), 200],
      [get('/healthz', 'Host: 127.0.0.1\r\nExpect: 100-continue\r\n'), 200],
      [get('/healthz', 'Host: 127.0.0.1\r\nExpect: nothing\r\n'), 417],
      [get('/healthz', 'Host: 127.0.0.1\r\nContent-Length: 5\r\n') + 'abcde', 200],
      [get('/nope'), 404],
    ];
    for (const [request, want] of cases) {
      const answer = await rawExchange(admin.address.port, request);
      assert.equal(firstStatus(answer), want, `${JSON.stringify(request)} -> ${JSON.stringify(answer.slice(0, 80))}`);
    }
    assert.deepEqual(internalErrors(logs), []);
  });

  it('what node:http cannot parse is a 400 (431 for huge headers) and a close; CONNECT a 405', async (t) => {
    const { admin, logs } = await start(t);
    const cases: [string, number | undefined][] = [
      ['get / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 400],
      ['GET /\x7f HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 400],
      ['GET /\xe9 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX: a\x00b\r\n\r\n', 400],
      ['GET / HTTP/1.1\nHost: 127.0.0.1\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n', 400],
      ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400],
      ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 400],
      [`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n', 405],
      ['', undefined],
    ];
    for (const [request, want] of cases) {
      const answer = await rawExchange(admin.address.port, request);
      assert.equal(firstStatus(answer), want, `${JSON.stringify(request.slice(0, 60))} -> ${JSON.stringify(answer.slice(0, 80))}`);
    }
    assert.ok(logs.lines.some((l) => l.msg === 'admin endpoint: unparsable request refused'), 'refusals are logged at debug level');
    assert.deepEqual(internalErrors(logs), []);
    assert.equal(firstStatus(await rawExchange(admin.address.port, get('/healthz'))), 200);
  });

  it('garbage pipelined behind a request: the request is answered whole, then the connection closes (no 400 spliced in)', async (t) => {
    const { admin } = await start(t);
    const answer = await rawExchange(admin.address.port, get('/status.json') + 'GARBAGE \x00\x01 //[\r\n\r\n');
    assert.equal(firstStatus(answer), 200);
    const length = Number(/\r\ncontent-length: (\d+)\r\n/i.exec(answer)?.[1]);
    const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
    assert.equal(Buffer.byteLength(body, 'latin1'), length, 'nothing after the body');
    assert.doesNotThrow(() => JSON.parse(body));
  });

  it('a fault in the request handler is a 500 and a PORTPLEX_ERR_ADMIN_INTERNAL line, and the endpoint keeps answering', async (t) => {
    let broken = true;
    const policy = hostPolicy([]);
    // An access whose host policy throws while it is broken: a fault in the synchronous part of the handler.
    const faulty: AdminAccess = {
      ...OPEN_ACCESS,
      hosts: {
        get allowed() {
          if (broken) throw new Error('host policy broke \x1b[31m');
          return policy.allowed;
        },
      },
    };
    const { admin, logs } = await start(t, faulty);
    const answer = await rawExchange(admin.address.port, get('/metrics', 'Host: portplex.example\r\n'));
    assert.equal(firstStatus(answer), 500);
    assert.match(answer, /internal error \(see the log: PORTPLEX_ERR_ADMIN_INTERNAL\)/);
    const line = await logs.waitFor((l) => l.code === 'PORTPLEX_ERR_ADMIN_INTERNAL');
    assert.deepEqual([line.stage, line.err, line.target], ['request', 'host policy broke \\x1b[31m', '/metrics']);
    broken = false;
    assert.equal(firstStatus(await rawExchange(admin.address.port, get('/metrics', 'Host: portplex.example\r\n'))), 421);
    assert.equal(firstStatus(await rawExchange(admin.address.port, get('/healthz'))), 200);
  });

  it('a fault while refusing an unparsable request closes that connection and is logged; the endpoint keeps answering', async (t) => {
    const capture = new LogCapture('debug');
    // A logger whose debug() throws: the clientError handler (which logs at debug) faults.
    const logger = Object.create(capture.logger, { debug: { value: () => { throw new Error('debug log broke'); } } }) as Logger;
    const { admin } = await start(t, OPEN_ACCESS, logger);
    assert.equal(await rawExchange(admin.address.port, 'get / HTTP/1.1\r\n\r\n'), '', 'closed without an answer');
    const line = await capture.waitFor((l) => l.code === 'PORTPLEX_ERR_ADMIN_INTERNAL');
    assert.deepEqual([line.stage, line.err], ['client-error', 'debug log broke']);
    // The same fault in the request handler (a 421 is logged at debug before it is sent): a 500.
    assert.equal(firstStatus(await rawExchange(admin.address.port, get('/metrics', 'Host: attacker.example\r\n'))), 500);
    assert.equal(firstStatus(await rawExchange(admin.address.port, get('/healthz'))), 200);
  });

  it('a fault in the async route is a 500 with stage "route"; /healthz, which needs no state, still answers', async (t) => {
    const capture = new LogCapture();
    const admin = await startAdminServer({ host: '127.0.0.1', port: 0 }, { metrics: source.metrics, state: () => { throw new Error('state broke'); } }, capture.logger);
    t.after(() => admin.close());
    assert.equal(firstStatus(await rawExchange(admin.address.port, get('/readyz'))), 500);
    const line = await capture.waitFor((l) => l.code === 'PORTPLEX_ERR_ADMIN_INTERNAL');
    assert.deepEqual([line.stage, line.err, line.target], ['route', 'state broke', '/readyz']);
    assert.equal(firstStatus(await rawExchange(admin.address.port, get('/healthz'))), 200);
  });

  it('with a token: 401 and WWW-Authenticate: Bearer without it, 200 with it, probes open; a live change of token and hosts applies at once', async (t) => {
    const token = 'dGhlLWFkbWluLXRva2VuLTEyMzQ1Njc4OTA=';
    const { admin, logs } = await start(t, { ...OPEN_ACCESS, token: { required: true, digest: tokenDigest(token) } });
    const port = admin.address.port;
    const denied = await rawExchange(port, get('/metrics'));
    assert.equal(firstStatus(denied), 401);
    assert.match(denied, /\r\nwww-authenticate: Bearer realm="portplex admin"\r\n/i);
    assert.equal(firstStatus(await rawExchange(port, get('/metrics', 'Host: 127.0.0.1\r\nAuthorization: Bearer nope\r\n'))), 401);
    assert.equal(firstStatus(await rawExchange(port, get('/metrics', `Host: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n`))), 200);
    assert.equal(firstStatus(await rawExchange(port, get('/', `Host: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n`, 'HEAD'))), 200);
    assert.equal(firstStatus(await rawExchange(port, get('/healthz'))), 200);
    assert.equal(firstStatus(await rawExchange(port, get('/readyz'))), 200);
    assert.ok(!JSON.stringify(logs.lines).includes(token), 'the token is never logged');

    admin.setAccess({ hosts: hostPolicy(['portplex.example']), token: { required: true, digest: tokenDigest('another-token-0123456789') } });
    assert.equal(firstStatus(await rawExchange(port, get('/metrics', `Host: portplex.example\r\nAuthorization: Bearer ${token}\r\n`))), 401);
    assert.equal(firstStatus(await rawExchange(port, get('/metrics', 'Host: portplex.example\r\nAuthorization: Bearer another-token-0123456789\r\n'))), 200);
    admin.setAccess(OPEN_ACCESS);
    assert.equal(firstStatus(await rawExchange(port, get('/metrics', 'Host: portplex.example\r\n'))), 421);
    assert.equal(firstStatus(await rawExchange(port, get('/metrics'))), 200);
  });
});
