/** Limits with the numbers they promise, on real sockets. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { recordingBackend, startFromYaml } from '../helpers/net.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Opens a connection and reports whether portplex kept it (true) or closed it at once (false). */
async function opens(port: number, first?: Buffer): Promise<{ socket: Socket; kept: Promise<boolean> }> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  if (first) socket.write(first);
  const kept = new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(true), 300);
    const gone = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    // portplex's FIN ('end': the client is half-open) or a reset ('close').
    socket.once('end', gone);
    socket.once('close', gone);
  });
  return { socket, kept };
}

describe('limits', () => {
  it('per address: the 101st concurrent connection is refused and the first 100 are unaffected', async () => {
    const echo = await recordingBackend((s) => s.pipe(s));
    const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
limits: { per_ip: { connections: 100, rate: 0, inspecting: 0 } }
backends:
  e: { servers: ["127.0.0.1:${echo.port}"] }
default: e
`);
    const sockets: Socket[] = [];
    try {
      const first = await Promise.all(Array.from({ length: 100 }, () => opens(px.port, Buffer.from('x'))));
      sockets.push(...first.map((f) => f.socket));
      assert.deepEqual(new Set(await Promise.all(first.map((f) => f.kept))), new Set([true]));
      const extra = await opens(px.port, Buffer.from('x'));
      sockets.push(extra.socket);
      assert.equal(await extra.kept, false, 'the 101st is closed');
      // The first 100 still work: each echoes a fresh message.
      await Promise.all(
        first.map(async ({ socket }, i) => {
          const msg = `still-alive-${i}`;
          const got = new Promise<string>((resolve) => {
            let acc = '';
            socket.on('data', (c: Buffer) => {
              acc += c.toString();
              if (acc.includes(msg)) resolve(msg);
            });
          });
          socket.write(msg);
          assert.equal(await got, msg);
        }),
      );
      assert.equal(px.running.runtime().limits.snapshot().refused['per-ip-connections'], 1);
      const warn = await px.logs.waitFor((l) => l.msg === 'limit reached: connection refused');
      assert.equal(warn.limit, 'per-ip-connections');
      // Once one closes, the address may open another.
      first[0]!.socket.destroy();
      await sleep(50);
      const again = await opens(px.port, Buffer.from('x'));
      sockets.push(again.socket);
      assert.equal(await again.kept, true);
    } finally {
      for (const s of sockets) s.destroy();
      await px.close();
      await echo.close();
    }
  });

  it('a client that drips one byte at a time cannot hold more inspection slots than its limit', async () => {
    const b = await recordingBackend();
    const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
inspect: { timeout: 5s }
limits: { per_ip: { inspecting: 5, connections: 0, rate: 0 } }
backends:
  b: { servers: ["127.0.0.1:${b.port}"] }
routes:
  - { name: tls, when: { protocol: tls }, to: b }
`);
    const sockets: Socket[] = [];
    try {
      // Five slow clients, each one byte of a TLS record header so far: all in inspection.
      const slow = await Promise.all(Array.from({ length: 5 }, () => opens(px.port, Buffer.from([0x16]))));
      sockets.push(...slow.map((s) => s.socket));
      assert.deepEqual(await Promise.all(slow.map((s) => s.kept)), [true, true, true, true, true]);
      const sixth = await opens(px.port, Buffer.from([0x16]));
      sockets.push(sixth.socket);
      assert.equal(await sixth.kept, false, 'a sixth connection still in inspection is refused');
      assert.equal(px.running.runtime().limits.snapshot().refused['per-ip-inspecting'], 1);
      // One drip more per second changes nothing; a slot frees when one of them leaves.
      for (const s of slow) s.socket.write(Buffer.from([0x03]));
      slow[0]!.socket.destroy();
      await sleep(50);
      const again = await opens(px.port, Buffer.from([0x16]));
      sockets.push(again.socket);
      assert.equal(await again.kept, true);
    } finally {
      for (const s of sockets) s.destroy();
      await px.close();
      await b.close();
    }
  });

  it('per-address rate: a burst beyond the bucket is refused, and tokens come back with time', async () => {
    const b = await recordingBackend((s) => s.end());
    const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
limits: { per_ip: { rate: 20, burst: 5 } }
backends:
  b: { servers: ["127.0.0.1:${b.port}"] }
default: b
`);
    try {
      const results: boolean[] = [];
      for (let i = 0; i < 8; i++) {
        const c = await opens(px.port);
        results.push(px.running.runtime().limits.snapshot().refused['per-ip-rate'] === undefined);
        c.socket.destroy();
      }
      assert.equal(px.running.runtime().limits.snapshot().refused['per-ip-rate'], 3, `5 of 8 admitted: ${results.join(',')}`);
      await sleep(300); // 20/s: about 6 tokens back
      const before = px.running.runtime().limits.snapshot().refused['per-ip-rate'];
      const c = await opens(px.port);
      c.socket.destroy();
      assert.equal(px.running.runtime().limits.snapshot().refused['per-ip-rate'], before);
    } finally {
      await px.close();
      await b.close();
    }
  });

  it('global and per-listener caps', async () => {
    const b = await recordingBackend();
    const px = await startFromYaml(`listeners:
  - { bind: "127.0.0.1:0", max_connections: 3 }
limits: { max_connections: 10, per_ip: { rate: 0 } }
backends:
  b: { servers: ["127.0.0.1:${b.port}"] }
routes:
  - { name: tls, when: { protocol: tls }, to: b }
`);
    const sockets: Socket[] = [];
    try {
      const three = await Promise.all([0, 1, 2].map(() => opens(px.port)));
      sockets.push(...three.map((t) => t.socket));
      assert.deepEqual(await Promise.all(three.map((t) => t.kept)), [true, true, true]);
      const fourth = await opens(px.port);
      sockets.push(fourth.socket);
      assert.equal(await fourth.kept, false);
      assert.equal(px.running.runtime().limits.snapshot().refused['listener-max-connections'], 1);
      assert.equal(px.running.runtime().limits.snapshot().open, 3);
    } finally {
      for (const s of sockets) s.destroy();
      await px.close();
      await b.close();
    }
  });

  it('the total of inspection buffers is capped', async () => {
    const b = await recordingBackend();
    const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
inspect: { max_bytes: 1m, timeout: 5s }
limits: { inspect_buffer_total: 100k, per_ip: { rate: 0 } }
backends:
  b: { servers: ["127.0.0.1:${b.port}"] }
routes:
  - { name: big-only, when: { bytes: { length: "500000.." } }, to: b }
`);
    const sockets: Socket[] = [];
    try {
      // Each client holds 30 KB still in inspection: the fourth pushes the total over 100 KB.
      const kept: boolean[] = [];
      for (let i = 0; i < 4; i++) {
        const c = await opens(px.port, Buffer.alloc(30 * 1024, 0xff));
        sockets.push(c.socket);
        kept.push(await c.kept);
      }
      assert.deepEqual(kept, [true, true, true, false]);
      assert.equal(px.running.runtime().limits.snapshot().refused['inspect-buffer-total'], 1);
      assert.ok(px.running.runtime().limits.snapshot().inspectBufferBytes <= 100 * 1024);
    } finally {
      for (const s of sockets) s.destroy();
      await px.close();
      await b.close();
    }
  });

  it('counts return to zero when every connection is gone', async () => {
    const b = await recordingBackend((s) => s.end('bye'));
    const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
backends:
  b: { servers: ["127.0.0.1:${b.port}"] }
default: b
`);
    try {
      const cs = await Promise.all(Array.from({ length: 20 }, () => opens(px.port, Buffer.from('hi'))));
      await Promise.all(cs.map((c) => c.kept));
      for (const c of cs) c.socket.destroy();
      await sleep(100);
      const snap = px.running.runtime().limits.snapshot();
      assert.deepEqual([snap.open, snap.inspectBufferBytes, snap.trackedAddresses], [0, 0, 0]);
    } finally {
      await px.close();
      await b.close();
    }
  });
});
