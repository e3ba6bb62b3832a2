/**
 * `portplex run --workers 2` with a UDP listener: the kernel hands a shared UDP socket's datagrams
 * to whichever process reads first, so exactly one worker serves UDP. Every datagram of a flow
 * must then reach the backend through one socket, and every answer come back.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, freePort, makeTempDir, spawnBounded } from '../helpers/interop.js';
import { udpBackend, udpClient } from '../helpers/udp.js';

it('with two workers, one serves UDP: each flow keeps one backend socket and gets every answer', async (t) => {
  const backend = await udpBackend('echo');
  t.after(() => backend.close());
  const listen = await freePort();
  const dir = makeTempDir(t, 'portplex-udp-workers-');
  const file = join(dir, 'rules.yaml');
  writeFileSync(
    file,
    `listeners:\n  - { bind: "127.0.0.1:${listen}" }\n  - { bind: "127.0.0.1:${listen}", transport: udp }\n` +
      `backends:\n  echo: { transport: udp, servers: ["127.0.0.1:${backend.port}"] }\n  tcp: { servers: ["127.0.0.1:1"] }\n` +
      `default: tcp\nudp: { default: echo, idle: 60s }\n`,
  );
  const px = spawnBounded(t, process.execPath, [join(REPO_ROOT, 'dist/src/cli.js'), 'run', '--rules', file, '--workers', '2', '--allow-root', '--log-format', 'json'], {
    name: 'portplex',
    lifetimeMs: 60_000,
  });
  await px.waitForOutput(/portplex running/, 20_000);

  const clients = await Promise.all(Array.from({ length: 6 }, () => udpClient(listen)));
  t.after(() => Promise.all(clients.map((c) => c.close().catch(() => undefined))));
  const perClient = 8;
  for (let i = 0; i < perClient; i++) for (const [k, c] of clients.entries()) await c.send(Buffer.from(`client ${k} datagram ${i}`));
  for (const [k, c] of clients.entries()) {
    const answers = await c.inbox.count(perClient, 10_000);
    assert.deepEqual(
      answers.map((a) => a.data.toString()),
      Array.from({ length: perClient }, (_, i) => `echo:client ${k} datagram ${i}`),
      `client ${k}: every answer, in order`,
    );
  }
  const got = await backend.inbox.count(clients.length * perClient);
  const portsPerClient = new Map<string, Set<number>>();
  for (const r of got) {
    const k = r.data.toString().split(' ')[1]!;
    portsPerClient.set(k, (portsPerClient.get(k) ?? new Set()).add(r.from.port));
  }
  for (const [k, ports] of portsPerClient) assert.equal(ports.size, 1, `client ${k}'s datagrams came through one backend socket, one flow`);
  assert.equal(new Set(got.map((r) => r.from.port)).size, clients.length, 'one flow per client');

  await px.stop('SIGTERM', 15_000);
  const closed = px
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['msg'] === 'flow closed');
  assert.equal(closed.length, clients.length, 'each flow logged once, at shutdown');
  assert.equal(new Set(closed.map((l) => l['pid'])).size, 1, 'all flows in one worker');
});
