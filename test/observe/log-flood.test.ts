/**
 * A flood of junk writes a bounded number of log lines: 100k junk datagrams to a UDP listener
 * (each one a new flow refused with no-route) while a DNS client's flow is open, a few thousand
 * junk TCP connections (no-route) and a thousand over a listener's cap (limit). What is not written is counted: the lines in full plus
 * the summaries' counts equal what the metrics counted.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { compileRulesText } from '../../src/config/load.js';
import { startPortplex } from '../../src/app.js';
import { createLogger } from '../../src/observe/logger.js';
import { PortplexMetrics } from '../../src/observe/metrics.js';
import type { ConnectionObserver, ConnectionRecord } from '../../src/observe/connection-record.js';
import { deadPort } from '../helpers/net.js';
import { udpBackend, udpClient } from '../helpers/udp.js';

/** The README's promise: per kind (message, listener, reason) and minute, 10 lines in full and one summary. */
const LINES_PER_KIND_AND_MINUTE = 11;
const SUMMARY = 'refusals summarised';
const DATAGRAMS = 100_000;
const TCP_JUNK = 3000;
const TCP_CAPPED = 1000;

type Line = Record<string, unknown>;

/** Counts log lines by kind instead of keeping a flood of them (old code writes one per refusal). */
class LineCounter {
  readonly full = new Map<string, number>();
  readonly summaries: Line[] = [];
  total = 0;
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (!text) continue;
        const l = JSON.parse(text) as Line;
        this.total++;
        if (l['msg'] === SUMMARY) this.summaries.push(l);
        else {
          const k = kindOf(l);
          this.full.set(k, (this.full.get(k) ?? 0) + 1);
        }
      }
      cb();
    },
  });
  suppressed(key: string): number {
    return this.summaries.filter((s) => keyOf(s['of'], s['listener'], s['kind']) === key).reduce((n, s) => n + (s['suppressed'] as number), 0);
  }
  linesOf(key: string): number {
    return (this.full.get(key) ?? 0) + this.summaries.filter((s) => keyOf(s['of'], s['listener'], s['kind']) === key).length;
  }
}

const keyOf = (of: unknown, listener: unknown, kind: unknown): string => `${String(of)} / ${String(listener)} / ${String(kind)}`;
const kindOf = (l: Line): string => keyOf(l['msg'], l['listener'], l['reason'] ?? l['limit']);

/** Passes every close to the metrics and counts the UDP ones, so the sender can pace itself. */
class Counting implements ConnectionObserver {
  flows = 0;
  constructor(private readonly metrics: PortplexMetrics) {}
  connectionClosed(r: ConnectionRecord): void {
    if (r.listener === 'junk-udp') this.flows++;
    this.metrics.connectionClosed(r);
  }
}

async function closedCount(metrics: PortplexMetrics, listener: string, outcome: string): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === 'portplex_connections_closed_total');
  return (m?.values ?? []).filter((v) => v.labels['listener'] === listener && v.labels['outcome'] === outcome).reduce((n, v) => n + v.value, 0);
}

/** Waits for the relay to take in what was sent (a UDP socket buffer holds little), or for it to stop making progress. */
async function caughtUp(seen: () => number, sent: number): Promise<void> {
  let last = -1;
  let still = 0;
  while (seen() < sent && still < 50) {
    await new Promise((r) => setImmediate(r));
    if (seen() === last) {
      still++;
    } else {
      last = seen();
      still = 0;
    }
  }
}

async function udpFlood(port: number, seen: () => number): Promise<void> {
  const sockets: UdpSocket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    sockets.push(s);
  }
  const junk = Buffer.from('junk, not any protocol a route knows');
  const batch = 64;
  let sent = 0;
  while (sent < DATAGRAMS) {
    const sends: Promise<void>[] = [];
    for (const s of sockets) for (let i = 0; i < batch && sent < DATAGRAMS; i++, sent++) sends.push(new Promise((r) => s.send(junk, port, '127.0.0.1', () => r())));
    await Promise.all(sends);
    await caughtUp(seen, sent);
  }
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
}

/** Opens `n` connections, `parallel` at a time; each writes junk and waits to be closed. */
async function tcpFlood(port: number, n: number, parallel: number): Promise<void> {
  let started = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.on('error', () => undefined);
      s.on('connect', () => s.write('junk\r\n'));
      s.on('close', () => resolve());
    });
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (started < n) {
        started++;
        await one();
      }
    }),
  );
}

it('a flood of junk datagrams and connections writes a bounded number of lines, and the summaries count what the metrics counted', async () => {
  const dead = await deadPort();
  const dnsB = await udpBackend('dns', false);
  const loaded = compileRulesText(
    `listeners:
  - { name: junk-tcp, bind: "127.0.0.1:0" }
  - { name: capped, bind: "127.0.0.1:0", max_connections: 1 }
  - { name: junk-udp, bind: "127.0.0.1:0", transport: udp }
inspect: { timeout: 60s }
limits: { per_ip: { connections: 0, rate: 0, inspecting: 0 } }
udp: { per_ip: { rate: 1000000, flows: 100000 } }
backends:
  web: { servers: ["127.0.0.1:${dead}"] }
  dns: { transport: udp, servers: ["127.0.0.1:${dnsB.port}"] }
routes:
  - { name: tls, when: { tls: { sni: example.com } }, to: web }
  - { name: dns, when: { protocol: dns }, to: dns }
`,
    'flood.yaml',
  );
  assert.ok(loaded.ok);
  const lines = new LineCounter();
  const metrics = new PortplexMetrics();
  const counting = new Counting(metrics);
  const started = performance.now();
  const px = await startPortplex(loaded.rules, createLogger({ level: 'info', destination: lines.stream }), { observer: counting });
  const [junkTcp, capped] = px.listeners.map((l) => l.address.port);
  let holder: Socket | undefined;
  const dnsC = await udpClient(px.udpListeners[0]!.address.port);
  try {
    // The capped listener's one place is taken by a client that stays silent.
    holder = connect({ port: capped!, host: '127.0.0.1' });
    holder.on('error', () => undefined);
    await once(holder, 'connect');
    while (px.openByListener().get('capped') !== 1) await new Promise((r) => setImmediate(r));
    // A real client's flow lives through the flood; its line is its own, at its end.
    await dnsC.send(readFileSync(new URL('../../../test/fixtures/dns-node20-cares-query-a.bin', import.meta.url)));
    await dnsB.inbox.count(1);
    await Promise.all([udpFlood(px.udpListeners[0]!.address.port, () => counting.flows), tcpFlood(junkTcp!, TCP_JUNK, 32), tcpFlood(capped!, TCP_CAPPED, 16)]);
  } finally {
    holder?.destroy();
    // Closing writes the summaries of the windows still open.
    await px.close();
    await dnsC.close();
    await dnsB.close();
  }
  const minutes = 1 + Math.floor((performance.now() - started) / 60_000);
  const bound = LINES_PER_KIND_AND_MINUTE * minutes;

  const kinds = [
    { key: keyOf('flow closed', 'junk-udp', 'no-route'), counted: await closedCount(metrics, 'junk-udp', 'no-route'), atLeast: DATAGRAMS / 10 },
    { key: keyOf('connection closed', 'junk-tcp', 'no-route'), counted: await closedCount(metrics, 'junk-tcp', 'no-route'), atLeast: TCP_JUNK },
    { key: keyOf('limit reached: connection refused', 'capped', 'listener-max-connections'), counted: px.runtime().limits.refused.get('listener-max-connections') ?? 0, atLeast: TCP_CAPPED },
  ];
  for (const k of kinds) {
    assert.ok(k.counted >= k.atLeast, `${k.key}: the flood arrived (${k.counted} counted)`);
    assert.ok(lines.linesOf(k.key) <= bound, `${k.key}: ${lines.linesOf(k.key)} lines for ${k.counted} refusals, at most ${bound}`);
    assert.equal((lines.full.get(k.key) ?? 0) + lines.suppressed(k.key), k.counted, `${k.key}: every refusal is in a line or a summary's count`);
  }
  for (const s of lines.summaries) assert.equal(s['interval_ms'], 60_000);
  assert.equal(lines.full.get(keyOf('flow closed', 'junk-udp', 'listener-closed')), 1, 'the DNS client\'s flow has its own line');
  // Besides: the DNS flow's and the held client's close lines, and nothing that grows with the flood.
  assert.ok(lines.total <= kinds.length * bound + 10, `${lines.total} lines in all`);
});
