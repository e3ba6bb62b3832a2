/** Pools on loopback: health checks taking servers out and back, backups, retries, passive checks, limits. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { deadPort, exchange, recordingBackend, startFromYaml } from '../helpers/net.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A server that answers every connection with its name, on a fixed port so it can be stopped and restarted. */
const openSockets = new WeakMap<Server, Set<import('node:net').Socket>>();
async function namedServer(name: string, port = 0): Promise<Server> {
  const sockets = new Set<import('node:net').Socket>();
  const s = createServer((c) => {
    sockets.add(c);
    c.once('close', () => sockets.delete(c));
    c.on('error', () => undefined);
    c.end(name);
  });
  openSockets.set(s, sockets);
  s.listen(port, '127.0.0.1');
  await once(s, 'listening');
  return s;
}
const portOf = (s: Server): number => (s.address() as AddressInfo).port;
const closeServer = (s: Server): Promise<void> => {
  for (const c of openSockets.get(s) ?? []) c.destroy();
  return new Promise((r) => s.close(() => r()));
};

describe('backend pools', () => {
  it('a primary stopped is taken out by the checks, the backup serves, and the primary returns after rise checks', async () => {
    let primary = await namedServer('primary');
    const port = portOf(primary);
    const backup = await namedServer('backup');
    const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
backends:
  tunnel:
    servers: ["127.0.0.1:${port}", { address: "127.0.0.1:${portOf(backup)}", backup: true }]
    health: { interval: 300ms, timeout: 300ms, rise: 2, fall: 2 }
default: tunnel
`);
    try {
      assert.equal((await exchange(px.port, [])).toString(), 'primary');
      await closeServer(primary);
      // Even before the checks notice, a connection is retried on the backup.
      assert.equal((await exchange(px.port, [])).toString(), 'backup');
      // Taken out by the health checks (one failed connection is below the passive threshold of 3). No
      // bound on how long it took: on a loaded machine the 100 ms interval stretches, and the
      // number of failed checks it needs (fall: 2) is what the pool promises.
      await waitFor('primary down', () => px.running.snapshot()[0]!.servers[0]!.status === 'down');
      assert.doesNotMatch(String(px.running.snapshot()[0]!.servers[0]!.reason), /^passive:/);
      assert.equal((await exchange(px.port, [])).toString(), 'backup');
      const down = await px.logs.waitFor((l) => l.msg === 'server down');
      assert.equal(down.server, `127.0.0.1:${port}`);
      primary = await namedServer('primary', port);
      await waitFor('primary up', () => px.running.snapshot()[0]!.servers[0]!.status === 'up');
      assert.equal((await exchange(px.port, [])).toString(), 'primary');
      assert.equal(px.logs.lines.filter((l) => l.msg === 'server down').length, 1, 'a state change is logged once');
      const snap = px.running.snapshot()[0]!;
      assert.equal(snap.servers[0]!.lastCheck?.ok, true);
      assert.equal(snap.servers[1]!.backup, true);
    } finally {
      await px.close();
      await closeServer(primary).catch(() => undefined);
      await closeServer(backup);
    }
  });

  it('retries land on a live server with the replayed bytes intact; a dead server is taken out passively', async () => {
    const live = await recordingBackend();
    const dead = await deadPort();
    const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
backends:
  b:
    balance: roundrobin
    retries: 1
    passive: { failures: 2, cooldown: 1h }
    servers: ["127.0.0.1:${dead}", "127.0.0.1:${live.port}"]
default: b
`);
    try {
      for (let i = 0; i < 6; i++) {
        const payload = Buffer.from(`payload ${i} `.repeat(100));
        await exchange(px.port, [payload.subarray(0, 7), payload.subarray(7)]);
        assert.deepEqual((await live.nextConnection()).received, payload);
      }
      const snap = px.running.snapshot()[0]!;
      assert.equal(snap.servers[0]!.status, 'down');
      assert.match(String(snap.servers[0]!.reason), /passive: 2 consecutive connect failures \(last: ECONNREFUSED\)/);
      assert.equal(snap.servers[0]!.failedConnects, 2, 'once down, the dead server is no longer tried');
      assert.equal(snap.servers[1]!.total, 6);
    } finally {
      await px.close();
      await live.close();
    }
  });

  it('without active checks, a passively downed server is tried again after the cool-down', async () => {
    const port = await deadPort();
    const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
backends:
  b: { retries: 0, passive: { failures: 1, cooldown: 200ms }, servers: ["127.0.0.1:${port}"] }
default: b
`);
    let s: Server | undefined;
    try {
      await exchange(px.port, [Buffer.from('x')]);
      assert.equal(px.running.snapshot()[0]!.servers[0]!.status, 'down');
      const line = await px.logs.waitFor((l) => l.msg === 'connection closed');
      assert.equal(line.reason, 'backend-unreachable');
      s = await namedServer('back', port);
      await exchange(px.port, [Buffer.from('x')]);
      const refused = px.logs.closeLines().at(-1)!;
      assert.match(String((refused.failures as string[])[0]), /no server available \(127\.0\.0\.1:\d+ down\)/);
      await sleep(250);
      assert.equal((await exchange(px.port, [Buffer.from('x')])).toString(), 'back');
      assert.equal(px.running.snapshot()[0]!.servers[0]!.status, 'up');
    } finally {
      await px.close();
      if (s) await closeServer(s);
    }
  });

  it('max_connections: a full server is skipped (first balance fills servers in order)', async () => {
    const holders: { end: () => void }[] = [];
    const a = await recordingBackend((sock) => holders.push({ end: () => sock.end() }));
    const b = await recordingBackend((sock) => holders.push({ end: () => sock.end() }));
    const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
backends:
  p:
    balance: first
    servers: [{ address: "127.0.0.1:${a.port}", max_connections: 2 }, "127.0.0.1:${b.port}"]
default: p
`);
    try {
      const clients = [0, 1, 2].map((i) => exchange(px.port, [Buffer.from(`c${i}`)], { end: false }));
      await waitFor('three connections', () => holders.length === 3);
      const snap = px.running.snapshot()[0]!;
      assert.deepEqual(snap.servers.map((s) => s.active), [2, 1]);
      for (const h of holders) h.end();
      await Promise.all(clients);
    } finally {
      await px.close();
      await a.close();
      await b.close();
    }
  });

  it('send/expect checks: a server whose banner does not match is down', async () => {
    const ssh = createServer((c) => {
      c.on('error', () => undefined);
      c.end('SSH-2.0-OpenSSH_9.2p1\r\n');
    });
    const other = createServer((c) => {
      c.on('error', () => undefined);
      c.end('220 smtp ready\r\n');
    });
    ssh.listen(0, '127.0.0.1');
    other.listen(0, '127.0.0.1');
    await Promise.all([once(ssh, 'listening'), once(other, 'listening')]);
    const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
backends:
  s:
    servers: ["127.0.0.1:${portOf(ssh)}", "127.0.0.1:${portOf(other)}"]
    health: { interval: 500ms, timeout: 500ms, rise: 1, fall: 1, expect_regex: "^SSH-2\\\\.0-" }
default: s
`);
    try {
      // Both waited for: on a loaded machine one check of the SSH server may time out (fall: 1), and
      // the next one puts it back; only the other server's answer never matches.
      await waitFor('non-SSH server down', () => px.running.snapshot()[0]!.servers[1]!.status === 'down');
      await waitFor('SSH server up', () => px.running.snapshot()[0]!.servers[0]!.status === 'up');
      const snap = px.running.snapshot()[0]!;
      assert.match(String(snap.servers[1]!.reason), /answer did not match/);
    } finally {
      await px.close();
      await closeServer(ssh);
      await closeServer(other);
    }
  });
});
