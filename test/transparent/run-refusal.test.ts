/**
 * `portplex run` and transparent servers: refused on the js data plane before anything binds (exit
 * 1, PORTPLEX_ERR_TRANSPARENT); started as root with `user:`, the native plane keeps CAP_NET_ADMIN
 * (and CAP_NET_BIND_SERVICE), and only those, across the switch, so transparent connects work as
 * nobody, in one process and in workers.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAddon } from '../../src/native/addon.js';
import { REPO_ROOT, freePort, makeTempDir, runTool, skipUnlessCi, spawnBounded, waitForPort } from '../helpers/interop.js';
import { connect, createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';

const CLI = join(REPO_ROOT, 'dist/src/cli.js');
const envWithout = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env['PORTPLEX_DATAPLANE'];
  return env;
};
const rulesFile = (dir: string, text: string): string => {
  const f = join(dir, `r${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, text);
  return f;
};

it('on the js data plane: refused before anything binds', async (t) => {
  const dir = makeTempDir(t, 'portplex-tp-refuse-');
  const file = rulesFile(dir, `listeners: ["127.0.0.1:0"]\nbackends:\n  ssh: { transparent: true, servers: ["127.0.0.1:22"] }\ndefault: ssh\n`);
  const js = await runTool(t, process.execPath, [CLI, 'run', '--rules', file, '--workers', '0', '--allow-root', '--dataplane', 'js'], { env: envWithout(), timeoutMs: 15_000 });
  assert.equal(js.code, 1, js.stdout + js.stderr);
  assert.match(js.stderr, /^PORTPLEX_ERR_TRANSPARENT: backend "ssh" server 127\.0\.0\.1:22 is transparent, and transparent mode needs the native data plane/m);
});

/** Who the backend says connected, through portplex. */
async function whoConnected(port: number): Promise<string> {
  const c = connect({ port, host: '127.0.0.1' });
  const parts: Buffer[] = [];
  c.on('data', (d: Buffer) => parts.push(d));
  await once(c, 'connect');
  c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => setTimeout(r, 200));
  c.destroy();
  return Buffer.concat(parts).toString('latin1').split('\n')[0]!;
}

for (const workers of [0, 2]) {
  it(`root with user: nobody (--workers ${workers}): the native plane keeps CAP_NET_BIND_SERVICE and CAP_NET_ADMIN, only those, and transparent connects work`, { timeout: 60_000 }, async (t) => {
    if (process.getuid?.() !== 0 || !loadAddon().ok) {
      skipUnlessCi(t, 'needs root and the native addon');
      return;
    }
    // The backend answers with the address that connected: 127.0.0.1 bound with IP_TRANSPARENT
    // (the client's), which needs CAP_NET_ADMIN at the connect, long after the switch.
    const listen = await freePort();
    const dir = makeTempDir(t, 'portplex-tp-keep-');
    const server = createServer((c) => {
      c.on('error', () => undefined);
      c.end(`${c.remoteAddress}\n`);
    });
    server.listen(0, '127.0.0.1');
    t.after(() => server.close());
    await once(server, 'listening');
    const who = (server.address() as AddressInfo).port;
    const file = rulesFile(dir, `user: nobody\nlisteners: ["127.0.0.1:${listen}"]\nbackends:\n  who: { transparent: true, servers: ["127.0.0.1:${who}"] }\ndefault: who\n`);
    const p = spawnBounded(t, process.execPath, [CLI, 'run', '--rules', file, '--workers', String(workers), '--log-format', 'json', '--no-watch'], { name: 'portplex', env: envWithout(), lifetimeMs: 50_000 });
    await p.waitForOutput(/portplex running/, 20_000, 'the start');
    await waitForPort(listen, { proc: p });
    for (let i = 0; i < 4; i++) assert.equal(await whoConnected(listen), '127.0.0.1');
    const pids = workers === 0 ? [p.child.pid!] : p.stdout().split('\n').filter((l) => l.includes('"worker started"')).map((l) => (JSON.parse(l) as { worker: number }).worker);
    assert.equal(pids.length, Math.max(1, workers));
    for (const pid of pids) {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      assert.match(status, /^Uid:\s+65534\s/m);
      // Bits 10 (CAP_NET_BIND_SERVICE) and 12 (CAP_NET_ADMIN), permitted and effective; nothing inheritable.
      assert.match(status, /^CapEff:\s+0000000000001400$/m);
      assert.match(status, /^CapPrm:\s+0000000000001400$/m);
      assert.match(status, /^CapInh:\s+0000000000000000$/m);
    }
    assert.doesNotMatch(p.stdout(), /"reason":"backend-unreachable"/);
  });
}

it('portplex transparent setup: prints without root; bad flags, contradictory flags and rules with nothing to route are usage errors (exit 2)', async (t) => {
  const dir = makeTempDir(t, 'portplex-tp-setup-');
  const tp = rulesFile(dir, `listeners: ["127.0.0.1:0"]\nbackends:\n  ssh: { transparent: true, servers: ["127.0.0.1:22"] }\ndefault: ssh\n`);
  const none = rulesFile(dir, `listeners: ["127.0.0.1:0"]\nbackends:\n  ssh: { servers: ["127.0.0.1:22"] }\ndefault: ssh\n`);
  const setup = (args: string[]): ReturnType<typeof runTool> => runTool(t, process.execPath, [CLI, 'transparent', 'setup', ...args], { timeoutMs: 15_000 });
  const printed = await setup(['--rules', tp]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.match(printed.stdout, /^nft -f - <<'EOF'$/m);
  assert.match(printed.stdout, /ip saddr 127\.0\.0\.1 tcp sport 22 meta mark set 0x1/);
  for (const [args, re] of [
    [['--rules', tp, '--mark', 'zero'], /--mark "zero": expected a number from 1 to 0xffffffff/],
    [['--rules', tp, '--mark', '0x100000000'], /--mark/],
    [['--rules', tp, '--table', '254'], /--table "254": .*not 253-255/],
    [['--rules', tp, '--table', '-1'], /--table/],
    [['--rules', tp, '--apply', '--remove'], /--apply and --remove together/],
    [['--rules', none], /nothing to route/],
    [['--rules', join(dir, 'missing.yaml')], /missing\.yaml/],
  ] as const) {
    const r = await setup([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re);
  }
});
