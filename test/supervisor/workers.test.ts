/**
 * `portplex run --workers N` as an admin runs it: rules in a directory, edited while traffic
 * flows, SIGHUP, a worker killed. Nothing established is cut, no byte is lost or changed, new
 * connections follow the new rules, and a dead worker is replaced.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT, freePort, makeTempDir, requireTool, runTool, spawnBounded, withTimeout, type Spawned } from '../helpers/interop.js';
import { longTransfer, namedEchoServer, whoServes, type Scope } from '../helpers/echo.js';
import { ownerOf } from '../helpers/socket-owner.js';

type T = Scope & Parameters<typeof makeTempDir>[0];

const rulesText = (listen: number, to: string, ports: { a: number; b: number }, admin?: number): string =>
  (admin === undefined ? '' : `admin: { listen: "127.0.0.1:${admin}" }\n`) +
  // Every client here is 127.0.0.1, and the native data plane makes the loops below faster than
  // the default per-address rate (100/s per worker): that limit is not what these tests are about.
  `limits: { per_ip: { rate: 0 } }\n` +
  `listeners: ["127.0.0.1:${listen}"]\n` +
  `backends:\n  a: { servers: ["127.0.0.1:${ports.a}"] }\n  b: { servers: ["127.0.0.1:${ports.b}"] }\n` +
  `routes:\n  - name: http-to-${to}\n    when: { protocol: http }\n    to: ${to}\ndefault: a\n`;

interface Cluster {
  readonly px: Spawned;
  readonly dir: string;
  readonly listen: number;
  readonly admin: number | undefined;
  readonly ports: { a: number; b: number };
  readonly backends: { a: Awaited<ReturnType<typeof namedEchoServer>>; b: Awaited<ReturnType<typeof namedEchoServer>> };
  /** JSON log lines of the primary and the workers. */
  lines(): Record<string, unknown>[];
  workerPids(): number[];
  /** Resolves once the log has `n` lines with this message. */
  waitForCount(msg: string, n: number, timeoutMs?: number): Promise<void>;
}

async function startCluster(t: T, workers: number, withAdmin = false): Promise<Cluster> {
  const a = await namedEchoServer(t, 'a');
  const b = await namedEchoServer(t, 'b');
  const ports = { a: a.port, b: b.port };
  const dir = makeTempDir(t, 'portplex-workers-');
  const listen = await freePort();
  const admin = withAdmin ? await freePort() : undefined;
  writeFileSync(join(dir, '10-main.yaml'), rulesText(listen, 'a', ports, admin));
  const px = spawnBounded(t, process.execPath, [join(REPO_ROOT, 'dist/src/cli.js'), 'run', '--rules', dir, '--workers', String(workers), '--allow-root', '--log-format', 'json'], {
    name: 'portplex',
    lifetimeMs: 120_000,
  });
  const lines = (): Record<string, unknown>[] =>
    px
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const count = (msg: string): number => lines().filter((l) => l.msg === msg).length;
  await px.waitForOutput(/portplex running/, 20_000);
  return {
    px,
    dir,
    listen,
    admin,
    ports,
    backends: { a, b },
    lines,
    workerPids: () => {
      const started = lines().filter((l) => l.msg === 'worker started').map((l) => l.worker as number);
      const dead = new Set(lines().filter((l) => l.msg === 'worker died: starting a new one').map((l) => l.worker as number));
      return started.filter((p) => !dead.has(p));
    },
    waitForCount: (msg, n, timeoutMs = 15_000) => px.waitForOutput(() => count(msg) >= n, timeoutMs, `${n}× "${msg}"`).then(() => undefined),
  };
}

/** Short connections, one after another, until `stop`: each must come back whole from a or b. */
async function shortConnections(port: number, stop: Promise<unknown>): Promise<{ ok: number; failures: string[] }> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  let ok = 0;
  const failures: string[] = [];
  while (!stopped) {
    const payload = randomBytes(1 + Math.floor(Math.random() * 32 * 1024));
    const request = Buffer.concat([Buffer.from('POST / HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'), payload]);
    try {
      const got = await withTimeout(
        new Promise<Buffer>((resolve, reject) => {
          const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
          const parts: Buffer[] = [];
          c.on('data', (d: Buffer) => parts.push(d));
          c.on('error', reject);
          c.on('end', () => c.end());
          c.on('close', () => resolve(Buffer.concat(parts)));
          c.end(request);
        }),
        10_000,
        'a short connection',
      );
      const nl = got.indexOf(10);
      const who = got.subarray(0, nl).toString('latin1');
      if ((who === 'a' || who === 'b') && got.subarray(nl + 1).equals(request)) ok++;
      else failures.push(`${who}: ${got.length - nl - 1} of ${request.length} bytes echoed`);
    } catch (e) {
      failures.push((e as Error).message);
    }
    // A loop that only fails would spin (and fill memory) until the test's timeouts: enough said.
    if (failures.length >= 50) break;
  }
  return { ok, failures };
}

it('reload under load: three rule changes (file edits, a broken file, SIGHUP) while connections stream; nothing cut, nothing lost, new rules applied', async (t) => {
  const c = await startCluster(t, 2);
  const file = join(c.dir, '10-main.yaml');
  let stopLoad: () => void = () => undefined;
  const stop = new Promise<void>((r) => (stopLoad = r));
  const transfers = [longTransfer(c.listen, { until: stop }), longTransfer(c.listen, { until: stop })];
  assert.deepEqual(await Promise.all(transfers.map((x) => x.started)), ['a', 'a']);
  const load = [shortConnections(c.listen, stop), shortConnections(c.listen, stop), shortConnections(c.listen, stop)];

  // 1: an edit, picked up by the watch.
  writeFileSync(file, rulesText(c.listen, 'b', c.ports));
  await c.waitForCount('rules reloaded: new connections use them, established ones keep theirs', 1);
  assert.equal(await whoServes(c.listen), 'b');
  // A broken edit is refused with file:line:col; the running rules stay.
  writeFileSync(file, rulesText(c.listen, 'a', c.ports).replace('protocol: http', 'protocol: htp'));
  await c.waitForCount('reload refused: the running rules stay', 1);
  const refused = c.lines().find((l) => l.msg === 'reload refused: the running rules stay')!;
  assert.match(String((refused.problems as string[])[0]), /10-main\.yaml:8:23: PORTPLEX_ERR_RULES_INVALID: .*protocol/);
  assert.equal(await whoServes(c.listen), 'b');
  // 2: the fix, picked up by the watch.
  writeFileSync(file, rulesText(c.listen, 'a', c.ports));
  await c.waitForCount('rules reloaded: new connections use them, established ones keep theirs', 2);
  assert.equal(await whoServes(c.listen), 'a');
  // 3: a second file in the directory, then SIGHUP (a watch event may reload it first: both are fine).
  writeFileSync(join(c.dir, '05-first.yaml'), 'routes:\n  - { name: http-first, when: { protocol: http }, to: b }\n');
  c.px.child.kill('SIGHUP');
  await c.waitForCount('rules reloaded: new connections use them, established ones keep theirs', 3);
  await withTimeout(
    (async () => {
      while ((await whoServes(c.listen)) !== 'b') await new Promise((r) => setTimeout(r, 50));
    })(),
    10_000,
    'the route from 05-first.yaml to apply',
  );

  stopLoad();
  const results = await withTimeout(Promise.all(load), 30_000, 'the short-connection loops');
  const failures = results.flatMap((r) => r.failures);
  assert.deepEqual(failures, [], 'short connections that failed');
  assert.ok(results.every((r) => r.ok > 0), `every loop made connections: ${results.map((r) => r.ok).join(', ')}`);
  for (const x of transfers) {
    const r = await withTimeout(x.done, 30_000, 'a long transfer');
    assert.equal(r.bytes, r.sentBytes, 'every byte came back');
    assert.equal(r.echoed, r.sent, 'the echo is byte-exact');
  }
  const transferred = await Promise.all(transfers.map((x) => x.done));
  t.diagnostic(`${results.reduce((n, r) => n + r.ok, 0)} short connections and ${transferred.map((r) => `${(r.bytes / 1048576).toFixed(1)} MiB`).join(' + ')} of long transfers across the reloads`);
  const closes = c.lines().filter((l) => l.msg === 'connection closed');
  assert.deepEqual(closes.filter((l) => l.reason !== 'done').map((l) => `${l.route}: ${l.reason}`), [], 'connections that did not end normally');
  c.px.child.kill('SIGTERM');
  const exit = await withTimeout(c.px.exited, 15_000, 'portplex to exit');
  assert.equal(exit.code, 0);
});

it('a worker killed is replaced; a transfer on the other worker runs on across three reloads and the restart, byte-exact; curl /metrics counts it and the status page shows routes and server health', async (t) => {
  const curl = requireTool(t, 'curl');
  if (curl === undefined) return;
  const c = await startCluster(t, 2, true);
  const file = join(c.dir, '10-main.yaml');
  await c.waitForCount('worker started', 2);
  let stopTransfer: () => void = () => undefined;
  const transfer = longTransfer(c.listen, { until: new Promise<void>((r) => (stopTransfer = r)) });
  assert.equal(await transfer.started, 'a');
  // The backend's side of the transfer: its peer port belongs to the worker carrying it.
  const backendSide = c.backends.a.open()[0]!;
  const carrier = ownerOf(backendSide.remotePort!, c.workerPids());
  assert.ok(carrier !== undefined, `the worker carrying the transfer (workers ${c.workerPids().join(', ')})`);
  const victim = c.workerPids().find((p) => p !== carrier)!;

  for (const [i, to] of (['b', 'a', 'b'] as const).entries()) {
    if (i === 1) {
      process.kill(victim, 'SIGKILL');
      await c.waitForCount('worker replaced', 1);
      assert.equal(c.workerPids().length, 2);
      assert.ok(!c.workerPids().includes(victim));
    }
    writeFileSync(file, rulesText(c.listen, to, c.ports, c.admin));
    await c.waitForCount('rules reloaded: new connections use them, established ones keep theirs', i + 1);
    // Round robin across both workers: each of several connections follows the new rules.
    for (let k = 0; k < 4; k++) assert.equal(await whoServes(c.listen), to, `reload ${i + 1}, connection ${k + 1}`);
  }
  stopTransfer();
  const r = await withTimeout(transfer.done, 30_000, 'the long transfer');
  assert.ok(r.sentBytes > 0);
  assert.equal(r.bytes, r.sentBytes);
  assert.equal(r.echoed, r.sent, 'byte-exact across three reloads and a worker restart');
  const died = c.lines().find((l) => l.msg === 'worker died: starting a new one')!;
  assert.equal(died.signal, 'SIGKILL');

  // curl /metrics: the transfer's bytes, both ways, under the route and backend that carried it,
  // from the worker that survived (the killed worker's own counts went with it).
  const metrics = await runTool(t, curl, ['-sS', '--max-time', '10', `http://127.0.0.1:${c.admin}/metrics`]);
  assert.equal(metrics.code, 0, metrics.stderr);
  const series = (name: string, labels: string): number => {
    const m = new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(metrics.stdout);
    assert.ok(m, `${name}{${labels}} in:\n${metrics.stdout.slice(0, 3000)}`);
    return Number(m[1]);
  };
  const route = 'listener="127.0.0.1:' + c.listen + '",route="http-to-a",backend="a"';
  assert.ok(series('portplex_bytes_total', `${route},direction="from_client"`) >= r.sentBytes);
  assert.ok(series('portplex_bytes_total', `${route},direction="to_client"`) >= r.bytes);
  assert.ok(series('portplex_connections_closed_total', `${route},outcome="done"`) >= 1);
  assert.equal(series('portplex_rule_reloads_total', 'result="ok"'), 3);
  assert.match(metrics.stdout, /^portplex_worker_restarts_total 1$/m);
  assert.equal(series('portplex_server_up', 'backend="a",server="127.0.0.1:' + c.ports.a + '",backup="false"'), 1);
  const ready = await runTool(t, curl, ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${c.admin}/readyz`]);
  assert.equal(ready.stdout, '200');
  // The status page: the routes now running with their hits, the backends and their servers' health.
  const page = await runTool(t, curl, ['-sS', '--max-time', '10', `http://127.0.0.1:${c.admin}/`]);
  for (const text of ['http-to-b', `127.0.0.1:${c.ports.a}`, `127.0.0.1:${c.ports.b}`, 'up in 2 of 2 workers']) assert.ok(page.stdout.includes(text), `the status page shows ${text}`);
  c.px.child.kill('SIGTERM');
  assert.equal((await withTimeout(c.px.exited, 15_000, 'portplex to exit')).code, 0);
});

it('SIGTERM with workers: every worker drains its connections, then the primary exits 0', async (t) => {
  const c = await startCluster(t, 2);
  const held = connect({ port: c.listen, host: '127.0.0.1' });
  held.on('error', () => undefined);
  await once(held, 'connect');
  held.write('GET / HTTP/1.1\r\n\r\n');
  await once(held, 'data');
  c.px.child.kill('SIGTERM');
  await c.px.waitForOutput(/draining: no new connections/, 10_000);
  await assert.rejects(whoServes(c.listen), /ECONNREFUSED|ECONNRESET|premature/i);
  held.end();
  const exit = await withTimeout(c.px.exited, 15_000, 'portplex to exit');
  assert.equal(exit.code, 0);
  assert.equal(c.lines().filter((l) => l.msg === 'worker drained: exiting').length, 2);
});
