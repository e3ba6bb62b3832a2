/**
 * `portplex run` picks its data plane the way an admin asks for it: --dataplane, then
 * PORTPLEX_DATAPLANE, then `dataplane:` in the rules, then auto (the addon where it loads). It says
 * which one runs and why, shows it in /metrics, refuses a native it cannot have, and with workers
 * and `user:` binds a privileged port as root and drops before the first accept.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { loadAddon } from '../../src/native/addon.js';
import { REPO_ROOT, freePort, makeTempDir, runTool, skipUnlessCi, spawnBounded, waitForPort, type Spawned } from '../helpers/interop.js';
import { namedEchoServer, whoServes } from '../helpers/echo.js';

const CLI = join(REPO_ROOT, 'dist/src/cli.js');
type T = Parameters<typeof makeTempDir>[0] & Parameters<typeof skipUnlessCi>[0];

/** The environment without a data plane in it: the tests below say which one they want. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!('PORTPLEX_DATAPLANE' in extra)) delete e['PORTPLEX_DATAPLANE'];
  if (!('PORTPLEX_NATIVE_ADDON' in extra)) delete e['PORTPLEX_NATIVE_ADDON'];
  return e;
}

function writeRules(t: T, body: string): string {
  const file = join(makeTempDir(t, 'portplex-dataplane-'), 'rules.yaml');
  writeFileSync(file, body);
  return file;
}

const rulesFor = (listen: string, backend: number, extra = ''): string =>
  `${extra}listeners: ["${listen}"]\nbackends: { web: { servers: ["127.0.0.1:${backend}"] } }\ndefault: web\n`;

const jsonLines = (p: Spawned): Record<string, unknown>[] =>
  p
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const choiceLine = (p: Spawned): Record<string, unknown> | undefined => jsonLines(p).find((l) => typeof l.msg === 'string' && l.msg.startsWith('data plane: '));

function startRun(t: T, args: readonly string[], extraEnv: Record<string, string> = {}): Spawned {
  return spawnBounded(t, process.execPath, [CLI, 'run', '--allow-root', '--log-format', 'json', '--no-watch', ...args], { name: 'portplex', env: env(extraEnv), lifetimeMs: 60_000 });
}

async function started(p: Spawned): Promise<Record<string, unknown>> {
  await p.waitForOutput(/portplex running/, 20_000, 'the start');
  const line = choiceLine(p);
  assert.ok(line, `no "data plane:" line in:\n${p.stdout()}`);
  return line;
}

const addonBuilt = (): boolean => loadAddon().ok;

describe('asking for a data plane', () => {
  it('a --dataplane or PORTPLEX_DATAPLANE that is not auto, native or js is a usage error (exit 2), never a silent pick', async (t) => {
    const file = writeRules(t, rulesFor('127.0.0.1:0', 1));
    const flag = await runTool(t, process.execPath, [CLI, 'run', '--rules', file, '--workers', '0', '--dataplane', 'fast'], { env: env() });
    assert.equal(flag.code, 2, flag.stderr);
    assert.match(flag.stderr, /--dataplane "fast": expected auto, native, js/);
    const fromEnv = await runTool(t, process.execPath, [CLI, 'run', '--rules', file, '--workers', '0', '--allow-root'], { env: env({ PORTPLEX_DATAPLANE: 'Native' }) });
    assert.equal(fromEnv.code, 2, fromEnv.stdout + fromEnv.stderr);
    assert.match(fromEnv.stderr, /PORTPLEX_DATAPLANE="Native": expected auto, native, js/);
  });

  it('a `dataplane:` the rules cannot hold is a rule error with its line', async (t) => {
    const file = writeRules(t, rulesFor('127.0.0.1:0', 1, 'dataplane: splice\n'));
    const r = await runTool(t, process.execPath, [CLI, 'check', file], { env: env() });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /rules\.yaml:1:\d+: PORTPLEX_ERR_RULES_INVALID: .*dataplane/);
  });

  it('native where the addon cannot load refuses to start (exit 1, PORTPLEX_ERR_DATAPLANE_UNAVAILABLE); auto runs js and says why', async (t) => {
    const backend = await namedEchoServer(t, 'web');
    const file = writeRules(t, rulesFor('127.0.0.1:0', backend.port));
    const missing = { PORTPLEX_NATIVE_ADDON: join(makeTempDir(t), 'portplex.node') };
    const forced = await runTool(t, process.execPath, [CLI, 'run', '--rules', file, '--workers', '0', '--allow-root', '--log-format', 'json', '--dataplane', 'native'], { env: env(missing), timeoutMs: 15_000 });
    assert.equal(forced.code, 1, forced.stdout + forced.stderr);
    assert.match(forced.stdout + forced.stderr, /PORTPLEX_ERR_DATAPLANE_UNAVAILABLE: the native data plane was asked for \(--dataplane\), but the addon was not built/);

    const auto = startRun(t, ['--rules', file, '--workers', '0'], missing);
    const line = await started(auto);
    assert.equal(line.dataplane, 'js');
    assert.equal(line.asked, 'auto');
    assert.equal(line.source, 'default');
    assert.match(String(line.reason), /the addon was not built/);
    assert.equal(line.level, 30, 'a fallback the admin did not ask about is said at info level, once');
  });

  it('auto runs native where the addon loads, says so at start and in /metrics, and routes', async (t) => {
    if (!addonBuilt()) {
      skipUnlessCi(t, `the addon does not load here: ${(loadAddon() as { reason: string }).reason}`);
      return;
    }
    const backend = await namedEchoServer(t, 'web');
    const listen = await freePort();
    const admin = await freePort();
    const file = writeRules(t, rulesFor(`127.0.0.1:${listen}`, backend.port, `admin: { listen: "127.0.0.1:${admin}" }\n`));
    const p = startRun(t, ['--rules', file, '--workers', '0']);
    const line = await started(p);
    assert.deepEqual([line.dataplane, line.asked, line.source, line.reason], ['native', 'auto', 'default', 'the addon is built and loads']);
    assert.equal(line.msg, 'data plane: native (the addon owns the TCP sockets)');
    await waitForPort(listen, { proc: p });
    assert.equal(await whoServes(listen), 'web');
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    assert.match(metrics, /^portplex_dataplane_info\{dataplane="native"\} 1$/m);
    // The process maps the addon: the native plane is really the one running.
    assert.match(readFileSync(`/proc/${p.child.pid!}/maps`, 'utf8'), /portplex\.node/);

    // A reload cannot switch planes under established connections: it says so and keeps routing.
    writeFileSync(file, rulesFor(`127.0.0.1:${listen}`, backend.port, `admin: { listen: "127.0.0.1:${admin}" }\ndataplane: js\n`));
    p.child.kill('SIGHUP');
    await p.waitForOutput(/dataplane: changed; the data plane changes only on restart/, 10_000, 'the reload warning');
    const warn = jsonLines(p).find((l) => l.msg === 'dataplane: changed; the data plane changes only on restart')!;
    assert.deepEqual([warn.level, warn.dataplane, warn.asked], [40, 'native', 'js']);
    assert.equal(await whoServes(listen), 'web');
  });

  it('the rules say js, the environment outranks them, the flag outranks both', async (t) => {
    const backend = await namedEchoServer(t, 'web');
    const listen = await freePort();
    const file = writeRules(t, rulesFor(`127.0.0.1:${listen}`, backend.port, 'dataplane: js\n'));
    const byRules = startRun(t, ['--rules', file, '--workers', '0']);
    const a = await started(byRules);
    assert.deepEqual([a.dataplane, a.asked, a.source], ['js', 'js', 'rules']);
    assert.equal(a.msg, 'data plane: js (node:net owns the TCP sockets)');
    await waitForPort(listen, { proc: byRules });
    assert.equal(await whoServes(listen), 'web');
    await byRules.stop();
    if (!addonBuilt()) {
      skipUnlessCi(t, 'the rest needs the addon');
      return;
    }
    const byEnv = startRun(t, ['--rules', file, '--workers', '0'], { PORTPLEX_DATAPLANE: 'native' });
    const b = await started(byEnv);
    assert.deepEqual([b.dataplane, b.asked, b.source], ['native', 'native', 'PORTPLEX_DATAPLANE']);
    await byEnv.stop();
    const byFlag = startRun(t, ['--rules', file, '--workers', '0', '--dataplane', 'js'], { PORTPLEX_DATAPLANE: 'native' });
    const c = await started(byFlag);
    assert.deepEqual([c.dataplane, c.asked, c.source], ['js', 'js', '--dataplane']);
  });

  it('workers and a port 0 listener: auto runs js (each native worker would get a port of its own), native refuses', async (t) => {
    const backend = await namedEchoServer(t, 'web');
    const file = writeRules(t, `listeners: [{ name: anyport, bind: "127.0.0.1:0" }]\nbackends: { web: { servers: ["127.0.0.1:${backend.port}"] } }\ndefault: web\n`);
    const auto = startRun(t, ['--rules', file, '--workers', '2']);
    const line = await started(auto);
    assert.equal(line.dataplane, 'js');
    assert.match(String(line.reason), /listener "anyport" binds port 0 and there are 2 workers/);
    await auto.stop();
    const forced = await runTool(t, process.execPath, [CLI, 'run', '--rules', file, '--workers', '2', '--allow-root', '--dataplane', 'native'], { env: env(), timeoutMs: 15_000 });
    assert.equal(forced.code, 1, forced.stdout + forced.stderr);
    assert.match(forced.stdout + forced.stderr, /PORTPLEX_ERR_DATAPLANE_UNAVAILABLE: .*give the listener a port/);
  });
});

/** A port below 1024 nothing listens on (only root can bind it; this test runs as root). */
async function freePrivilegedPort(): Promise<number> {
  for (let port = 600; port < 1024; port++) {
    const s: Server = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      s.close();
      await once(s, 'close');
      return port;
    }
  }
  throw new Error('no free port from 600 to 1023');
}

const uidOf = (pid: number): number => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

describe('workers, user: and a privileged port', () => {
  for (const plane of ['native', 'js'] as const) {
    it(`${plane}: the port is bound as root, every worker runs as nobody before its first accept, and traffic flows`, { timeout: 60_000 }, async (t) => {
      if (process.getuid?.() !== 0) {
        skipUnlessCi(t, 'binding a port below 1024 and dropping to nobody needs root');
        return;
      }
      if (plane === 'native' && !addonBuilt()) {
        skipUnlessCi(t, 'the native plane needs the addon');
        return;
      }
      const backend = await namedEchoServer(t, 'web');
      const listen = await freePrivilegedPort();
      const file = writeRules(t, rulesFor(`127.0.0.1:${listen}`, backend.port, 'user: nobody\n'));
      const p = spawnBounded(t, process.execPath, [CLI, 'run', '--rules', file, '--workers', '2', '--log-format', 'json', '--no-watch', '--dataplane', plane], { name: 'portplex', env: env(), lifetimeMs: 60_000 });
      await p.waitForOutput(/portplex running/, 20_000, 'the start');
      assert.equal(choiceLine(p)?.dataplane, plane);
      await waitForPort(listen, { proc: p });
      for (let i = 0; i < 6; i++) assert.equal(await whoServes(listen), 'web');
      const workers = jsonLines(p).filter((l) => l.msg === 'worker started').map((l) => l.worker as number);
      assert.equal(workers.length, 2, p.stdout());
      for (const pid of workers) {
        assert.equal(uidOf(pid), 65534, `worker ${pid} runs as nobody`);
        const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
        assert.equal(/portplex\.node/.test(maps), plane === 'native', `worker ${pid} ${plane === 'native' ? 'maps' : 'does not map'} the addon`);
      }

      // A reload that adds a second port below 1024: node:cluster's primary (root) binds it for js
      // workers; a native worker, nobody by now, kept CAP_NET_BIND_SERVICE for this (README: The data plane).
      const second = await freePrivilegedPort();
      writeFileSync(file, `user: nobody\nlisteners: ["127.0.0.1:${listen}", "127.0.0.1:${second}"]\nbackends: { web: { servers: ["127.0.0.1:${backend.port}"] } }\ndefault: web\n`);
      p.child.kill('SIGHUP');
      await p.waitForOutput(/rules reloaded: new connections use them/, 15_000, 'the reload');
      await waitForPort(second, { proc: p });
      assert.equal(await whoServes(second), 'web');
      assert.equal(await whoServes(listen), 'web');
    });
  }
});
