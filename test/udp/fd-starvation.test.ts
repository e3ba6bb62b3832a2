/**
 * UDP must not starve TCP of descriptors: a real portplex under `ulimit -n 128` (a UDP budget of
 * (128 - 64 - 2) / 4 = 15 flows) keeps accepting and routing TCP connections while many
 * single-datagram flows arrive, refuses the flows past its budget with a count in /metrics, and
 * when the descriptors run out anyway (silent TCP clients took them), a new flow's socket failing
 * with EMFILE is counted and nothing throws.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT, freePort, makeTempDir, spawnBounded, waitForPort } from '../helpers/interop.js';
import { udpBackend, udpClient, type UdpClient } from '../helpers/udp.js';

const LIMIT = 128;
const BUDGET = 15;
const FLOOD = 200;

function metrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

const sample = (text: string, series: string): number => {
  const m = new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};

async function until(cond: () => boolean | Promise<boolean>, what: string, detail: () => string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (${detail()})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Connects, writes `msg`, resolves true once it came back (the echo backend answered through portplex). */
async function echoes(port: number, msg: string, held: Socket[]): Promise<boolean> {
  const s = connect({ port, host: '127.0.0.1' });
  held.push(s);
  s.on('error', () => undefined);
  return new Promise((resolve) => {
    let got = '';
    const timer = setTimeout(() => resolve(false), 3000);
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes(msg)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    s.once('close', () => resolve(false));
    s.write(msg);
  });
}

it(`under ulimit -n ${LIMIT}, TCP keeps answering while UDP is flooded, and UDP's refusals are counted`, async (t) => {
  const tcpHeld = new Set<Socket>();
  const echo = createServer((s) => {
    tcpHeld.add(s);
    s.on('error', () => undefined);
    s.on('close', () => tcpHeld.delete(s));
    s.on('data', (d: Buffer) => s.write(d));
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const sink = await udpBackend('sink', false); // answers nothing: each flow holds its socket for udp.idle
  const clients: UdpClient[] = [];
  const sockets: Socket[] = [];
  t.after(async () => {
    for (const s of [...sockets, ...tcpHeld]) s.destroy();
    echo.close();
    await sink.close();
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  });
  const [tcp, udp, admin] = [await freePort(), await freePort(), await freePort()];
  const dir = makeTempDir(t, 'portplex-fd-');
  const rules = join(dir, 'rules.yaml');
  writeFileSync(
    rules,
    `listeners:
  - { name: tcp, bind: "127.0.0.1:${tcp}" }
  - { name: udp, bind: "127.0.0.1:${udp}", transport: udp }
backends:
  echo: { servers: ["127.0.0.1:${(echo.address() as AddressInfo).port}"] }
  sink: { transport: udp, servers: ["127.0.0.1:${sink.port}"] }
routes:
  - { when: { protocol: tls }, to: echo }   # a silent client waits (inspect.timeout) holding one descriptor
default: echo
inspect: { timeout: 30s }
limits: { per_ip: { connections: 0, rate: 0, inspecting: 0 } }
udp: { default: sink, idle: 60s, per_ip: { flows: 1000 } }
admin: { listen: "127.0.0.1:${admin}" }
`,
  );
  const px = spawnBounded(t, 'bash', ['-c', `ulimit -n ${LIMIT} && exec node ${join(REPO_ROOT, 'dist/src/cli.js')} run --rules ${rules} --workers 0 --allow-root --log-format json`], {
    name: 'portplex',
    lifetimeMs: 60_000,
  });
  await waitForPort(tcp, { proc: px });
  const fds = (): number => readdirSync(`/proc/${px.child.pid}/fd`).length;
  const udpFrom = async (): Promise<UdpClient> => {
    const c = await udpClient(udp);
    clients.push(c);
    return c;
  };

  // 1. Silent TCP clients take every descriptor (libuv then sheds the ones it cannot accept: a
  // closed client proves it); a new UDP flow then cannot get a socket (EMFILE). Each datagram
  // either ends its flow fd-exhausted or, if a descriptor was free after all, reaches the sink.
  let shed = 0;
  for (let i = 0; i < LIMIT + 10; i++) {
    const s = connect({ port: tcp, host: '127.0.0.1' });
    s.on('error', () => undefined);
    s.once('close', () => shed++);
    sockets.push(s);
  }
  await until(() => shed > 0, 'portplex out of descriptors', () => `${fds()} open; output:\n${px.stdout()}${px.stderr()}`);
  const exhaustedLines = (): number => (px.stdout().match(/"reason":"fd-exhausted"/g) ?? []).length;
  let sent = 0;
  while (exhaustedLines() < 3 && sent < 10) {
    await (await udpFrom()).send(Buffer.from(`exhausted ${sent++}`));
    await until(() => exhaustedLines() + sink.inbox.received.length === sent, `datagram ${sent} handled`, () => px.stdout().slice(-2000));
  }
  const exhausted = exhaustedLines();
  assert.ok(exhausted >= 3, `${exhausted} of ${sent} flows found no descriptor`);
  const heldEarly = sink.inbox.received.length;
  for (const s of sockets.splice(0)) s.destroy();
  await until(() => fds() < LIMIT / 2, 'the silent clients gone', () => `${fds()} open`);
  const afterExhaustion = await metrics(admin);
  assert.equal(sample(afterExhaustion, 'portplex_udp_datagrams_dropped_total{reason="fd-exhausted"}'), exhausted, 'each counted');

  // 2. A flood of single-datagram flows, with TCP connections made in the middle of it.
  const linesBefore = px.stdout().split('\n').length;
  const during: Promise<boolean>[] = [];
  for (let i = 0; i < FLOOD; i++) {
    await (await udpFrom()).send(Buffer.from(`flow ${i}`));
    if (i % 20 === 10) during.push(echoes(tcp, `tcp during the flood ${i}`, sockets));
  }
  assert.deepEqual(await Promise.all(during), Array(during.length).fill(true), 'every TCP connection made during the flood was routed');
  // The flows of step 1 that found a descriptor hold their place in the budget.
  const refused = FLOOD - (BUDGET - heldEarly);
  await until(async () => sample(await metrics(admin), 'portplex_udp_datagrams_dropped_total{reason="fd-budget"}') === refused, `${refused} flows refused`, () => px.stdout().slice(-2000));
  const text = await metrics(admin);
  assert.equal(sample(text, 'portplex_open_connections{listener="udp"}'), BUDGET, 'the flows within the budget hold their sockets');
  assert.equal(sample(text, 'portplex_udp_flow_events_total{event="evicted"}'), 0, 'none was cut to make room');
  assert.equal((await sink.inbox.count(BUDGET)).length, BUDGET);
  const afterwards = await Promise.all(Array.from({ length: 10 }, (_, i) => echoes(tcp, `tcp after the flood ${i}`, sockets)));
  assert.deepEqual(afterwards, Array(10).fill(true), 'and ten more at once, with the UDP budget full');
  // Refused at arrival (udp.idle is 60 s), counted, and not one log line each.
  assert.ok(px.stdout().split('\n').length - linesBefore <= 5, 'the refusals are counted, not logged one by one');
  assert.equal(px.exit(), undefined, 'portplex is still running');
  assert.doesNotMatch(px.stderr(), /Error|uncaught/i);
});
