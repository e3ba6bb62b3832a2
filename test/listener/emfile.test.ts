/**
 * Descriptor exhaustion: portplex under a low `ulimit -n` runs out of descriptors, counts the
 * accept errors, keeps the connections it has, and accepts again once descriptors are free.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT, freePort, makeTempDir, spawnBounded, waitForPort } from '../helpers/interop.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

it('recovers after EMFILE: existing connections are unaffected and new ones are accepted again', async (t) => {
  const held = new Set<Socket>();
  const backend = createServer((s) => {
    held.add(s);
    s.on('error', () => undefined);
    s.on('close', () => held.delete(s));
    s.on('data', (d: Buffer) => s.write(d));
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  t.after(() => {
    for (const s of held) s.destroy();
    backend.close();
  });
  const dir = makeTempDir(t);
  const port = await freePort();
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, `listeners: ["127.0.0.1:${port}"]\nlimits: { per_ip: { connections: 0, rate: 0, inspecting: 0 } }\nbackends:\n  b: { servers: ["127.0.0.1:${(backend.address() as AddressInfo).port}"] }\ndefault: b\n`);
  const px = spawnBounded(t, 'bash', ['-c', `ulimit -n 96 && exec node ${join(REPO_ROOT, 'dist/src/cli.js')} run --rules ${rules} --allow-root --log-format json`], { name: 'portplex', lifetimeMs: 30_000 });
  await waitForPort(port, { proc: px });

  const clients: Socket[] = [];
  const echo = (s: Socket, msg: string): Promise<boolean> =>
    new Promise((resolve) => {
      let acc = '';
      const timer = setTimeout(() => resolve(false), 1500);
      s.on('data', (d: Buffer) => {
        acc += d.toString();
        if (acc.includes(msg)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      s.once('close', () => resolve(false));
      s.write(msg);
    });
  const early = connect({ port, host: '127.0.0.1' });
  early.on('error', () => undefined);
  await once(early, 'connect');
  assert.equal(await echo(early, 'before-the-flood'), true);
  // Far more connections than descriptors: each one costs portplex two (client and backend).
  for (let i = 0; i < 80; i++) {
    const s = connect({ port, host: '127.0.0.1' });
    s.on('error', () => undefined);
    clients.push(s);
  }
  await sleep(800);
  assert.equal(await echo(early, 'still-works-during-the-flood'), true, 'a connection made before the exhaustion keeps working');
  for (const s of clients) s.destroy();
  early.destroy();
  await sleep(500);
  // Descriptors are free again: a new connection is accepted and proxied.
  const fresh = connect({ port, host: '127.0.0.1' });
  fresh.on('error', () => undefined);
  await once(fresh, 'connect');
  assert.equal(await echo(fresh, 'after-recovery'), true, 'accepting resumed');
  fresh.destroy();
  assert.equal(px.exit(), undefined, 'portplex is still running');
  const out = px.stdout() + px.stderr();
  // libuv sheds what it cannot accept (its reserve-descriptor trick) without reporting it; what
  // shows is the connections that could not reach their backend, logged with the reason.
  assert.match(out, /EMFILE|ENFILE/, 'descriptor exhaustion is visible in the log');
});
