/** SIGTERM drains: no new connections, established ones finish (or are closed at the deadline), exit 0. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT, freePort, makeTempDir, spawnBounded, waitForPort, withTimeout } from '../helpers/interop.js';
import { echoBackend } from '../helpers/echo.js';

async function startCli(t: Parameters<typeof makeTempDir>[0] & { after: (fn: () => void) => void }, backendPort: number, drain: string) {
  const dir = makeTempDir(t);
  const port = await freePort();
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, `listeners: ["127.0.0.1:${port}"]\nbackends:\n  b: { servers: ["127.0.0.1:${backendPort}"] }\ndefault: b\n`);
  const px = spawnBounded(t, 'node', [join(REPO_ROOT, 'dist/src/cli.js'), 'run', '--rules', rules, '--allow-root', '--log-format', 'json', '--drain-timeout', drain], { name: 'portplex', lifetimeMs: 30_000 });
  await waitForPort(port, { proc: px });
  return { px, port };
}

function echoOnce(s: Socket, msg: string): Promise<string> {
  return new Promise((resolve) => {
    let acc = '';
    const onData = (d: Buffer): void => {
      acc += d.toString();
      if (acc.includes(msg)) {
        s.removeListener('data', onData);
        resolve(acc);
      }
    };
    s.on('data', onData);
    s.write(msg);
  });
}

it('SIGTERM: new connections are refused, an established one finishes its transfer, then exit 0', async (t) => {
  const { px, port } = await startCli(t, await echoBackend(t), '10s');
  const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  c.on('error', () => undefined);
  await once(c, 'connect');
  assert.match(await echoOnce(c, 'before'), /before/);
  px.child.kill('SIGTERM');
  await px.waitForOutput(/draining: no new connections/, 5000);
  // Refused: the connect fails, or (a connect that raced the listener's close) the socket is reset
  // without ever being served.
  const served = await new Promise<boolean>((resolve) => {
    const n = connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => {
      n.destroy();
      resolve(false);
    }, 1500);
    n.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    n.once('connect', () => n.write('new-after-sigterm'));
    n.on('data', () => {
      clearTimeout(timer);
      n.destroy();
      resolve(true);
    });
  });
  assert.equal(served, false, 'a connection made after SIGTERM was served');
  assert.match(await echoOnce(c, 'during-the-drain'), /during-the-drain/);
  c.end();
  const exit = await withTimeout(px.exited, 8000, 'portplex exit');
  assert.equal(exit.code, 0);
  assert.match(px.stdout(), /"closed_at_deadline":0/);
});

it('a connection still open at the grace deadline is closed, and the exit is still 0; a second signal exits at once', async (t) => {
  const backend = await echoBackend(t);
  const { px, port } = await startCli(t, backend, '300ms');
  const c = connect({ port, host: '127.0.0.1' });
  c.on('error', () => undefined);
  await once(c, 'connect');
  await echoOnce(c, 'hold');
  px.child.kill('SIGTERM');
  const [exit] = await Promise.all([withTimeout(px.exited, 8000, 'portplex exit'), withTimeout(once(c, 'close'), 8000, 'client closed')]);
  assert.equal(exit.code, 0);
  assert.match(px.stdout(), /"closed_at_deadline":1/);

  const second = await startCli(t, backend, '30s');
  const d = connect({ port: second.port, host: '127.0.0.1' });
  d.on('error', () => undefined);
  await once(d, 'connect');
  await echoOnce(d, 'hold');
  second.px.child.kill('SIGTERM');
  await second.px.waitForOutput(/draining/, 5000);
  second.px.child.kill('SIGTERM');
  const forced = await withTimeout(second.px.exited, 5000, 'forced exit');
  assert.equal(forced.code, 1);
  d.destroy();
});
