/**
 * A reload that keeps admin.listen passes the new token and allowed_hosts to the running endpoint
 * (AdminHost, as `portplex run` drives it): the rules are re-read, the token file with them, and
 * the next request is judged by the new ones without the endpoint being rebound.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
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
