/**
 * The addon's relay, driven directly through the NativePlane (no rules, no session): what the
 * TypeScript driver relies on. Real sockets on 127.0.0.1, ports chosen by the OS. The suite as a
 * whole runs on this data plane too (PORTPLEX_DATAPLANE); these cases pin what it cannot see.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { loadAddon, NativeClose } from '../../src/native/addon.js';
import { NativePlane, type NativeConnectionEvents } from '../../src/native/plane.js';
import type { ByteCounts } from '../../src/engine/close-notes.js';
import { skipUnlessCi } from '../helpers/interop.js';

const load = loadAddon();
if (!load.ok && process.env['CI'] === 'true') throw new Error(`the native addon must load under CI: ${load.reason}`);

interface Accepted {
  readonly conn: number;
  readonly events: Recorder;
}

class Recorder implements NativeConnectionEvents {
  readonly chunks: Buffer[] = [];
  ended = false;
  connects: number[] = [];
  closedWith: { reason: NativeClose; errno: number; bytes: ByteCounts } | undefined;
  private waiters: (() => void)[] = [];
  data(bytes: Buffer): void {
    this.chunks.push(bytes);
    this.wake();
  }
  end(): void {
    this.ended = true;
    this.wake();
  }
  connected(errno: number): void {
    this.connects.push(errno);
    this.wake();
  }
  closed(reason: NativeClose, errno: number, bytes: ByteCounts): void {
    this.closedWith = { reason, errno, bytes };
    this.wake();
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  async until(ok: () => boolean, what: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), new Promise((r) => setTimeout(r, 20))]);
    }
  }
}

function harness(acceptAtOnce = true): { plane: NativePlane; port: number; acceptOn: () => void; next: () => Promise<Accepted>; close: () => void } {
  const plane = NativePlane.of((load as { ok: true; addon: import('../../src/native/addon.js').NativeAddon }).addon);
  const id = plane.addon.listen('127.0.0.1', 0, 64, false);
  const queue: Accepted[] = [];
  const waiting: ((a: Accepted) => void)[] = [];
  plane.listen(id, {
    accept(conn) {
      const events = new Recorder();
      plane.attach(conn, events);
      const a = { conn, events };
      const w = waiting.shift();
      if (w) w(a);
      else queue.push(a);
    },
    acceptError: () => undefined,
  });
  if (acceptAtOnce) plane.addon.acceptOn(id);
  return {
    plane,
    acceptOn: () => plane.addon.acceptOn(id),
    port: plane.addon.listenerPort(id),
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((r) => waiting.push(r))),
    close: () => plane.unlisten(id),
  };
}

type Harness = ReturnType<typeof harness>;

/** A client of the harness and the connection the addon accepted for it. */
async function accepted(h: Harness): Promise<{ client: Socket; a: Accepted }> {
  const client = connect(h.port, '127.0.0.1');
  return { client, a: await h.next() };
}

/** Starts a backend connect of `a` (from `source`, transparent, when given) and waits for its report: 0 connected, else the errno. */
async function connectOf(h: Harness, a: Accepted, port: number, source = ''): Promise<number> {
  const n = a.events.connects.length;
  h.plane.addon.connect(a.conn, '127.0.0.1', port, 2000, 0, source);
  await a.events.until(() => a.events.connects.length > n, 'the connect');
  return a.events.connects[n]!;
}

async function backendServer(onSocket: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, onSocket);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

function collect(s: Socket): { bytes: () => Buffer; ended: Promise<void> } {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return { bytes: () => Buffer.concat(parts), ended: once(s, 'end').then(() => undefined) };
}

// Under CI=true an addon that does not load is a failure of every test here, never a skip.
const maybe = load.ok ? it : (name: string, _fn: unknown) => it(name, (t) => skipUnlessCi(t, `the addon is not built here: ${(load as { reason: string }).reason}`));

maybe('relays both ways byte-exact, header first, and passes each FIN on while the other direction keeps flowing', async () => {
  const h = harness();
  let backendSide: Socket | undefined;
  const b = await backendServer((s) => (backendSide = s));
  try {
    const client = connect(h.port, '127.0.0.1');
    client.setNoDelay(true);
    const fromPx = collect(client);
    const a = await h.next();
    client.write('first');
    await a.events.until(() => a.events.chunks.length > 0, 'the first bytes');
    assert.equal(Buffer.concat(a.events.chunks).toString(), 'first');
    h.plane.addon.connect(a.conn, '127.0.0.1', b.port, 2000, 0, '');
    await a.events.until(() => a.events.connects.length > 0, 'the connect');
    assert.deepEqual(a.events.connects, [0]);
    h.plane.addon.relay(a.conn, Buffer.from('HEADER|first'), null, 10_000, false);
    await new Promise((r) => setTimeout(r, 50));
    const atBackend = collect(backendSide!);
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0x61);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    client.end(Buffer.concat([Buffer.from('|'), big]));
    await atBackend.ended;
    assert.ok(atBackend.bytes().equals(Buffer.concat([Buffer.from('HEADER|first|'), big])), 'the header and replay, then the client bytes, exactly');
    // The client's FIN reached the backend; the backend can still answer.
    backendSide!.end('the answer');
    await fromPx.ended;
    assert.equal(fromPx.bytes().toString(), 'the answer');
    await a.events.until(() => a.events.closedWith !== undefined, 'the close report');
    assert.equal(a.events.closedWith!.reason, NativeClose.Done);
    assert.equal(a.events.closedWith!.bytes.fromClient, 'first'.length + 1 + big.length);
    assert.equal(a.events.closedWith!.bytes.toClient, 'the answer'.length);
    client.destroy();
  } finally {
    h.close();
    b.server.close();
  }
});

maybe("a relay's answer to the client goes out before any byte reaches the backend, however long it takes", async () => {
  const h = harness();
  let backendSide: Socket | undefined;
  const b = await backendServer((s) => (backendSide = s));
  try {
    const client = connect(h.port, '127.0.0.1');
    const a = await h.next();
    client.pause(); // the answer cannot all be written until the client reads
    h.plane.addon.connect(a.conn, '127.0.0.1', b.port, 2000, 0, '');
    await a.events.until(() => a.events.connects.length > 0, 'the connect');
    const answer = Buffer.alloc(16 * 1024 * 1024, 0x42);
    h.plane.addon.relay(a.conn, Buffer.from('to-backend'), answer, 10_000, false);
    await new Promise((r) => setTimeout(r, 300));
    const atBackend = collect(backendSide!);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(atBackend.bytes().length, 0, 'nothing reached the backend while the answer was still being written');
    let got = 0;
    client.on('data', (d: Buffer) => (got += d.length));
    client.resume();
    await a.events.until(() => atBackend.bytes().length > 0, 'the backend bytes after the answer', 10_000);
    assert.equal(atBackend.bytes().toString(), 'to-backend');
    assert.ok(got >= answer.length - 4 * 1024 * 1024, 'the answer was (nearly) all read first');
    client.destroy();
  } finally {
    h.close();
    b.server.close();
  }
});

maybe('connect failures report the errno, a timeout reports -1, and an aborted connect reports nothing', async () => {
  const h = harness();
  const closed = await backendServer(() => undefined);
  const refusedPort = closed.port;
  closed.server.close();
  await once(closed.server, 'close');
  // A listener that never accepts, with its backlog full: the next connect hangs in SYN-SENT.
  const full = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(20)']);
  const fullPort = Number((await once(full.stdout, 'data'))[0].toString().trim());
  const fillers: Socket[] = [];
  try {
    const client = connect(h.port, '127.0.0.1');
    const a = await h.next();
    h.plane.addon.connect(a.conn, '127.0.0.1', refusedPort, 2000, 0, '');
    await a.events.until(() => a.events.connects.length > 0, 'the refused connect');
    assert.equal(h.plane.errnoName(a.events.connects[0]!), 'ECONNREFUSED');
    h.plane.addon.connect(a.conn, '127.0.0.1', refusedPort, 2000, 0, '');
    h.plane.addon.abortConnect(a.conn);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(a.events.connects.length, 1, 'no report after an abort');
    h.plane.addon.connect(a.conn, 'not-an-address', 80, 2000, 0, '');
    await a.events.until(() => a.events.connects.length > 1, 'the invalid address');
    assert.equal(h.plane.errnoName(a.events.connects[1]!), 'EINVAL');
    // Fill the accept queue, then one more connect times out.
    for (let i = 0; i < 8; i++) fillers.push(connect(fullPort, '127.0.0.1').on('error', () => undefined));
    await new Promise((r) => setTimeout(r, 200));
    h.plane.addon.connect(a.conn, '127.0.0.1', fullPort, 300, 0, '');
    await a.events.until(() => a.events.connects.length > 2, 'the connect timeout');
    assert.equal(a.events.connects[2], -1);
    client.destroy();
    h.plane.close(a.conn);
    // Stale ids are no-ops, never another connection.
    h.plane.addon.relay(a.conn, null, null, 1000, false);
    h.plane.addon.close(a.conn);
    assert.equal(h.plane.counters(a.conn), undefined);
  } finally {
    for (const f of fillers) f.destroy();
    full.kill();
    h.close();
  }
});

maybe('nothing moving for the idle time closes both sides, reported as idle', async () => {
  const h = harness();
  const held: Socket[] = [];
  const b = await backendServer((s) => held.push(s));
  try {
    const client = connect(h.port, '127.0.0.1');
    client.on('error', () => undefined);
    const a = await h.next();
    h.plane.addon.connect(a.conn, '127.0.0.1', b.port, 2000, 0, '');
    await a.events.until(() => a.events.connects.length > 0, 'the connect');
    h.plane.addon.relay(a.conn, null, null, 150, false);
    client.write('keep');
    await a.events.until(() => a.events.closedWith !== undefined, 'the idle timeout');
    assert.equal(a.events.closedWith!.reason, NativeClose.IdleTimeout);
    assert.equal(a.events.closedWith!.bytes.fromClient, 4);
    await once(client, 'close');
    client.destroy();
  } finally {
    for (const s of held) s.destroy();
    h.close();
    b.server.close();
  }
});

maybe('a held relay shows the client bytes to JS until release(), which sends them first; an idle relay holds no pipe', async () => {
  const h = harness();
  let backendSide: Socket | undefined;
  const b = await backendServer((s) => (backendSide = s));
  try {
    const { client, a } = await accepted(h);
    assert.equal(await connectOf(h, a, b.port), 0);
    h.plane.addon.relay(a.conn, Buffer.from('H|'), null, 10_000, true);
    await new Promise((r) => setTimeout(r, 50));
    const atBackend = collect(backendSide!);
    client.write('PRO');
    await a.events.until(() => a.events.chunks.length > 0, 'the held bytes');
    assert.equal(atBackend.bytes().toString(), 'H|', 'only the header, while the bytes are held');
    h.plane.addon.release(a.conn, Buffer.concat(a.events.chunks));
    client.write('-after');
    await a.events.until(() => atBackend.bytes().toString() === 'H|PRO-after', 'the released bytes, then the rest');
    const [open, , inUse] = h.plane.addon.stats();
    assert.ok(open! >= 1);
    assert.equal(inUse, 0, 'a quiet relay gives its pipes back');
    client.end();
    backendSide!.end();
    await a.events.until(() => a.events.closedWith !== undefined, 'the close');
    assert.equal(a.events.closedWith!.reason, NativeClose.Done);
    client.destroy();
  } finally {
    h.close();
    b.server.close();
  }
});

maybe('respond() writes the answer, sends a FIN and closes once the client has', async () => {
  const h = harness();
  try {
    const client = connect(h.port, '127.0.0.1');
    const got = collect(client);
    const a = await h.next();
    h.plane.addon.respond(a.conn, Buffer.from('HTTP/1.1 403 Forbidden\r\n\r\n'), 2000);
    await got.ended;
    assert.equal(got.bytes().toString(), 'HTTP/1.1 403 Forbidden\r\n\r\n');
    client.end();
    await a.events.until(() => a.events.closedWith !== undefined, 'the close');
    assert.equal(a.events.closedWith!.reason, NativeClose.Responded);
  } finally {
    h.close();
  }
});

maybe('a listener accepts nothing before acceptOn: the kernel queues the clients, and none is lost', async () => {
  const h = harness(false);
  const accepted: Accepted[] = [];
  try {
    const clients = Array.from({ length: 3 }, () => connect(h.port, '127.0.0.1'));
    await Promise.all(clients.map((c) => once(c, 'connect')));
    // The handshakes completed in the kernel's queue; give the loop turns to (wrongly) accept.
    await new Promise((r) => setTimeout(r, 100));
    let early = false;
    const first = h.next().then((a) => ((early = true), a));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(early, false, 'nothing accepted before acceptOn');
    h.acceptOn();
    h.acceptOn(); // idempotent
    accepted.push(await first, await h.next(), await h.next());
    assert.equal(new Set(accepted.map((a) => a.conn)).size, 3);
    for (const c of clients) c.destroy();
  } finally {
    for (const a of accepted) h.plane.close(a.conn);
    h.close();
  }
});

maybe('transparent connect: the backend sees the given source address; a source of the other family or no address at all is refused before connecting', async (t) => {
  if (process.getuid?.() !== 0) {
    // IP_TRANSPARENT needs CAP_NET_ADMIN: without it the connect reports EPERM.
    const h = harness();
    try {
      const { client, a } = await accepted(h);
      assert.equal(h.plane.errnoName(await connectOf(h, a, 1, '127.0.0.2')), 'EPERM');
      client.destroy();
    } finally {
      h.close();
    }
    skipUnlessCi(t, 'a transparent connect needs CAP_NET_ADMIN (root): only the EPERM case ran');
    return;
  }
  const h = harness();
  let backendSide: Socket | undefined;
  const b = await backendServer((s) => (backendSide = s));
  try {
    const { client, a } = await accepted(h);
    // 127.0.0.2 is this host's (all of 127/8 is lo's); a foreign address needs the routing that
    // `portplex transparent setup` prints (test/interop/transparent-netns.test.ts).
    assert.equal(await connectOf(h, a, b.port, '127.0.0.2'), 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(backendSide?.remoteAddress, '127.0.0.2');
    h.plane.close(a.conn);
    const { client: c2, a: a2 } = await accepted(h);
    assert.equal(h.plane.errnoName(await connectOf(h, a2, b.port, '::1')), 'EAFNOSUPPORT');
    assert.equal(h.plane.errnoName(await connectOf(h, a2, b.port, 'not-an-address')), 'EINVAL');
    h.plane.close(a2.conn);
    client.destroy();
    c2.destroy();
  } finally {
    backendSide?.destroy();
    h.close();
    b.server.close();
  }
});
