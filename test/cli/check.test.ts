/**
 * `portplex check FILE` as an admin runs it before a reload: exit 2 with file:line:col and a code
 * for what `run` would refuse, exit 0 with file:line:col warnings for likely mistakes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const asRoot = process.getuid?.() === 0;

function check(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'check', file], { timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

describe('portplex check', () => {
  let dir = '';
  const write = (name: string, text: string): string => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'portplex-check-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses two listeners on one address, with file:line:col and the code', async () => {
    const f = write('conflict.yaml', 'listeners:\n  - { name: a, bind: ":18443" }\n  - { name: b, bind: "127.0.0.1:18443" }\nbackends:\n  web: { servers: ["127.0.0.1:1"] }\ndefault: web\nuser: nobody\n');
    const r = await check(f);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:22: PORTPLEX_ERR_RULES_INVALID: listener "b": 127\\.0\\.0\\.1:18443 is already used by listener "a"`, 'm'));
  });

  it('warns about an unused backend and a shadowed route, and passes', async () => {
    const f = write('dead.yaml', 'listeners: ["127.0.0.1:18443"]\nbackends:\n  web: { servers: ["127.0.0.1:1"] }\n  old: { servers: ["127.0.0.1:2"] }\nroutes:\n  - { name: all, to: web }\n  - { name: ssh, when: { protocol: ssh }, to: web }\nuser: nobody\n');
    const r = await check(f);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /dead\.yaml:4:3: warning: backend "old" is not used/);
    assert.match(r.stderr, /dead\.yaml:7:5: warning: route "ssh" is never taken: the earlier route "all" .*\(a catch-all\)/);
    assert.match(r.stdout, /OK/);
  });

  it('started as root with no user: warns naming --allow-root (only when this test runs as root)', async () => {
    const f = write('root.yaml', 'listeners: ["127.0.0.1:18443"]\nbackends:\n  web: { servers: ["127.0.0.1:1"] }\ndefault: web\n');
    const r = await check(f);
    assert.equal(r.code, 0, r.stderr);
    if (asRoot) assert.match(r.stderr, /root\.yaml:1:1: warning: started as root, as this check is, `run` refuses to start: .*--allow-root/);
    else assert.doesNotMatch(r.stderr, /--allow-root/);
  });

  it('a user that does not exist: an error as root, a warning otherwise', async () => {
    const f = write('ghost.yaml', 'listeners: ["127.0.0.1:18443"]\nbackends:\n  web: { servers: ["127.0.0.1:1"] }\ndefault: web\nuser: portplex-ghost-user\n');
    const r = await check(f);
    if (asRoot) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /ghost\.yaml:5:7: PORTPLEX_ERR_ROOT: user: user "portplex-ghost-user" is not in \/etc\/passwd/);
    } else {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /ghost\.yaml:5:7: warning: user: user "portplex-ghost-user" is not in \/etc\/passwd/);
    }
  });
});
