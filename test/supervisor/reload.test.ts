/**
 * Reload in one process: new rules for new connections, established connections untouched and
 * byte-exact, unchanged listeners not re-bound, added and removed ones opened and closed, and a
 * reload that cannot be served refused as a whole.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { compileRulesText } from '../../src/config/load.js';
import type { RulesConfig } from '../../src/config/types.js';
import { startPortplex } from '../../src/app.js';
import { LogCapture } from '../helpers/net.js';
import { longTransfer, namedEcho, whoServes } from '../helpers/echo.js';
import { freePort, withTimeout } from '../helpers/interop.js';

function rules(text: string): RulesConfig {
  const r = compileRulesText(text, 'reload-test.yaml');
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  return r.rules;
}

const ruleText = (listeners: readonly number[], to: 'a' | 'b', ports: { a: number; b: number }, idle = '30s'): string =>
  `listeners: [${listeners.map((p) => `"127.0.0.1:${p}"`).join(', ')}]\n` +
  `timeouts: { idle: ${idle} }\n` +
  `backends:\n  a: { servers: ["127.0.0.1:${ports.a}"] }\n  b: { servers: ["127.0.0.1:${ports.b}"] }\n` +
  `routes:\n  - { name: to-${to}, when: { protocol: http }, to: ${to} }\ndefault: a\n`;

it('a transfer running across three reloads completes byte-exact; each reload routes new connections by the new rules', async (t) => {
  const ports = { a: await namedEcho(t, 'a'), b: await namedEcho(t, 'b') };
  const listen = await freePort();
  const logs = new LogCapture('info');
  const px = await startPortplex(rules(ruleText([listen], 'a', ports)), logs.logger);
  t.after(() => px.close());
  const server = px.listeners[0]!;
  assert.equal(await whoServes(listen), 'a');

  const transfer = longTransfer(listen, { total: 3 * 1024 * 1024 });
  assert.equal(await transfer.started, 'a');
  const openBefore = px.runtime().limits.openConnections;
  for (const to of ['b', 'a', 'b'] as const) {
    const r = await px.reload(rules(ruleText([listen], to, ports)));
    assert.deepEqual({ ok: r.ok, added: r.added, removed: r.removed }, { ok: true, added: [], removed: [] });
    assert.equal(await whoServes(listen), to, `after the reload to ${to}`);
    assert.equal(px.listeners[0]!, server, 'the unchanged listener was not re-bound');
  }
  assert.ok(px.runtime().limits.openConnections >= openBefore, 'the open-connection count carried over the reloads');
  const result = await withTimeout(transfer.done, 60_000, 'the long transfer');
  assert.equal(result.bytes, 3 * 1024 * 1024);
  assert.equal(result.echoed, result.sent, 'the echo is byte-exact');
  const closes = logs.closeLines();
  assert.ok(closes.every((l) => l.reason === 'done'), JSON.stringify(closes.map((l) => l.reason)));
});

it('added listeners are bound, removed ones stop accepting while their connections go on, unchanged ones stay', async (t) => {
  const ports = { a: await namedEcho(t, 'a'), b: await namedEcho(t, 'b') };
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  const px = await startPortplex(rules(ruleText([p1, p2], 'a', ports)), new LogCapture().logger);
  t.after(() => px.close());
  const first = px.listeners[0]!;
  const onRemoved = longTransfer(p2, { total: 512 * 1024 });
  assert.equal(await onRemoved.started, 'a');

  const r = await px.reload(rules(ruleText([p1, p3], 'b', ports)));
  assert.deepEqual({ ok: r.ok, added: r.added, removed: r.removed, kept: r.kept }, { ok: true, added: ['127.0.0.1:' + p3], removed: ['127.0.0.1:' + p2], kept: ['127.0.0.1:' + p1] });
  assert.equal(px.listeners[0]!, first);
  assert.equal(await whoServes(p3), 'b');
  await assert.rejects(whoServes(p2), /ECONNREFUSED/, 'the removed listener no longer accepts');
  assert.equal(px.openByListener().get('127.0.0.1:' + p2), 1, 'its connection is still counted');
  const result = await withTimeout(onRemoved.done, 30_000, 'the transfer on the removed listener');
  assert.equal(result.echoed, result.sent);
});

it('a reload whose new listener cannot bind is refused as a whole: the old rules and listeners stay', async (t) => {
  const ports = { a: await namedEcho(t, 'a'), b: await namedEcho(t, 'b') };
  const listen = await freePort();
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.after(() => taken.close());
  const busy = (taken.address() as AddressInfo).port;
  const free = await freePort();
  const px = await startPortplex(rules(ruleText([listen], 'a', ports)), new LogCapture().logger);
  t.after(() => px.close());
  const r = await px.reload(rules(ruleText([listen, free, busy], 'b', ports)));
  assert.equal(r.ok, false);
  assert.match(r.error ?? '', /EADDRINUSE/);
  assert.equal(await whoServes(listen), 'a', 'the old rules still route');
  assert.deepEqual(px.listeners.map((l) => l.address.port), [listen]);
  await assert.rejects(whoServes(free), /ECONNREFUSED/, 'the listener bound before the failure was closed again');
});

it('a backend whose configuration did not change keeps its pool (health state); a changed one gets a new pool', async (t) => {
  const ports = { a: await namedEcho(t, 'a'), b: await namedEcho(t, 'b') };
  const listen = await freePort();
  const px = await startPortplex(rules(ruleText([listen], 'a', ports)), new LogCapture().logger);
  t.after(() => px.close());
  const poolA = px.runtime().pools.get('a');
  const poolB = px.runtime().pools.get('b');
  // Same meaning, different layout and order: still the same backend.
  const reordered = ruleText([listen], 'b', ports).replace(/backends:\n(.*)\n(.*)\n/, 'backends:\n$2\n\n$1\n');
  assert.ok((await px.reload(rules(reordered))).ok);
  assert.equal(px.runtime().pools.get('a'), poolA);
  assert.equal(px.runtime().pools.get('b'), poolB);
  const changed = ruleText([listen], 'b', ports).replace(`b: { servers: ["127.0.0.1:${ports.b}"] }`, `b: { servers: ["127.0.0.1:${ports.b}"], retries: 2 }`);
  assert.ok((await px.reload(rules(changed))).ok);
  assert.equal(px.runtime().pools.get('a'), poolA);
  assert.notEqual(px.runtime().pools.get('b'), poolB);
});
