/**
 * A reload that keeps admin.listen passes the new token and allowed_hosts to the running endpoint
 * (AdminHost, as `portplex run` drives it): the rules are re-read, the token file with them, and
 * the next request is judged by the new ones without the endpoint being rebound.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadRules } from '../../src/config/load.js';
import { AdminHost } from '../../src/supervisor/admin-host.js';
import { LogCapture } from '../helpers/net.js';
import { makeTempDir } from '../helpers/interop.js';
import { adminState, compileOrFail, firstStatus, metricsSource, rawExchange, standardScene, ADMIN_RULES } from '../helpers/admin.js';

const OLD = 'old-token-0123456789abcdef';
const NEW = 'new-token-fedcba9876543210';

it('a reload re-reads token_file and allowed_hosts and applies them to the running endpoint at once', async (t) => {
  const dir = makeTempDir(t, 'portplex-admin-reload-');
  const file = join(dir, 'rules.yaml');
  const write = (token: string, hosts: string[]): void => {
    writeFileSync(join(dir, 'token'), `${token}\n`);
    writeFileSync(file, `listeners: ["127.0.0.1:0"]\nbackends: { web: { servers: ["127.0.0.1:1"] } }\ndefault: web\nadmin:\n  listen: "127.0.0.1:0"\n  token_file: token\n  allowed_hosts: ${JSON.stringify(hosts)}\n`);
  };
  const load = (): NonNullable<ReturnType<typeof loadRules> & { ok: true }>['rules']['admin'] => {
    const r = loadRules(file);
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
    return r.rules.admin;
  };
  const rules = compileOrFail(ADMIN_RULES);
  const host = new AdminHost(metricsSource(standardScene(rules), () => adminState(rules)), new LogCapture().logger);
  t.after(() => host.close());
  const ask = async (token: string, name = '127.0.0.1'): Promise<number | undefined> =>
    firstStatus(await rawExchange(host.port!, `GET /metrics HTTP/1.1\r\nHost: ${name}\r\nAuthorization: Bearer ${token}\r\n\r\n`));

  write(OLD, []);
  await host.apply(load());
  const port = host.port;
  assert.deepEqual([await ask(OLD), await ask(NEW), await ask(OLD, 'portplex.example')], [200, 401, 421]);

  write(NEW, ['portplex.example']);
  await host.reapply(load());
  assert.equal(host.port, port, 'not rebound');
  assert.deepEqual([await ask(OLD), await ask(NEW), await ask(NEW, 'portplex.example')], [401, 200, 200]);
});

it('a reload whose new admin.listen cannot be bound still applies the new token; another spelling of the same port moves', async (t) => {
  const dir = makeTempDir(t, 'portplex-admin-move-');
  const file = join(dir, 'rules.yaml');
  const write = (token: string, listen: string): void => {
    writeFileSync(join(dir, 'token'), `${token}\n`);
    writeFileSync(file, `listeners: ["127.0.0.1:0"]\nbackends: { web: { servers: ["127.0.0.1:1"] } }\ndefault: web\nadmin:\n  listen: "${listen}"\n  token_file: token\n`);
  };
  const load = (): NonNullable<ReturnType<typeof loadRules> & { ok: true }>['rules']['admin'] => {
    const r = loadRules(file);
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
    return r.rules.admin;
  };
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => taken.close(() => r())));
  const takenPort = (taken.address() as AddressInfo).port;
  const rules = compileOrFail(ADMIN_RULES);
  const logs = new LogCapture();
  const host = new AdminHost(metricsSource(standardScene(rules), () => adminState(rules)), logs.logger);
  t.after(() => host.close());
  const ask = async (token: string): Promise<number | undefined> =>
    firstStatus(await rawExchange(host.port!, `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`));

  write(OLD, '127.0.0.1:0');
  await host.apply(load());
  const port = host.port!;
  assert.equal(await ask(OLD), 200);

  // The move fails (the port is someone else's): the endpoint stays where it was, and the leaked
  // token the reload revoked no longer works there.
  write(NEW, `127.0.0.1:${takenPort}`);
  await host.reapply(load());
  assert.equal(host.port, port, 'the running endpoint stays');
  assert.deepEqual([await ask(OLD), await ask(NEW)], [401, 200]);
  assert.ok(logs.lines.some((l) => l.msg === 'admin endpoint not moved: the running one stays, with the new access settings'));

  // The same port spelt another way: the old endpoint makes room instead of colliding with it.
  write(NEW, `127.0.0.1:${port}`);
  await host.apply(load());
  write(NEW, `localhost:${port}`);
  await host.apply(load());
  assert.equal(host.port, port);
  assert.equal(await ask(NEW), 200);
});
