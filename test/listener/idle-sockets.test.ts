/**
 * Thousands of idle sockets (silent clients in inspection) stay inside memory and descriptor
 * bounds, time out at the inspect deadline, and leave nothing behind.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { recordingBackend, startFromYaml } from '../helpers/net.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fds = (): number => readdirSync('/proc/self/fd').length;
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

it('2000 silent connections: bounded heap per connection, all time out, counts and descriptors return to baseline', async () => {
  const b = await recordingBackend();
  const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
inspect: { timeout: 4s }
limits: { per_ip: { connections: 0, inspecting: 0, rate: 0 } }
backends:
  b: { servers: ["127.0.0.1:${b.port}"] }
routes:
  - { name: tls, when: { protocol: tls }, to: b }
`);
  const sockets: Socket[] = [];
  try {
    const fdBase = fds();
    const heapBase = heap();
    const N = 2000;
    for (let i = 0; i < N; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          const s = connect({ port: px.port, host: '127.0.0.1', allowHalfOpen: true });
          s.on('error', () => undefined);
          sockets.push(s);
          await once(s, 'connect');
        }),
      );
    }
    // Accepting can lag behind the clients' connects on a busy machine: wait until all are in.
    const acceptBy = Date.now() + 5000;
    while (px.running.runtime().limits.snapshot().open < N && Date.now() < acceptBy) await sleep(50);
    assert.equal(px.running.runtime().limits.snapshot().open, N);
    // Both ends live in this process: per connection, the client socket, portplex's socket and
    // its inspection state. 20 KB per pair is far above what a lean path needs and catches a
    // per-connection buffer or timer leak (a 16 KiB peek buffer allocated up front would fail it).
    const perConnection = (heap() - heapBase) / N;
    assert.ok(perConnection < 20_000, `heap per idle connection pair: ${Math.round(perConnection)} bytes`);
    process.stderr.write(`# heap per idle connection pair: ${Math.round(perConnection)} bytes\n`);
    assert.ok(fds() - fdBase <= 2 * N + 10, `descriptors: ${fds() - fdBase} for ${N} connections`);
    // The inspect deadline closes every one of them (nothing matched, no default).
    const deadline = Date.now() + 10_000;
    while (px.running.runtime().limits.snapshot().open > 0 && Date.now() < deadline) await sleep(100);
    assert.equal(px.running.runtime().limits.snapshot().open, 0);
    for (const s of sockets) s.destroy();
    await sleep(200);
    assert.ok(fds() - fdBase <= 5, `descriptors back to baseline: +${fds() - fdBase}`);
    assert.deepEqual(px.running.runtime().limits.snapshot().trackedAddresses, 0);
    const closes = px.logs.closeLines();
    assert.equal(closes.length, N);
    assert.ok(closes.every((l) => l.reason === 'no-route' && l.peeked === 0));
  } finally {
    for (const s of sockets) s.destroy();
    await px.close();
    await b.close();
  }
});
